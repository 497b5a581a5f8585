#!/usr/bin/env bash
# Keras torch backend, bfloat16: the compiled step timed after the eager one in one process (run.sh order) and alone, twice.
cd "$(dirname "$0")/../../.."; export TF_CPP_MIN_LOG_LEVEL=3
OURS=(tools/benchmark.py --pair convnext_mlp --set teacher.name=convnext_atto --set student.overrides.patch_size=4
      --image-size 32 --batch-size 32 --method kd --steps 8 --warmup 2 --parts distill_step --set precision=mixed_bfloat16)
O=docs/bench/2026-12-06-amx-torch215/order_
for r in 1 2; do
  echo "== round $r: --xla off on"; KERAS_BACKEND=torch ${PYTHON:-python} "${OURS[@]}" --xla off on --json ${O}off_on_run$r.json 2>&1 | grep -A2 "^repl"
  echo "== round $r: --xla on"; KERAS_BACKEND=torch ${PYTHON:-python} "${OURS[@]}" --xla on --json ${O}on_run$r.json 2>&1 | grep -A1 "^repl"
done
