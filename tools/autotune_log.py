"""What XLA's GPU autotuner timed for each convolution, and what it picked: reads its autotuning log.

    XLA_FLAGS=--xla_gpu_dump_autotune_logs_to=log.textproto python tools/benchmark.py ...   # writes one
    python tools/autotune_log.py log.textproto --match dwconv
    python tools/autotune_log.py log.textproto --against other.textproto   # two processes, the same step

For each cuDNN convolution XLA tuned (one per distinct shape: the first layer that has it names it), every
candidate algorithm (engine), fastest first, with its time alone on the device, its workspace, and why a
failed one failed (tas_keras.experiments.autotune_results.logged_convolutions). XLA keeps the fastest;
set its time beside what the convolution costs inside the step (tools/trace_summary.py). With --against, the
log of another process running the same step: the candidates the two timed --factor or more apart
(tas_keras.experiments.autotune_results.timed_apart), which is how a process comes to pick differently. tools/gpu_benchmark.sh
keeps its KD step's log in results.json ("autotune_logs_kd").
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: see tas_keras.cli.common
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tas_keras.cli.common import ArgumentParser, count, run_cli  # noqa: E402
from tas_keras.errors import InputError  # noqa: E402
from tas_keras.experiments.autotune_results import logged_convolutions, timed_apart  # noqa: E402


def _main(argv):
    p = ArgumentParser(description=__doc__)
    p.add_argument("log", help="XLA's autotuning log in text format (--xla_gpu_dump_autotune_logs_to=FILE.textproto)")
    p.add_argument("--match", default="", help="only convolutions whose op name contains this (e.g. dwconv)")
    p.add_argument("--top", type=count(1), default=6, help="candidates shown per convolution")
    p.add_argument("--against", metavar="OTHER_LOG", help="another process's log of the same step: list the candidates timed apart")
    p.add_argument("--factor", type=float, default=2.0, help="with --against: how far apart counts (default 2: twice as long)")
    args = p.parse_args(argv)
    for path in [args.log] + ([args.against] if args.against else []):
        if not os.path.isfile(path):
            raise InputError(f"No autotuning log at {path!r}; give the text file XLA wrote with --xla_gpu_dump_autotune_logs_to=FILE.textproto.")
    if args.factor <= 1:
        raise InputError(f"--factor must be above 1; got {args.factor}.")
    with open(args.log) as f:
        text = f.read()
    if args.against:
        with open(args.against) as f:
            apart = [(name, c, d) for name, c, d in timed_apart(text, f.read(), args.factor) if args.match in name]
        print(f"{len(apart)} candidate(s) timed {args.factor:g}x or more apart (ms here / there):")
        for name, c, d in apart:
            print(f"  {name}\n    engine {c.engine!s:>4}  {c.ms:10.3f} / {d.ms:10.3f} ms  workspace {c.workspace / 2**20:.1f} MiB")
        return 0
    convolutions = [(name, c) for name, c in logged_convolutions(text) if args.match in name]
    if not convolutions:
        print(f"no cuDNN convolutions{' matching ' + repr(args.match) if args.match else ''} in {args.log} (XLA's newer "
              "autotuner logs the convolutions it tunes here; its older convolution picker only at VLOG level 2)")
        return 0
    for name, candidates in convolutions:
        print(name)
        for c in candidates[:args.top]:
            timing = f"{c.ms:8.3f} ms" if c.ms is not None else f"failed ({c.failure})"
            print(f"    engine {c.engine!s:>4}  {timing}  workspace {c.workspace / 2**20:.1f} MiB")
        if len(candidates) > args.top:
            print(f"    ... {len(candidates) - args.top} more")
    return 0


def main(argv=None):
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
