"""Rewrites XLA's GPU autotuning results so that every depthwise convolution takes one cuDNN algorithm.

    XLA_FLAGS="--xla_gpu_dump_autotune_results_to=tuned.textproto --xla_gpu_dump_autotune_logs_to=log.textproto" \
        python tools/benchmark.py ...   # writes both
    python tools/pin_depthwise_algorithm.py tuned.textproto pinned.textproto --log log.textproto
    XLA_FLAGS=--xla_gpu_load_autotune_results_from=pinned.textproto python tools/benchmark.py ...

Every depthwise forward convolution whose picked algorithm needs a workspace takes the algorithm of the
first one that needs none (tas_keras.experiments.autotune_results.pin_depthwise); a process that loads
the file uses those picks and times nothing again, so the step differs from the tuned one by that pick
alone. XLA's newer autotuner (JAX 0.11.2) names each instruction in its results by fingerprint alone: then
--log, the autotuning log of the same process, tells which are depthwise convolutions. tools/gpu_benchmark.sh runs it between its parts kd and kd_pinned. Prints each depthwise
convolution's pick and what changed; writes OUTPUT only when something changed (exit 0 either way).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: see tas_keras.cli.common
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tas_keras.atomic import atomic_text  # noqa: E402
from tas_keras.cli.common import ArgumentParser, run_cli  # noqa: E402
from tas_keras.errors import InputError  # noqa: E402
from tas_keras.experiments.autotune_results import depthwise_results, pin_depthwise  # noqa: E402


def _main(argv):
    p = ArgumentParser(description=__doc__)
    p.add_argument("results", help="XLA's autotuning results in text format (*.textproto, *.txt)")
    p.add_argument("output", help="where to write the pinned copy (*.textproto, so that XLA reads it as text)")
    p.add_argument("--log", help="the autotuning log of the same process (--xla_gpu_dump_autotune_logs_to=FILE.textproto); "
                   "needed where the results name instructions by fingerprint alone")
    args = p.parse_args(argv)
    if args.log is not None and not os.path.isfile(args.log):
        raise InputError(f"No autotuning log at {args.log!r}; give the text file XLA wrote with --xla_gpu_dump_autotune_logs_to=FILE.textproto.")
    if not os.path.isfile(args.results):
        raise InputError(f"No autotuning results at {args.results!r}; give the text file XLA wrote with "
                         "--xla_gpu_dump_autotune_results_to=FILE.textproto.")
    if not args.output.endswith((".textproto", ".txt", ".pbtxt", ".prototxt")):
        raise InputError(f"Output {args.output!r} must end in .textproto (or .txt, .pbtxt, .prototxt): XLA reads other names as binary.")
    with open(args.results) as f:
        text = f.read()
    log = None
    if args.log is not None:
        with open(args.log) as f:
            log = f.read()
    try:
        results = depthwise_results(text, log)
    except ValueError as e:
        raise InputError(f"{args.results}: {e} (--log FILE).") from None
    if not results:
        print(f"no depthwise convolutions in {args.results}: nothing to pin")
        return 0
    for r in results:
        print(f"  {r.shape:<24} engine {r.engine}, workspace {r.workspace / 2**20:.1f} MiB")
    pinned, changed = pin_depthwise(text, log)
    if not changed:
        print("no depthwise convolution needs a workspace (or none runs without one): nothing to pin")
        return 0
    atomic_text(args.output, pinned)
    print(f"pinned {len(changed)} to the algorithm of the first without a workspace: {', '.join(r.shape for r in changed)} -> {args.output}")
    return 0


def main(argv=None):
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
