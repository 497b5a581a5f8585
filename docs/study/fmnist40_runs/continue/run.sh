#!/usr/bin/env bash
# The remaining runs of the 40-epoch Fashion-MNIST study (frozen code at 3116fd3, old names:
# fbt = published TAS, tas = branch). The first 57 runs' records are in
# /work/main/docs/study/fmnist40_interim/results.json; their folders were lost with the machine.
# Two processes run this script; run folders are claimed with lock files, so they share the work.
cd "${STUDY_TREE:-/work/study_tree}" || exit 1  # STUDY_TREE: a patched tree for a later part (vit3: bn_statistics_fix.diff)
. /work/main/.venv/bin/activate
export TF_CPP_MIN_LOG_LEVEL=2
# setsid puts this script in its own scheduler autogroup, where `nice` alone ranks it only against
# itself: lower the whole group, so CI or tests on this machine come first.
echo 19 > /proc/self/autogroup 2>/dev/null || true
# Two processes share 2 cores: one thread pool thread each is 20% more throughput than the default
# pools (434 -> 355 ms per step of convnext_mlp fbt at batch 64, two at once, tools/benchmark.py).
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
# TensorFlow turns its oneDNN CPU kernels on by default only on CPUs with AVX-512 VNNI / BF16 / AMX (the
# Intel machine of the first runs had them on); on the AVX2-only AMD EPYC of the later runs they were off.
# Runs resumed from 2026-11-30 turn them on: the same arithmetic with other rounding, and 14% faster
# steps in this setting (two processes, one thread each; docs/study.md, its last section).
export TF_ENABLE_ONEDNN_OPTS=1
COMMON=(--dataset fashion_mnist --train-subset 5000 --epochs 40 --teacher-epochs 20 --batch-size 64
        --set student_training.optimizer.lr=0.01 --set student_training.validation_freq=4
        --output-dir /work/study/fmnist --title "Fashion-MNIST study: 5,000 training images, 40 epochs, 3 seeds")
ALL=(scratch fbt tas kd ofa rsd dkd dist crd)
ABL=(fbt_no_tf=fbt:w_tf=0 fbt_no_nce=fbt:w_nce=0 fbt_no_ofa=fbt:w_ofa=0)
order=("$@")
for part in "${order[@]}"; do
  case $part in
    mlp_abl) nice -n 19 python tools/study.py --pairs convnext_mlp --seeds 2 --methods "${ABL[@]}" "${COMMON[@]}" ;;
    mixer2)  nice -n 19 python tools/study.py --pairs mixer_resnet --seeds 2 --methods "${ALL[@]}" "${ABL[@]}" "${COMMON[@]}" ;;
    deit)    nice -n 19 python tools/study.py --pairs convnext_deit --seeds 0 1 2 --methods "${ALL[@]}" "${ABL[@]}" \
               --pair-set convnext_deit:student_training.optimizer.lr=0.005 "${COMMON[@]}" ;;
    # the ViT-teacher pair (2026-11-30, after the 108 runs): scratch, KD and the published method first
    vit)     nice -n 19 python tools/study.py --pairs vit_resnet --seeds 0 1 2 --methods scratch fbt kd "${COMMON[@]}" ;;
    # the ViT-teacher pair again (2026-11-30, session 24): why the published formulation trails with a CNN
    # student; InfoNCE off, and the fused model built the other way round (the teacher's stages 1-3)
    vit3)    nice -n 19 python tools/study.py --pairs vit_resnet --seeds 0 1 2 --methods fbt_no_nce=fbt:w_nce=0 \
               fbt_teacher_first=fbt:fusion=teacher_first "${COMMON[@]}" ;;
    vit2)    nice -n 19 python tools/study.py --pairs vit_resnet --seeds 0 1 2 --methods ofa tas "${COMMON[@]}"
             nice -n 19 python tools/study.py --pairs vit_resnet --seeds 0 1 2 --methods rsd dist dkd "${COMMON[@]}" ;;
  esac
done
