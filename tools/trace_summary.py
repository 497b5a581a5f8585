"""Where the device spent a traced step: sums a trace's kernels (GPU), XLA ops (JAX on a CPU) or
TensorFlow ops (TensorFlow on a CPU) by kind, by op and by name.

    python tools/trace_summary.py gpu_bench/kd.xplane.pb.gz --steps 3
    python tools/benchmark.py --pair convnext_mlp --profile small --method kd --parts distill_step --trace /tmp/trace  # writes one

Needs JAX (jaxlib) or TensorFlow to read the file; --steps divides the totals into per-step figures.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tas_keras.cli.common import ArgumentParser, run_cli  # noqa: E402
from tas_keras.errors import InputError  # noqa: E402


def _main(argv):
    p = ArgumentParser(description=__doc__)
    p.add_argument("trace", help="an *.xplane.pb file, or one gzipped (*.xplane.pb.gz)")
    p.add_argument("--steps", type=int, default=1, help="steps the trace holds")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)
    if not os.path.isfile(args.trace):
        raise InputError(f"No trace file at {args.trace!r}; give an *.xplane.pb or *.xplane.pb.gz file.")
    if args.steps < 1:
        raise InputError(f"--steps must be >= 1; got {args.steps}.")
    from tas_keras.experiments.device_trace import format_summary, summarize

    print(format_summary(summarize(args.trace, args.steps), args.top))
    return 0


def main(argv=None):
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
