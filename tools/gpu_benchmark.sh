#!/usr/bin/env bash
# The GPU measurement of issue 17, side by side in one run on one card: tas_keras on JAX (the GPU machines
# we reach have no TensorFlow; Keras alone is enough) against PyTorch + timm, eager and torch.compile, on
# convnext_mlp (ConvNeXt-T -> ResMLP-S12) at 224x224, batch 128, bf16:
#   kd            our KD step (fit-style), teacher forward, student step; the KD step traced (jax.profiler):
#                 device time by kernel kind and the share of the step the GPU is busy
#   peak          the card's bf16 matmul rate (8192^3), the ceiling for achieved TFLOP/s
#   timm_eager / timm_compile   tools/timm_reference.py: the same KD step in PyTorch + timm (the compiled
#                 one's kernels profiled, to set beside our trace)
#   kd_pinned     the KD step replaying kd's autotuning results (--xla_gpu_load_autotune_results_from) with
#                 every depthwise convolution on the algorithm that needs no workspace
#                 (tools/pin_depthwise_algorithm.py, with kd's autotuning log): the step differs from kd's by
#                 that pick alone. XLA's autotuner picks each convolution's cuDNN algorithm per process by timing
#                 the candidates alone, once; in 2026-12-04's processes it timed some candidates of the first
#                 convolution it tuned (stage 3, depthwise) far off, in two of three its no-workspace engine
#                 (0.09 ms in one, 53.5 and 418 ms in the others), and the 148 MiB engine it then picked costs
#                 ~7.7 ms a step
#   kd_primed / kd_primed_again   the KD step, in two processes, after waiting for the models' initialization
#                 (queued device work, one suspect) and tuning one throwaway depthwise convolution (tools/
#                 benchmark.py --prime-autotuner): if the disturbance falls on the first convolution a process
#                 tunes, it falls on this one
#   kd_torch      the KD step on Keras' torch backend, eager and through torch.compile (--xla off on): never
#                 measured on a GPU, and a candidate for the target (on a CPU it ties torch.compile), so it
#                 runs before the parts below, which earlier GPU runs measured
#   tas           the published TAS formulation (fused assistant), distill step only, traced (beside KD's)
#   keras_kd      the same KD step through Keras' own keras.distillation.Distiller (same models, fit())
#   tas_branch    our branch assistant (tas_branch), distill step only
#   kd_callbacks  the KD step through fit() with a training run's callbacks and progress log (beside kd's
#                 distill step: what the run's per-step hooks cost on the GPU)
#   kd_eager_modules   the KD step with CUDA_MODULE_LOADING=EAGER (every CUDA module loaded at start; on
#                 2026-12-04 one process of two got the fast pick: not the fix)
#   kd_one_compile_thread   the KD step with --xla_gpu_force_compilation_parallelism=1 (another suspect for
#                 that one far-off timing: the host busy compiling while a candidate is timed)
# Levers measured and dropped from here (README, the third GPU run): XLA's autotuning off (413.6 ms a step), its
# latency-hiding scheduler (30.5 ms, the slow pick: no gain of its own). Parts that no longer fit in BUDGET seconds are skipped (and say so); PARTS="kd kd_pinned" runs
# only the parts named. Everything lands in $OUT (default
# ./gpu_bench), in 8 files, the most a lent GPU machine sends back: run.log, results.json (every part's JSON),
# kd / tas.xplane.pb.gz (the raw traces; python tools/trace_summary.py kd.xplane.pb.gz --steps 3
# summarises one again anywhere JAX is installed) and kd / kd_pinned / kd_primed / tas.hlo.txt.gz (each
# step's optimized HLO, which names the layers behind each kernel and the convolutions' algorithms:
# trace_summary.py --hlo), with, in results.json, every candidate XLA's autotuner timed for kd's step
# ("autotune_logs_kd", gzipped and base64-encoded: python -c "import base64, gzip, json, sys;
# sys.stdout.buffer.write(gzip.decompress(base64.b64decode(json.load(open('results.json'))['autotune_logs_kd']['gzip_base64'])))";
# every part's log likewise as "autotune_logs_NAME", and its picks as "autotune_results_NAME");
# last, the KD step's top kernels with their layers and its device time by kind
# beside torch.compile's kernels (trace_summary.py --compare), the candidates kd_primed's and kd_primed_again's
# autotuners timed twofold or more apart (autotune_log.py --against), and the tas step's beside the KD step's.
#   bash tools/gpu_benchmark.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_bench}
BATCH=${BATCH:-128}
STEPS=${STEPS:-20}
BUDGET=${BUDGET:-540}
PYTHON=${PYTHON:-python3}
PEAK_SIZE=${PEAK_SIZE:-8192}
PARTS=${PARTS:-}  # empty: every part
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

part() {  # part NAME SECONDS_NEEDED COMMAND...: runs COMMAND when it still fits in BUDGET, then lists its convolutions' picks
    local name=$1 need=$2
    shift 2
    [[ -z $PARTS || " $PARTS " == *" $name "* ]] || return 0
    local left=$((BUDGET - (SECONDS - start)))
    if ((left < need)); then
        echo "== $name: skipped ($left s left, needs about $need)"
        return
    fi
    echo "== $name (at $((SECONDS - start)) s)"
    # XLA dumps each compiled train step's optimized HLO (kernels -> layers, convolution algorithms)
    # and, where this jaxlib knows the flags, its autotuner's picks and every candidate it timed
    local dumps=""
    [[ " $KNOWN " == *" xla_gpu_dump_autotune_results_to "* ]] && dumps="--xla_gpu_dump_autotune_results_to=$WORK/autotune_results_$name.textproto"
    [[ " $KNOWN " == *" xla_gpu_dump_autotune_logs_to "* ]] && dumps="$dumps --xla_gpu_dump_autotune_logs_to=$WORK/autotune_logs_$name.textproto"
    XLA_FLAGS="${XLA_FLAGS:-} $dumps --xla_dump_to=$WORK/hlo_$name --xla_dump_hlo_module_re=.*train_step.*" \
        timeout "$left" "$@" 2>&1 | quiet
    echo "== $name: exit ${PIPESTATUS[0]} after $((SECONDS - start)) s"
    # the largest optimized train step dumped (the distill step), kept as $WORK/NAME.hlo.txt
    local hlo
    hlo=$(ls -S "$WORK/hlo_$name"/*jit_train_step*after_optimizations.txt 2>/dev/null | head -n 1)
    if [[ -n $hlo ]]; then  # without the part's XLA_FLAGS: a compile here would rewrite its autotuning dump
        cp "$hlo" "$WORK/$name.hlo.txt"
        env -u XLA_FLAGS $PYTHON tools/trace_summary.py --hlo "$WORK/$name.hlo.txt" 2>&1 | quiet
    fi
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PYTHON -c "import jax, keras; print('jax', jax.__version__, 'keras', keras.__version__, jax.devices())"
BENCH=($PYTHON tools/benchmark.py --pair convnext_mlp $PAIR_ARGS --batch-size "$BATCH" --steps "$STEPS" --warmup 3 --set precision=mixed_bfloat16)
TIMM=($PYTHON tools/timm_reference.py --batch-size "$BATCH" --steps "$STEPS" --classes 10 $TIMM_ARGS)
# An XLA flag this jaxlib does not know aborts the process, so the autotuning dumps are asked for only
# where its libraries name them.
KNOWN=$($PYTHON - xla_gpu_dump_autotune_results_to xla_gpu_load_autotune_results_from xla_gpu_dump_autotune_logs_to \
    xla_gpu_force_compilation_parallelism <<'EOF'
import pathlib, sys, jaxlib
site = pathlib.Path(jaxlib.__file__).parent.parent
libraries = [*site.joinpath("jaxlib").rglob("*.so"), *(p for d in site.glob("jax_cuda*") for p in d.rglob("*.so"))]
data = [p.read_bytes() for p in libraries]
print(" ".join(flag for flag in sys.argv[1:] if any(flag.encode() in d for d in data)))
EOF
)
echo "XLA flags this jaxlib knows, of those asked: ${KNOWN:-none}"
part kd 150 "${BENCH[@]}" --method kd --parts teacher_forward student_step distill_step --trace "$WORK/trace_kd" --json "$WORK/kd.json"
part peak 30 $PYTHON -c "from tas_keras.experiments.timing import matmul_peak_gflops as p; import json; \
json.dump({'size': $PEAK_SIZE, 'dtype': 'bfloat16', 'gflops': p($PEAK_SIZE, 'bfloat16')}, open('$WORK/peak.json', 'w')); print(open('$WORK/peak.json').read())"
part timm_eager 40 "${TIMM[@]}" --json "$WORK/timm_eager.json"
part timm_compile 150 "${TIMM[@]}" --compile --profile-steps 3 --json "$WORK/timm_compile.json"
if [[ -f $WORK/autotune_logs_kd.textproto ]]; then  # what XLA timed for kd's depthwise convolutions, and so picked
    echo "== kd's depthwise convolutions: every algorithm XLA's autotuner timed, alone on the device"
    $PYTHON tools/autotune_log.py "$WORK/autotune_logs_kd.textproto" --match dwconv --top 15 2>&1 | quiet
fi
# kd's autotuning results with every depthwise convolution on the algorithm without a workspace, replayed
if [[ -f $WORK/autotune_results_kd.textproto ]]; then
    logs=()
    [[ -f $WORK/autotune_logs_kd.textproto ]] && logs=(--log "$WORK/autotune_logs_kd.textproto")
    $PYTHON tools/pin_depthwise_algorithm.py "$WORK/autotune_results_kd.textproto" "$WORK/autotune_pinned.textproto" ${logs[@]+"${logs[@]}"} 2>&1 | quiet
fi
if [[ -f $WORK/autotune_pinned.textproto && " $KNOWN " == *" xla_gpu_load_autotune_results_from "* ]]; then
    XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_load_autotune_results_from=$WORK/autotune_pinned.textproto" \
        part kd_pinned 60 "${BENCH[@]}" --method kd --parts teacher_forward distill_step --json "$WORK/kd_pinned.json"
else
    echo "== kd_pinned: skipped (kd's autotuning picked no depthwise algorithm with a workspace, or wrote no results)"
fi
part kd_primed 60 "${BENCH[@]}" --method kd --parts distill_step --prime-autotuner --json "$WORK/kd_primed.json"
part kd_primed_again 60 "${BENCH[@]}" --method kd --parts distill_step --prime-autotuner --json "$WORK/kd_primed_again.json"
KERAS_BACKEND=torch part kd_torch 150 "${BENCH[@]}" --method kd --parts distill_step --xla off on --json "$WORK/kd_torch.json"
part tas 80 "${BENCH[@]}" --method tas --parts distill_step --trace "$WORK/trace_tas" --json "$WORK/tas.json"
part keras_kd 70 "${BENCH[@]}" --method kd --parts keras_distiller --json "$WORK/keras_kd.json"
part tas_branch 100 "${BENCH[@]}" --method tas_branch --parts distill_step --json "$WORK/tas_branch.json"
part kd_callbacks 70 "${BENCH[@]}" --method kd --parts run_callbacks --json "$WORK/kd_callbacks.json"
CUDA_MODULE_LOADING=EAGER part kd_eager_modules 70 "${BENCH[@]}" --method kd --parts distill_step --json "$WORK/kd_eager_modules.json"
if [[ " $KNOWN " == *" xla_gpu_force_compilation_parallelism "* ]]; then
    XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_force_compilation_parallelism=1" \
        part kd_one_compile_thread 90 "${BENCH[@]}" --method kd --parts distill_step --json "$WORK/kd_one_compile_thread.json"
fi

$PYTHON - "$WORK" "$OUT" <<'EOF'
import base64, gzip, json, pathlib, sys
work, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
results = {p.stem: json.loads(p.read_text()) for p in sorted(work.glob("*.json"))}
# each part's autotuning picks and every candidate XLA timed for its instructions (why it picked what it picked)
for dump in sorted(work.glob("autotune_*_*.textproto")):  # autotune_logs_NAME, autotune_results_NAME
    results[dump.stem] = {"gzip_base64": base64.b64encode(gzip.compress(dump.read_bytes())).decode()}
(out / "results.json").write_text(json.dumps(results, indent=1))
for folder in sorted(work.glob("trace_*")):  # each traced part's raw trace, gzipped: kd.xplane.pb.gz, ...
    traces = sorted(folder.glob("**/*.xplane.pb"))
    if traces:
        (out / f"{folder.name[len('trace_'):]}.xplane.pb.gz").write_bytes(gzip.compress(traces[-1].read_bytes()))
for name in ("kd", "kd_pinned", "kd_primed", "tas"):  # four parts' distill steps as part() kept them, gzipped
    hlo = work / f"{name}.hlo.txt"
    if hlo.is_file():
        (out / f"{name}.hlo.txt.gz").write_bytes(gzip.compress(hlo.read_bytes()))
print("parts with results:", ", ".join(results) or "none")
EOF
if [[ -f "$OUT/kd.xplane.pb.gz" && -f "$WORK/timm_compile.json" ]]; then  # where the gap to torch.compile lies, by kind
    echo "== kd, by kind beside torch.compile"
    hlo=()
    [[ -f "$OUT/kd.hlo.txt.gz" ]] && hlo=(--hlo "$OUT/kd.hlo.txt.gz")
    $PYTHON tools/trace_summary.py "$OUT/kd.xplane.pb.gz" --steps 3 --top 15 ${hlo[@]+"${hlo[@]}"} --compare "$WORK/timm_compile.json" 2>&1 | quiet
fi
if [[ -f $WORK/autotune_logs_kd_primed.textproto && -f $WORK/autotune_logs_kd_primed_again.textproto ]]; then
    echo "== kd_primed against kd_primed_again: candidates timed twofold or more apart"
    $PYTHON tools/autotune_log.py "$WORK/autotune_logs_kd_primed.textproto" --against "$WORK/autotune_logs_kd_primed_again.textproto" 2>&1 | quiet
fi
if [[ -f "$OUT/tas.xplane.pb.gz" && -f "$OUT/kd.xplane.pb.gz" ]]; then  # what the tas step adds to the KD step, by kind
    echo "== tas, by kind beside kd"
    $PYTHON tools/trace_summary.py "$OUT/tas.xplane.pb.gz" --steps 3 --top 0 --compare "$OUT/kd.xplane.pb.gz" 2>&1 | quiet
fi
echo "total $((SECONDS - start)) s"
