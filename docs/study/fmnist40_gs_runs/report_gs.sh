#!/usr/bin/env bash
# Reports of session 26's runs (nce_grad_scale 0 and auto; `report_gs.sh vit|deit|mixer|mlp|cnn`), each written as results.* into its study folder
# and copied to docs/study/fmnist40_gs/PAIR. vit_resnet and convnext_deit: old names (fbt = published,
# tas = branch), from a report worktree of the earlier reports (694e6d8 + session 25's report changes)
# with patch_gs.py applied (the option has to exist for the configs to resolve); resnet34_resnet18:
# today's names, from its run worktree.
. /work/main/.venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=3
DOCS=/work/main/docs/study/fmnist40_gs
COMMON=(--dataset fashion_mnist --train-subset 5000 --epochs 40 --teacher-epochs 20 --batch-size 64
        --set student_training.optimizer.lr=0.01 --set student_training.validation_freq=4 --output-dir /work/study/fmnist --report-only)
keep() { mkdir -p "$DOCS/$1" && cp "$2"/results.json "$2"/results.md "$2"/results.png "$DOCS/$1"/; }
case $1 in
  vit) cd /work/report_tree_gs && python tools/study.py --pairs vit_resnet --seeds 0 1 2 \
         --methods scratch fbt tas kd ofa rsd dist dkd fbt_no_nce=fbt:w_nce=0 fbt_nce_gs0=fbt:nce_grad_scale=0 fbt_nce_auto=fbt:nce_grad_scale=auto "${COMMON[@]}" \
         --title "Fashion-MNIST study, the ViT-teacher pair: InfoNCE's pull into the student (5,000 training images, 40 epochs, 3 seeds)" \
         --compare fbt_nce_gs0:fbt --compare fbt_nce_auto:fbt --compare fbt_no_nce:fbt_nce_gs0 --compare fbt_nce_gs0:kd --compare fbt_nce_auto:kd \
       && keep vit_resnet /work/study/fmnist ;;
  deit) cd /work/report_tree_gs && python tools/study.py --pairs convnext_deit --seeds 0 1 2 \
         --methods scratch fbt tas kd ofa rsd dkd dist crd fbt_no_nce=fbt:w_nce=0 fbt_nce_auto=fbt:nce_grad_scale=auto fbt_nce_gs0=fbt:nce_grad_scale=0 \
         --pair-set convnext_deit:student_training.optimizer.lr=0.005 "${COMMON[@]}" \
         --title "Fashion-MNIST study, a ViT student: InfoNCE's pull into the student (5,000 training images, 40 epochs, 3 seeds)" \
         --compare fbt_nce_auto:fbt --compare fbt_nce_auto:fbt_no_nce --compare fbt_nce_auto:dist \
         --compare fbt_nce_gs0:fbt --compare fbt_nce_gs0:fbt_no_nce --compare fbt_nce_gs0:scratch \
       && keep convnext_deit /work/study/fmnist ;;
  mixer) cd /work/report_tree_gs && python tools/study.py --pairs mixer_resnet --seeds 0 1 2 \
         --methods fbt_rerun=fbt fbt_nce_gs0=fbt:nce_grad_scale=0 "${COMMON[@]}" \
         --title "Fashion-MNIST study, an MLP teacher: InfoNCE's pull into the student (5,000 training images, 40 epochs, 3 seeds)" \
         --compare fbt_nce_gs0:fbt_rerun \
       && keep mixer_resnet /work/study/fmnist ;;
  mlp) cd /work/report_tree_gs && python tools/study.py --pairs convnext_mlp --seeds 0 1 2 \
         --methods fbt_rerun=fbt fbt_nce_gs0=fbt:nce_grad_scale=0 "${COMMON[@]}" \
         --title "Fashion-MNIST study, an MLP student: InfoNCE's pull into the student (5,000 training images, 40 epochs, 3 seeds)" \
         --compare fbt_nce_gs0:fbt_rerun \
       && keep convnext_mlp /work/study/fmnist ;;
  cnn) STUDY_TREE=/work/study_tree_cnn_gs bash /work/main/docs/study/fmnist40_cnn_runs/continue/run_cnn.sh \
         --ablation tas_nce_gs0=tas:nce_grad_scale=0 --ablation tas_nce_auto=tas:nce_grad_scale=auto --report-only \
         --compare tas_nce_gs0:tas --compare tas_nce_auto:tas --compare tas_no_nce:tas_nce_gs0 --compare tas_nce_gs0:ofa \
       && keep resnet34_resnet18 /work/study/fmnist_cnn ;;
esac
