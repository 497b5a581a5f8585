#!/usr/bin/env bash
# A CNN -> CNN pair (2026-11-30, session 24): ResNet (2,2,2,2 blocks, widths 32-256) -> ResNet micro on
# the study's Fashion-MNIST setting, with today's code (a worktree frozen at b77eeeb, today's names).
# Two processes run this script and share the runs through the study's lock files, as run.sh.
cd "${STUDY_TREE:-/work/study_tree_cnn}" || exit 1
. /work/main/.venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=1
echo 19 > /proc/self/autogroup 2>/dev/null || true
nice -n 19 python tools/study.py --pairs resnet34_resnet18 --methods scratch kd ofa rsd tas tas_branch \
  --ablation tas_no_nce=tas:w_nce=0 --seeds 0 1 2 \
  --dataset fashion_mnist --train-subset 5000 --teacher-subset 20000 --epochs 40 --teacher-epochs 20 --batch-size 64 \
  --set student_training.optimizer.lr=0.01 --set student_training.validation_freq=4 \
  --set "teacher.overrides.depths=[2, 2, 2, 2]" --set "teacher.overrides.widths=[32, 64, 128, 256]" --set teacher.overrides.stem_width=32 \
  --output-dir /work/study/fmnist_cnn \
  --title "Fashion-MNIST study, a CNN -> CNN pair: 5,000 training images, 40 epochs, 3 seeds" "$@"
