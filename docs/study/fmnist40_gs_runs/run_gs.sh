#!/usr/bin/env bash
# Session 26 (2026-12-01): is it InfoNCE's pull into the student that costs the CNN students? The published
# formulation with nce_grad_scale=0 (InfoNCE trains the projections and the fused model, not the student)
# and "auto" (calibrated once: the student's two InfoNCE terms pull at most as hard as its CE + OFA terms),
# 3 seeds, on the frozen worktrees of the earlier runs with the option patched in, so that each run differs
# from the published run of the same seed in the option alone:
#   vit_resnet, convnext_deit: 3116fd3 + vit_tree.diff (old names: fbt = published; the BN fix and
#     nce_negatives of session 25 included); resnet34_resnet18: b77eeeb + cnn_tree.diff (today's names).
# The diffs are the whole change against those commits (patch_gs.py writes the nce_grad_scale part).
# Two processes run this script and share the runs through the study's locks.
. /work/main/.venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=1
echo 19 > /proc/self/autogroup 2>/dev/null || true
COMMON=(--dataset fashion_mnist --train-subset 5000 --epochs 40 --teacher-epochs 20 --batch-size 64
        --set student_training.optimizer.lr=0.01 --set student_training.validation_freq=4 --output-dir /work/study/fmnist
        --title "Fashion-MNIST study: 5,000 training images, 40 epochs, 3 seeds")
# Part 2: the third CNN-student pair, mixer_resnet (MLP teacher). Its published runs of seeds 0-1 ran on a
# machine that is gone, with a teacher trained there, so the published formulation runs again here
# (fbt_rerun), from the same frozen worktree, beside nce_grad_scale=0. Called as `run_gs.sh mixer`.
if [ "$1" = mixer ]; then
  cd /work/study_tree_vit_gs && exec nice -n 19 python tools/study.py --pairs mixer_resnet --seeds 0 1 2 \
    --methods fbt_rerun=fbt fbt_nce_gs0=fbt:nce_grad_scale=0 "${COMMON[@]}"
fi
# Part 3 (session 27): the ViT student with nce_grad_scale=0, the cell part 1 left out. Called as `run_gs.sh deit`.
if [ "$1" = deit ]; then
  cd /work/study_tree_vit_gs && exec nice -n 19 python tools/study.py --pairs convnext_deit --seeds 0 1 2 \
    --methods fbt_nce_gs0=fbt:nce_grad_scale=0 --pair-set convnext_deit:student_training.optimizer.lr=0.005 "${COMMON[@]}"
fi
# Part 4 (session 27): the MLP student. convnext_mlp's published runs ran on the first machine (lost, with
# its teacher), so the published formulation runs again here (fbt_rerun) beside nce_grad_scale=0.
# Called as `run_gs.sh mlp`.
if [ "$1" = mlp ]; then
  cd /work/study_tree_vit_gs && exec nice -n 19 python tools/study.py --pairs convnext_mlp --seeds 0 1 2 \
    --methods fbt_rerun=fbt fbt_nce_gs0=fbt:nce_grad_scale=0 "${COMMON[@]}"
fi
(cd /work/study_tree_vit_gs && nice -n 19 python tools/study.py --pairs vit_resnet --seeds 0 1 2 \
  --methods fbt_nce_gs0=fbt:nce_grad_scale=0 fbt_nce_auto=fbt:nce_grad_scale=auto "${COMMON[@]}")
(cd /work/study_tree_vit_gs && nice -n 19 python tools/study.py --pairs convnext_deit --seeds 0 1 2 \
  --methods fbt_nce_auto=fbt:nce_grad_scale=auto --pair-set convnext_deit:student_training.optimizer.lr=0.005 "${COMMON[@]}")
STUDY_TREE=/work/study_tree_cnn_gs bash /work/main/docs/study/fmnist40_cnn_runs/continue/run_cnn.sh \
  --ablation tas_nce_gs0=tas:nce_grad_scale=0 --ablation tas_nce_auto=tas:nce_grad_scale=auto
