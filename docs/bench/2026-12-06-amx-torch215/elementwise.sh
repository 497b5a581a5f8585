#!/usr/bin/env bash
# TensorFlow, bfloat16: XLA off and "elementwise" in one process, beside PyTorch eager, three times.
cd "$(dirname "$0")/../../.."; export TF_CPP_MIN_LOG_LEVEL=3
OURS=(tools/benchmark.py --pair convnext_mlp --set teacher.name=convnext_atto --set student.overrides.patch_size=4
      --image-size 32 --batch-size 32 --method kd --steps 8 --warmup 2 --parts distill_step --set precision=mixed_bfloat16)
for r in 1 2 3; do
  ${PYTHON:-python} "${OURS[@]}" --xla off elementwise --json docs/bench/2026-12-06-amx-torch215/elementwise_tf_bf16_run$r.json 2>&1 | grep -A2 "^repl"
  ${PYTHON:-python} tools/torch_reference.py --size paper --batch-size 32 --steps 10 --warmup 2 --layouts nchw --parts kd_step --precision bf16 --json docs/bench/2026-12-06-amx-torch215/elementwise_torch_eager_bf16_run$r.json 2>&1 | grep kd_step
done
