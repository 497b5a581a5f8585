#!/usr/bin/env bash
# PyTorch 2.13 against 2.15 on one machine, in one sitting: the paper-size KD step in bfloat16 on Keras' torch
# backend, compiled (tools/benchmark.py --xla on), and PyTorch's own step through torch.compile
# (tools/torch_reference.py --compile), each version's venv in turn, RUNS times (default 2).
# VENVS="path/to/venv213 path/to/venv215" OUT=folder bash docs/bench/2026-12-06-amx-torch215/versions.sh
cd "$(dirname "$0")/../../.." && export TF_CPP_MIN_LOG_LEVEL=3
O=${OUT:-.}/${PREFIX:-}
OURS=(tools/benchmark.py --pair convnext_mlp --set teacher.name=convnext_atto --set student.overrides.patch_size=4
      --image-size 32 --batch-size 32 --method kd --steps 8 --warmup 2 --parts distill_step --set precision=mixed_bfloat16)
TORCH=(tools/torch_reference.py --size paper --batch-size 32 --steps 10 --warmup 2 --layouts nchw --parts kd_step --precision bf16)
for r in $(seq 1 "${RUNS:-2}"); do
  for venv in $VENVS; do
    v=$("$venv/bin/python" -c "import torch; print(torch.__version__.split('+')[0])")
    echo "== round $r, torch $v"
    KERAS_BACKEND=torch "$venv/bin/python" "${OURS[@]}" --xla on --json ${O}keras_torch_compiled_${v}_run$r.json 2>&1 | grep -A1 "^repl"
    "$venv/bin/python" "${TORCH[@]}" --compile --json ${O}torch_compile_${v}_run$r.json 2>&1 | grep kd_step
  done
done
