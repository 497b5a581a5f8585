"""Where the device spent a traced step: sums a trace's kernels (GPU), XLA ops (JAX on a CPU) or
TensorFlow ops (TensorFlow on a CPU) by kind, by op and by name.

    python tools/trace_summary.py gpu_bench/kd.xplane.pb.gz --steps 3
    python tools/trace_summary.py gpu_bench/kd.xplane.pb.gz --steps 3 --compare gpu_bench/results.json
    python tools/trace_summary.py gpu_bench/kd.xplane.pb.gz --steps 3 --hlo gpu_bench/kd.hlo.txt.gz
    python tools/benchmark.py --pair convnext_mlp --profile small --method kd --parts distill_step --trace /tmp/trace  # writes one

Needs JAX (jaxlib) or TensorFlow to read the file; --steps divides the totals into per-step figures.
--compare sets the step's device time by kind beside another step's: PyTorch's kernels of the same step,
sorted into the same kinds (a JSON written by `tools/timm_reference.py --profile-steps N`, its
"kd_profile", or the results.json of tools/gpu_benchmark.sh, its torch.compile part "timm_compile"), or
another trace of ours with as many steps (e.g. the `tas` step beside the KD step:
`python tools/trace_summary.py gpu_bench/tas.xplane.pb.gz --steps 3 --compare gpu_bench/kd.xplane.pb.gz`).
--hlo names, under each top kernel, the layers it computes and, for kernels that are not matmuls or
convolutions, the bytes one call reads and writes and the GB/s that makes (set it against the device's
memory bandwidth), from the step's optimized HLO that XLA dumped while compiling it
(`XLA_FLAGS=--xla_dump_to=DIR`, the largest `*jit_train_step*after_optimizations.txt` there;
tools/gpu_benchmark.sh keeps it as <part>.hlo.txt.gz). JAX names ops by Keras layer scope. It also lists
the cuDNN algorithm (engine) and workspace XLA's autotuner picked for each convolution; with --hlo and no
trace, only that list:
    python tools/trace_summary.py --hlo gpu_bench/kd.hlo.txt.gz
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: see tas_keras.cli.common
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tas_keras.cli.common import ArgumentParser, count, run_cli  # noqa: E402
from tas_keras.errors import InputError  # noqa: E402


def _main(argv):
    p = ArgumentParser(description=__doc__)
    p.add_argument("trace", nargs="?", help="an *.xplane.pb file, or one gzipped (*.xplane.pb.gz)")
    p.add_argument("--steps", type=count(1), default=1, help="steps the trace holds")
    p.add_argument("--top", type=count(0), default=25, help="kernels listed (0: only the totals, e.g. with --compare)")
    p.add_argument("--compare", metavar="FILE", help="another step: PyTorch's kernels (tools/timm_reference.py "
                   "--profile-steps JSON, or tools/gpu_benchmark.sh's results.json) or another *.xplane.pb(.gz) of ours")
    p.add_argument("--hlo", metavar="FILE", help="the step's optimized HLO text (plain or .gz) XLA dumped while compiling it")
    args = p.parse_args(argv)
    if args.trace is None and not args.hlo:
        raise InputError("Give a trace (*.xplane.pb or *.xplane.pb.gz), or --hlo FILE for the convolution algorithms alone.")
    if args.trace is None and args.compare:
        raise InputError(f"--compare {args.compare!r} sets a trace beside another step; give the trace too.")
    if args.trace is not None and not os.path.isfile(args.trace):
        raise InputError(f"No trace file at {args.trace!r}; give an *.xplane.pb or *.xplane.pb.gz file.")
    if args.hlo and not os.path.isfile(args.hlo):
        raise InputError(f"No HLO dump at {args.hlo!r}; give the *after_optimizations.txt (or .txt.gz) XLA wrote for the step.")
    if args.compare and not os.path.isfile(args.compare):
        raise InputError(f"No file at --compare {args.compare!r}; give a timm_reference JSON, a gpu_benchmark results.json or an *.xplane.pb(.gz).")
    if args.trace is None:
        from tas_keras.experiments.hlo_sources import conv_algorithms, format_conv_algorithms, read_hlo

        print(format_conv_algorithms(conv_algorithms(read_hlo(args.hlo))))
        return 0
    from tas_keras.experiments.device_trace import format_kind_comparison, format_summary, summarize

    other = _other_step(args.compare, args.steps) if args.compare else None
    summary = summarize(args.trace, args.steps, args.hlo)
    print(format_summary(summary, args.top))
    if other:
        label, kinds, busy_ms = other
        print(f"beside {label} ({args.compare}):")
        ours = _trace_name(args.trace) if _is_trace(args.compare) else "ours"
        print(format_kind_comparison(summary, kinds, busy_ms, label, ours))
    if "convolutions" in summary:  # read from the --hlo dump with the kernels' sources
        from tas_keras.experiments.hlo_sources import format_conv_algorithms

        print(format_conv_algorithms(summary["convolutions"]))
    return 0


def _other_step(path, steps):
    """(label, {kind: ms}, busy ms) per step of the step to compare with: another trace of ours, or
    PyTorch's profiled kernels."""
    from tas_keras.experiments.device_trace import kinds_of, summarize

    if _is_trace(path):
        other = summarize(path, steps)
        return _trace_name(path), other["by_kind"], other["busy_ms"]
    result = _torch_profile(path)
    return "torch.compile" if result.get("compile") else "torch eager", kinds_of(result["kd_profile"]["top"]), result["kd_profile"]["busy_ms"]


def _is_trace(path):
    return path.endswith((".xplane.pb", ".xplane.pb.gz"))


def _trace_name(path):
    return os.path.basename(path).split(".xplane.pb")[0]


def _torch_profile(path):
    """The timm_reference result holding a KD step's kernels ("kd_profile"): the file itself, or the
    torch.compile part of a gpu_benchmark.sh results.json."""
    try:
        with open(path) as f:
            result = json.load(f)
    except (OSError, ValueError) as err:
        raise InputError(f"--compare {path!r} is not a readable JSON file ({err}).") from None
    result = result.get("timm_compile", result) if isinstance(result, dict) else None
    if not isinstance(result, dict) or "kd_profile" not in result:
        raise InputError(f"--compare {path!r} has no PyTorch kernel profile; give the JSON of "
                         "tools/timm_reference.py --profile-steps N, or a tools/gpu_benchmark.sh results.json with its timm_compile part.")
    return result


def main(argv=None):
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
