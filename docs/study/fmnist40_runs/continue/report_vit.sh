#!/usr/bin/env bash
# The ViT-teacher pair's report (old names: fbt = published, tas = branch), from the report worktree.
cd /work/report_tree && . /work/main/.venv/bin/activate && export TF_CPP_MIN_LOG_LEVEL=3
python tools/study.py --pairs vit_resnet --methods scratch fbt tas kd ofa rsd dist dkd --seeds 0 1 2 \
  --dataset fashion_mnist --train-subset 5000 --epochs 40 --teacher-epochs 20 --batch-size 64 \
  --set student_training.optimizer.lr=0.01 --set student_training.validation_freq=4 --output-dir /work/study/vitreport \
  --title "Fashion-MNIST study, the ViT-teacher pair: 5,000 training images, 40 epochs, 3 seeds" --report-only \
  --compare fbt:scratch --compare fbt:tas --compare fbt:kd --compare fbt:ofa --compare tas:kd --compare tas:ofa --compare kd:scratch --compare fbt:rsd --compare fbt:dist --compare fbt:dkd
