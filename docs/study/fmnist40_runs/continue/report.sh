#!/usr/bin/env bash
# The study's report (old names, from the worktree at 694e6d8 with the --include-records commits picked):
# the runs finished here plus the first machine's records. The first machine's own report comes last, so
# its 57 records (which win over the interim's copies of them) carry the machine they ran on.
cd /work/report_tree && . /work/main/.venv/bin/activate && export TF_CPP_MIN_LOG_LEVEL=3
python tools/study.py --pairs convnext_mlp mixer_resnet convnext_deit --methods scratch fbt tas kd ofa rsd dkd dist crd \
  --ablation fbt_no_tf=fbt:w_tf=0 --ablation fbt_no_nce=fbt:w_nce=0 --ablation fbt_no_ofa=fbt:w_ofa=0 --seeds 0 1 2 \
  --dataset fashion_mnist --train-subset 5000 --epochs 40 --teacher-epochs 20 --batch-size 64 \
  --set student_training.optimizer.lr=0.01 --pair-set convnext_deit:student_training.optimizer.lr=0.005 \
  --set student_training.validation_freq=4 --output-dir /work/study/fmnist \
  --title "Fashion-MNIST study: 5,000 training images, 40 epochs, 3 seeds" --report-only \
  --include-records /work/main/docs/study/fmnist40_interim/results.json \
  --include-records /work/main/docs/study/fmnist40_runs/first_machine_records.json \
  --compare fbt:tas --compare fbt:ofa --compare tas:ofa --compare fbt:kd --compare tas:kd --compare kd:scratch \
  --compare fbt:scratch --compare fbt:rsd --compare fbt:dist --compare fbt:dkd
