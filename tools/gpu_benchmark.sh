#!/usr/bin/env bash
# The GPU measurement of the CIFAR-100 recipe's step: convnext_mlp (ConvNeXt-T -> ResMLP-S12) at 224x224,
# TAS, XLA off / on x float32 / mixed precision, plus KD for reference. Writes JSON files to $OUT (default
# ./gpu_bench) and prints the tables; one run fits a 15-minute GPU slot.
#   bash tools/gpu_benchmark.sh            # batch 128 (the recipe's), 20 timed steps per part
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_bench}
BATCH=${BATCH:-128}
STEPS=${STEPS:-20}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
for precision in float32 mixed_bfloat16 mixed_float16; do
    python tools/benchmark.py --pair convnext_mlp --method tas --batch-size "$BATCH" --steps "$STEPS" --warmup 3 \
        --xla both --set precision=$precision --json "$OUT/tas_$precision.json" 2>&1 | grep -v -E "^(I|W|E)0000" | tail -12
done
python tools/benchmark.py --pair convnext_mlp --method kd --batch-size "$BATCH" --steps "$STEPS" --warmup 3 \
    --xla on --set precision=mixed_bfloat16 --json "$OUT/kd_mixed_bfloat16.json" 2>&1 | grep -v -E "^(I|W|E)0000" | tail -8
