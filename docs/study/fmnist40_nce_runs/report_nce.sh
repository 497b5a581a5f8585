#!/usr/bin/env bash
# Reports of session 25's runs (nce_negatives=other_classes). vit_resnet and convnext_deit: old names
# (fbt = published, tas = branch), from the report worktree of the earlier reports (694e6d8 + its staged
# report changes) with vit_tree.diff applied (the option has to exist for the configs to resolve);
# resnet34_resnet18: today's names, from its run worktree. Each writes results.* into its study folder.
. /work/main/.venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=3
COMMON=(--dataset fashion_mnist --train-subset 5000 --epochs 40 --teacher-epochs 20 --batch-size 64
        --set student_training.optimizer.lr=0.01 --set student_training.validation_freq=4 --output-dir /work/study/fmnist --report-only)
case $1 in
  vit) cd /work/report_tree_nce && python tools/study.py --pairs vit_resnet --seeds 0 1 2 \
         --methods scratch fbt tas kd ofa rsd dist dkd fbt_no_nce=fbt:w_nce=0 fbt_other_classes=fbt:nce_negatives=other_classes "${COMMON[@]}" \
         --title "Fashion-MNIST study, the ViT-teacher pair: InfoNCE without same-class negatives (5,000 training images, 40 epochs, 3 seeds)" \
         --compare fbt_other_classes:fbt --compare fbt_no_nce:fbt_other_classes --compare fbt_other_classes:kd --compare fbt_other_classes:scratch ;;
  deit) cd /work/report_tree_nce && python tools/study.py --pairs convnext_deit --seeds 0 1 2 \
         --methods scratch fbt tas kd ofa rsd dkd dist crd fbt_no_nce=fbt:w_nce=0 fbt_other_classes=fbt:nce_negatives=other_classes \
         --pair-set convnext_deit:student_training.optimizer.lr=0.005 "${COMMON[@]}" \
         --title "Fashion-MNIST study, a ViT student: InfoNCE without same-class negatives (5,000 training images, 40 epochs, 3 seeds)" \
         --compare fbt_other_classes:fbt --compare fbt:fbt_no_nce --compare fbt_other_classes:fbt_no_nce --compare fbt_other_classes:dist ;;
  cnn) STUDY_TREE=/work/study_tree_cnn_nce bash /work/main/docs/study/fmnist40_cnn_runs/continue/run_cnn.sh \
         --ablation tas_other_classes=tas:nce_negatives=other_classes --report-only \
         --compare tas_other_classes:tas --compare tas_no_nce:tas_other_classes --compare tas_other_classes:kd --compare tas_other_classes:ofa ;;
esac
