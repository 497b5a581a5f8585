"""Times one depthwise convolution both ways tas_keras can compute it (tas_keras/layers/depthwise.py):
the backend's convolution ("conv") and the sum of shifted, tap-scaled views ("shifted"), forward and
forward + backward (gradients of a scalar loss for the input and the kernel), compiled as training
compiles them (jax.jit; tf.function with XLA on or off), on random float32 inputs.

    KERAS_BACKEND=jax python tools/depthwise_benchmark.py --shape 32 56 56 96
    python tools/depthwise_benchmark.py --shape 128 8 8 64 --kernel 7 --xla both --json dw.json

Prints, per implementation and XLA setting, the compile time and the median ms per call.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: see tas_keras.cli.common
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from tas_keras.cli.common import ArgumentParser, count, run_cli  # noqa: E402
from tas_keras.errors import InputError  # noqa: E402

IMPLEMENTATIONS = ("conv", "shifted")


def parse_args(argv):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--shape", type=count(1), nargs=4, default=[32, 56, 56, 96], metavar=("B", "H", "W", "C"), help="input (batch, height, width, channels)")
    p.add_argument("--kernel", type=count(1), default=7)
    p.add_argument("--stride", type=count(1), default=1)
    p.add_argument("--calls", type=count(1), default=10, help="timed calls after --warmup")
    p.add_argument("--warmup", type=count(0), default=2)
    p.add_argument("--xla", choices=["on", "off", "both"], default="both", help="TensorFlow only (JAX always jits)")
    p.add_argument("--json", help="write the results to this JSON file")
    return p.parse_args(argv)


def gradient_fn(loss):
    """x, k -> (d loss / d x, d loss / d k) with this backend's autodiff (compiled by the caller)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.grad(loss, argnums=(0, 1))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        def grads(x, k):
            with tf.GradientTape() as tape:
                tape.watch([x, k])
                value = loss(x, k)
            return tape.gradient(value, [x, k])

        return grads
    raise InputError(f"tools/depthwise_benchmark.py times the jax and tensorflow backends; this is {keras.backend.backend()}.")


def _main(argv):
    args = parse_args(argv)
    import keras
    import numpy as np
    from keras import ops

    from tas_keras.experiments.timing import compiled, time_calls
    from tas_keras.layers import depthwise_conv, set_depthwise_implementation
    from tas_keras.training.machine import describe_machine

    rng = np.random.default_rng(0)
    batch, height, width, channels = args.shape
    x = ops.convert_to_tensor(rng.normal(size=(batch, height, width, channels)).astype("float32"))
    k = ops.convert_to_tensor(rng.normal(size=(args.kernel, args.kernel, channels, 1)).astype("float32"))

    def forward(x, k):
        return depthwise_conv(x, k, args.stride, "same")

    def loss(x, k):
        return ops.sum(ops.sin(forward(x, k)))  # a gradient that is not uniform

    modes = [False] if keras.backend.backend() != "tensorflow" else {"on": [True], "off": [False], "both": [False, True]}[args.xla]
    report = {"backend": keras.backend.backend(), "machine": describe_machine(), "devices": keras.distribution.list_devices(), "shape": args.shape,
              "kernel": args.kernel, "stride": args.stride, "runs": []}
    print(f"depthwise {args.kernel}x{args.kernel} stride {args.stride} on {args.shape}, backend {report['backend']}, {report['machine']}")
    print(f"{'implementation':<16}{'xla':<5}{'part':<18}{'compile s':>10}{'ms/call':>10}")
    for xla in modes:
        for name in IMPLEMENTATIONS:
            set_depthwise_implementation(name)  # read when the function is traced, i.e. at its first call below
            # fresh functions per implementation: a compiled function's cache would keep the first trace
            for part, fn in (("forward", lambda x, k: forward(x, k)), ("forward+backward", gradient_fn(lambda x, k: loss(x, k)))):
                step = compiled(fn, xla)
                compile_s, median, _ = time_calls(lambda step=step: keras.tree.map_structure(ops.convert_to_numpy, step(x, k)), args.calls, args.warmup)
                report["runs"].append({"implementation": name, "xla": xla, "part": part, "compile_s": compile_s, "median_s": median})
                print(f"{name:<16}{'on' if xla else 'off':<5}{part:<18}{compile_s:>10.2f}{1000 * median:>10.2f}")
    if args.json:
        from tas_keras.atomic import atomic_json

        atomic_json(args.json, report)
    return 0


def main(argv=None):
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
