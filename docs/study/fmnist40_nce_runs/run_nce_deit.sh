#!/usr/bin/env bash
# Session 25, second part: the same variant on a token student, convnext_deit (where the published
# formulation led by the widest margin), on vit_resnet's frozen worktree (3116fd3 + the two diffs; old
# names), with the study's per-student recipe for DeiT (learning rate 0.005). Two processes share the runs.
. /work/main/.venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=1
echo 19 > /proc/self/autogroup 2>/dev/null || true
cd /work/study_tree_vit_nce && nice -n 19 python tools/study.py --pairs convnext_deit --seeds 0 1 2 \
  --methods fbt_other_classes=fbt:nce_negatives=other_classes --pair-set convnext_deit:student_training.optimizer.lr=0.005 \
  --dataset fashion_mnist --train-subset 5000 --epochs 40 --teacher-epochs 20 --batch-size 64 \
  --set student_training.optimizer.lr=0.01 --set student_training.validation_freq=4 --output-dir /work/study/fmnist \
  --title "Fashion-MNIST study: 5,000 training images, 40 epochs, 3 seeds"
