#!/usr/bin/env bash
# The ViT-teacher pair with the follow-up variants of session 24 (old names: fbt = published, tas = branch):
# InfoNCE off, and the fused model built from the teacher's stages 1-3 (run with bn_statistics_fix.diff).
cd /work/report_tree && . /work/main/.venv/bin/activate && export TF_CPP_MIN_LOG_LEVEL=3
python tools/study.py --pairs vit_resnet --methods scratch fbt tas kd ofa rsd dist dkd \
  fbt_no_nce=fbt:w_nce=0 fbt_teacher_first=fbt:fusion=teacher_first --seeds 0 1 2 \
  --dataset fashion_mnist --train-subset 5000 --epochs 40 --teacher-epochs 20 --batch-size 64 \
  --set student_training.optimizer.lr=0.01 --set student_training.validation_freq=4 --output-dir /work/study/fmnist \
  --title "Fashion-MNIST study, the ViT-teacher pair with two follow-up variants: 5,000 training images, 40 epochs, 3 seeds" --report-only \
  --compare fbt:scratch --compare fbt_no_nce:fbt --compare fbt_teacher_first:fbt --compare fbt_no_nce:kd \
  --compare fbt_teacher_first:kd --compare fbt_no_nce:scratch --compare fbt_teacher_first:scratch --compare fbt_teacher_first:fbt_no_nce --compare kd:scratch
