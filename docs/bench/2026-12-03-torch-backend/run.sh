#!/usr/bin/env bash
# The paper-size KD step on a CPU through fit(): ours on TensorFlow (XLA off), ours on Keras' torch backend eager and
# compiled (tools/benchmark.py --xla off on: torch.compile of the step's forward + backward and of the optimizer's
# update, one after the other in one process), beside PyTorch eager and torch.compile (tools/torch_reference.py),
# alternating, RUNS times (default 3) in each of PRECISIONS (default "bf16 fp32"). Run 2026-12-03 on the 2-CPU
# Zen 5 EPYC, idle. From a checkout with torch installed: OUT=folder bash docs/bench/2026-12-03-torch-backend/run.sh
# (KERAS_TORCH=0 leaves out the torch backend's runs.)
cd "$(dirname "$0")/../../.." && export TF_CPP_MIN_LOG_LEVEL=3
O=${OUT:-.}/${PREFIX:-}
OURS=(python tools/benchmark.py --pair convnext_mlp --set teacher.name=convnext_atto --set student.overrides.patch_size=4
      --image-size 32 --batch-size 32 --method kd --steps 8 --warmup 2 --parts distill_step)
TORCH=(python tools/torch_reference.py --size paper --batch-size 32 --steps 10 --warmup 2 --layouts nchw --parts kd_step)
declare -A OURS_PRECISION=([fp32]="" [bf16]="--set precision=mixed_bfloat16")
declare -A TORCH_PRECISION=([fp32]="" [bf16]="--precision bf16")
for r in $(seq 1 "${RUNS:-3}"); do
  for p in ${PRECISIONS:-bf16 fp32}; do
    KERAS_BACKEND=tensorflow "${OURS[@]}" ${OURS_PRECISION[$p]} --xla off --json ${O}tf_${p}_run$r.json 2>&1 | grep -A3 "^repl"
    [ "${KERAS_TORCH:-1}" = 1 ] && KERAS_BACKEND=torch "${OURS[@]}" ${OURS_PRECISION[$p]} --xla off on --json ${O}keras_torch_${p}_run$r.json 2>&1 | grep -A3 "^repl"
    "${TORCH[@]}" ${TORCH_PRECISION[$p]} --json ${O}torch_eager_${p}_run$r.json 2>&1 | tail -3
    "${TORCH[@]}" ${TORCH_PRECISION[$p]} --compile --json ${O}torch_compile_${p}_run$r.json 2>&1 | tail -3
  done
done
