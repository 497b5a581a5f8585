#!/usr/bin/env bash
# The GPU measurement of issue 17, side by side in one run on one card: tas_keras on JAX (the GPU machines
# we reach have no TensorFlow; Keras alone is enough) against PyTorch + timm, eager and torch.compile, on
# convnext_mlp (ConvNeXt-T -> ResMLP-S12) at 224x224, batch 128, bf16:
#   kd            our KD step (fit-style), teacher forward, student step; the KD step traced (jax.profiler):
#                 device time by kernel kind and the share of the step the GPU is busy
#   peak          the card's bf16 matmul rate (8192^3), the ceiling for achieved TFLOP/s
#   timm_eager / timm_compile   tools/timm_reference.py: the same KD step in PyTorch + timm (the compiled
#                 one's kernels profiled, to set beside our trace)
#   kd_shifted    the KD step (and the teacher forward) with depthwise convolutions as a sum of shifted views
#                 (--depthwise shifted: one fused XLA loop, no cuDNN layout transposes; a lever to try), traced
# The parts below take the depthwise convolutions of the faster of kd and kd_shifted:
#   kd_lhs        the KD step with XLA's latency-hiding scheduler on (a lever to try)
#   kd_spe4       the KD step with 4 steps per compiled call (fewer host round trips; a lever to try)
#   tas           the published TAS formulation (fused assistant), distill step only, traced (its step
#                 measured faster than KD's in the first H200 run: the traces set side by side tell why)
#   keras_kd      the same KD step through Keras' own keras.distillation.Distiller (same models, fit())
#   tas_branch    our branch assistant (tas_branch), distill step only
#   kd_callbacks  the KD step through fit() with a training run's callbacks and progress log (beside kd's
#                 distill step: what the run's per-step hooks cost on the GPU)
#   kd_torch      the KD step on Keras' torch backend (eager; README: a correctness path), for the record
# Parts that no longer fit in BUDGET seconds are skipped (and say so). Everything lands in $OUT (default
# ./gpu_bench), in 8 files, the most a lent GPU machine sends back: run.log, results.json (every part's JSON),
# kd / kd_shifted / tas.xplane.pb.gz (the raw traces; python tools/trace_summary.py kd.xplane.pb.gz --steps 3
# summarises one again anywhere JAX is installed) and kd / kd_shifted / tas.hlo.txt.gz (each traced step's
# optimized HLO, which names the layers behind each kernel: trace_summary.py --hlo); last, each traced KD
# step's top kernels with their layers and its device time by kind beside torch.compile's kernels
# (trace_summary.py --compare), and the tas step's beside the KD step's of the same depthwise form.
#   bash tools/gpu_benchmark.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_bench}
BATCH=${BATCH:-128}
STEPS=${STEPS:-20}
BUDGET=${BUDGET:-540}
PYTHON=${PYTHON:-python3}
PEAK_SIZE=${PEAK_SIZE:-8192}
PAIR_ARGS=${PAIR_ARGS:-}  # e.g. "--profile small" with TIMM_ARGS="--image-size 32" for a quick CPU rehearsal
TIMM_ARGS=${TIMM_ARGS:-}
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
mkdir -p "$OUT"
WORK=$(mktemp -d)
start=$SECONDS
exec > >(tee "$OUT/run.log") 2>&1

quiet() {  # the log without absl's I/W/E0000 lines
    grep -v -E "^(I|W|E)0000|^WARNING: All log"
}

part() {  # part NAME SECONDS_NEEDED COMMAND...: runs COMMAND when it still fits in BUDGET
    local name=$1 need=$2
    shift 2
    local left=$((BUDGET - (SECONDS - start)))
    if ((left < need)); then
        echo "== $name: skipped ($left s left, needs about $need)"
        return
    fi
    echo "== $name (at $((SECONDS - start)) s)"
    timeout "$left" "$@" 2>&1 | quiet
    echo "== $name: exit ${PIPESTATUS[0]} after $((SECONDS - start)) s"
}

dump_hlo() {  # XLA_FLAGS that also dump the compiled train steps' optimized HLO of part $1 (kernels -> layers)
    echo "${XLA_FLAGS:-} --xla_dump_to=$WORK/hlo_$1 --xla_dump_hlo_module_re=.*train_step.*"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PYTHON -c "import jax, keras; print('jax', jax.__version__, 'keras', keras.__version__, jax.devices())"
BENCH=($PYTHON tools/benchmark.py --pair convnext_mlp $PAIR_ARGS --batch-size "$BATCH" --steps "$STEPS" --warmup 3 --set precision=mixed_bfloat16)
TIMM=($PYTHON tools/timm_reference.py --batch-size "$BATCH" --steps "$STEPS" --classes 10 $TIMM_ARGS)
XLA_FLAGS=$(dump_hlo kd) part kd 150 "${BENCH[@]}" --method kd --parts teacher_forward student_step distill_step --trace "$WORK/trace_kd" --json "$WORK/kd.json"
part peak 30 $PYTHON -c "from tas_keras.experiments.timing import matmul_peak_gflops as p; import json; \
json.dump({'size': $PEAK_SIZE, 'dtype': 'bfloat16', 'gflops': p($PEAK_SIZE, 'bfloat16')}, open('$WORK/peak.json', 'w')); print(open('$WORK/peak.json').read())"
part timm_eager 40 "${TIMM[@]}" --json "$WORK/timm_eager.json"
part timm_compile 150 "${TIMM[@]}" --compile --profile-steps 3 --json "$WORK/timm_compile.json"
XLA_FLAGS=$(dump_hlo kd_shifted) part kd_shifted 90 "${BENCH[@]}" --method kd --depthwise shifted --parts teacher_forward distill_step --trace "$WORK/trace_kd_shifted" \
    --json "$WORK/kd_shifted.json"
# the levers below build on the faster of the two KD steps above
DEPTHWISE=$($PYTHON - "$WORK" <<'EOF'
import json, pathlib, sys
def step(name):
    try:
        return json.loads((pathlib.Path(sys.argv[1]) / f"{name}.json").read_text())["runs"][0]["distill_step"]["median_s"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return float("inf")
print("shifted" if step("kd_shifted") < step("kd") else "conv")
EOF
)
echo "== depthwise convolutions from here on: $DEPTHWISE (the faster KD step of kd and kd_shifted)"
BEST=("${BENCH[@]}" --depthwise "$DEPTHWISE")
XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_enable_latency_hiding_scheduler=true" \
    part kd_lhs 80 "${BEST[@]}" --method kd --parts distill_step --json "$WORK/kd_lhs.json"
part kd_spe4 80 "${BEST[@]}" --method kd --parts distill_step --steps-per-execution 4 --json "$WORK/kd_spe4.json"
XLA_FLAGS=$(dump_hlo tas) part tas 80 "${BEST[@]}" --method tas --parts distill_step --trace "$WORK/trace_tas" --json "$WORK/tas.json"
part keras_kd 70 "${BEST[@]}" --method kd --parts keras_distiller --json "$WORK/keras_kd.json"
part tas_branch 80 "${BEST[@]}" --method tas_branch --parts distill_step --json "$WORK/tas_branch.json"
part kd_callbacks 70 "${BEST[@]}" --method kd --parts run_callbacks --json "$WORK/kd_callbacks.json"
KERAS_BACKEND=torch part kd_torch 60 "${BENCH[@]}" --method kd --parts distill_step --json "$WORK/kd_torch.json"

$PYTHON - "$WORK" "$OUT" <<'EOF'
import gzip, json, pathlib, sys
work, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
results = {p.stem: json.loads(p.read_text()) for p in sorted(work.glob("*.json"))}
(out / "results.json").write_text(json.dumps(results, indent=1))
for folder in sorted(work.glob("trace_*")):  # each traced part's raw trace, gzipped: kd.xplane.pb.gz, ...
    traces = sorted(folder.glob("**/*.xplane.pb"))
    if traces:
        (out / f"{folder.name[len('trace_'):]}.xplane.pb.gz").write_bytes(gzip.compress(traces[-1].read_bytes()))
for folder in sorted(work.glob("hlo_*")):  # each traced part's optimized train step (the largest: the distill step), gzipped
    dumps = sorted(folder.glob("*jit_train_step*after_optimizations.txt"), key=lambda p: p.stat().st_size)
    if dumps:
        (out / f"{folder.name[len('hlo_'):]}.hlo.txt.gz").write_bytes(gzip.compress(dumps[-1].read_bytes()))
print("parts with results:", ", ".join(results) or "none")
EOF
for part in kd kd_shifted; do  # where the gap to torch.compile lies, by kind
    if [[ -f "$OUT/$part.xplane.pb.gz" && -f "$WORK/timm_compile.json" ]]; then
        echo "== $part, by kind beside torch.compile"
        hlo=()
        [[ -f "$OUT/$part.hlo.txt.gz" ]] && hlo=(--hlo "$OUT/$part.hlo.txt.gz")
        $PYTHON tools/trace_summary.py "$OUT/$part.xplane.pb.gz" --steps 3 --top 15 ${hlo[@]+"${hlo[@]}"} --compare "$WORK/timm_compile.json" 2>&1 \
            | quiet
    fi
done
kd_like=kd
[[ $DEPTHWISE == shifted ]] && kd_like=kd_shifted
if [[ -f "$OUT/tas.xplane.pb.gz" && -f "$OUT/$kd_like.xplane.pb.gz" ]]; then  # what the tas step adds to the KD step, by kind
    echo "== tas, by kind beside $kd_like"
    $PYTHON tools/trace_summary.py "$OUT/tas.xplane.pb.gz" --steps 3 --top 0 --compare "$OUT/$kd_like.xplane.pb.gz" 2>&1 \
        | quiet
fi
echo "total $((SECONDS - start)) s"
