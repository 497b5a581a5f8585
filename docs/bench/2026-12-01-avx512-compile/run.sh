#!/usr/bin/env bash
# The paper-size KD step on a CPU, ours (TensorFlow, fit) beside PyTorch eager and torch.compile, alternating,
# RUNS times (default 2), in each of PRECISIONS (default "fp32 bf16"). Run 2026-12-01 on the 2-CPU AMD EPYC
# with AVX-512, idle, with the defaults; the same day on the AVX2-only EPYC with RUNS=3 PRECISIONS=fp32
# (no bfloat16 arithmetic in hardware there; docs/bench/2026-12-01-avx2-compile). 2026-12-02 on the AMX
# Xeon (docs/bench/2026-12-02-amx): with the defaults, then with XLA="off elementwise" (our step's
# --xla modes, timed one after the other in one process) PARTS="student_step distill_step"
# PRECISIONS="bf16 fp32" PREFIX=elementwise_ (the JSON files' prefix); 2026-12-02 also on an AVX2-only EPYC,
# the same with PRECISIONS=fp32 (docs/bench/2026-12-02-avx2-elementwise); 2026-12-03 on a Zen 5 EPYC with
# XLA="off elementwise" PARTS=distill_step, PREFIX elem_ / reductions_ for its bf16-only runs
# (docs/bench/2026-12-03-zen5), and later that day with XLA=off PARTS=distill_step after GELU became XLA loops
# (docs/bench/2026-12-03-xla-gelu). From a checkout with torch
# installed: OUT=folder bash docs/bench/2026-12-01-avx512-compile/run.sh
cd "$(dirname "$0")/../../.." && export TF_CPP_MIN_LOG_LEVEL=3
O=${OUT:-.}/${PREFIX:-}
TF=(python tools/benchmark.py --pair convnext_mlp --set teacher.name=convnext_atto --set student.overrides.patch_size=4
    --image-size 32 --batch-size 32 --method kd --xla ${XLA:-off} --steps 8 --warmup 2 --parts ${PARTS:-teacher_forward student_step distill_step})
TORCH=(python tools/torch_reference.py --size paper --batch-size 32 --steps 10 --warmup 2)
declare -A TF_PRECISION=([fp32]="" [bf16]="--set precision=mixed_bfloat16")
declare -A TORCH_PRECISION=([fp32]="" [bf16]="--precision bf16")
for r in $(seq 1 "${RUNS:-2}"); do
  for p in ${PRECISIONS:-fp32 bf16}; do
    "${TF[@]}" ${TF_PRECISION[$p]} --json ${O}tf_${p}_run$r.json 2>&1 | tail -7
    "${TORCH[@]}" ${TORCH_PRECISION[$p]} --json ${O}torch_eager_${p}_run$r.json 2>&1 | tail -9
    "${TORCH[@]}" ${TORCH_PRECISION[$p]} --compile --json ${O}torch_compile_${p}_run$r.json 2>&1 | tail -9
  done
done
