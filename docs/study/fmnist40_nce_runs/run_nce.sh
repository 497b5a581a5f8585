#!/usr/bin/env bash
# Session 25 (2026-12-01): does InfoNCE cost the CNN students because the batch's other images of the
# query's class are its negatives (10 classes, batch 64: ~6 per query)? The published formulation with
# nce_negatives=other_classes, 3 seeds, on the two CNN-student pairs where `tas` trailed, each on the
# frozen worktree of its earlier runs with the option patched in (vit_resnet: 3116fd3 +
# ../fmnist40_runs/continue/bn_statistics_fix.diff + vit_tree.diff, old names: fbt = published;
# resnet34_resnet18: b77eeeb + cnn_tree.diff), so that the runs differ from the published runs of the same
# seed in the option alone. Two processes run this script and share the runs through the study's locks.
# The patches hold the option's first form (the query batch's own classes; keys from other replicas kept
# as negatives), which on one replica, as here, leaves out exactly the keys today's form does (c6f3302).
. /work/main/.venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=1
echo 19 > /proc/self/autogroup 2>/dev/null || true
(cd /work/study_tree_vit_nce && nice -n 19 python tools/study.py --pairs vit_resnet --seeds 0 1 2 \
  --methods fbt_other_classes=fbt:nce_negatives=other_classes \
  --dataset fashion_mnist --train-subset 5000 --epochs 40 --teacher-epochs 20 --batch-size 64 \
  --set student_training.optimizer.lr=0.01 --set student_training.validation_freq=4 --output-dir /work/study/fmnist \
  --title "Fashion-MNIST study: 5,000 training images, 40 epochs, 3 seeds")
STUDY_TREE=/work/study_tree_cnn_nce bash /work/main/docs/study/fmnist40_cnn_runs/continue/run_cnn.sh \
  --ablation tas_other_classes=tas:nce_negatives=other_classes
