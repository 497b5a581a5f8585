#!/usr/bin/env bash
# The paper-size KD step on a CPU, ours (TensorFlow, fit) beside PyTorch eager and torch.compile, alternating,
# twice, in float32 then bfloat16 (2026-12-01, 2-CPU AMD EPYC with AVX-512, idle). From a checkout with
# torch installed: OUT=folder bash docs/bench/2026-12-01-avx512-compile/run.sh
cd "$(dirname "$0")/../../.." && export TF_CPP_MIN_LOG_LEVEL=3
O=${OUT:-.}
TF=(python tools/benchmark.py --pair convnext_mlp --set teacher.name=convnext_atto --set student.overrides.patch_size=4
    --image-size 32 --batch-size 32 --method kd --xla off --steps 8 --warmup 2 --parts teacher_forward student_step distill_step)
TORCH=(python tools/torch_reference.py --size paper --batch-size 32 --steps 10 --warmup 2)
for r in 1 2; do
  "${TF[@]}" --json $O/tf_fp32_run$r.json 2>&1 | tail -7
  "${TORCH[@]}" --json $O/torch_eager_fp32_run$r.json 2>&1 | tail -9
  "${TORCH[@]}" --compile --json $O/torch_compile_fp32_run$r.json 2>&1 | tail -9
  "${TF[@]}" --set precision=mixed_bfloat16 --json $O/tf_bf16_run$r.json 2>&1 | tail -7
  "${TORCH[@]}" --precision bf16 --json $O/torch_eager_bf16_run$r.json 2>&1 | tail -9
  "${TORCH[@]}" --precision bf16 --compile --json $O/torch_compile_bf16_run$r.json 2>&1 | tail -9
done
