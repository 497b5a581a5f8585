"""The paper-size KD step (ConvNeXt-atto -> ResMLP-S12, patch 4, 32x32, batch 32, TensorFlow, XLA off) with three
GELUs in one process: each variant's distiller is traced with its GELU, then fit() epochs of 8 steps run in
rotation (the machine's drift falls on all three alike); ms per step of each round.

    python docs/bench/2026-12-03-gelu/interleave.py bf16|fp32 ROUNDS [flat]

`flat`: the erf GELU on the MLP's 3-D inputs, on 2-D inputs, and with its backward written out on 2-D inputs.
"""
import os, sys, statistics
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, ROOT); sys.path.insert(0, os.path.join(ROOT, "tools"))
import numpy as np, keras
from keras import ops
import tas_keras.layers.attention as attention
from tas_keras.layers import activations
from tas_keras.experiments.timing import time_fit_steps
import benchmark  # noqa: E402
from tas_keras.training.config import load_config  # noqa: E402

precision, rounds = sys.argv[1], int(sys.argv[2])
import tensorflow as tf
C = 0.7071067811865476
@tf.custom_gradient
def custom_gelu(x):
    cdf = 0.5 + 0.5 * tf.math.erf(x * C)
    def grad(g):
        return g * (cdf + x * tf.exp(-0.5 * tf.square(x)) * 0.3989422804014327)
    return x * cdf, grad
original_call = attention.Mlp.call
def flat_call(self, x):  # the MLP on 2-D inputs, so that grappler can fuse MatMul and BiasAdd
    shape = ops.shape(x)
    out = self.fc2(attention.gelu(self.fc1(ops.reshape(x, (-1, shape[-1])))))
    return ops.reshape(out, (*shape[:-1], out.shape[-1]))
def setup(gelu, call=original_call):
    def apply():
        attention.gelu = gelu; attention.Mlp.call = call
    return apply
if len(sys.argv) > 3 and sys.argv[3] == "flat":
    VARIANTS = {"erf 3d": setup(activations.gelu), "erf 2d": setup(activations.gelu, flat_call),
                "custom 2d": setup(custom_gelu, flat_call)}
else:
    VARIANTS = {"erfc (ops.gelu)": setup(lambda x: ops.gelu(x, approximate=False)),
                "erf": setup(activations.gelu), "erf, custom grad": setup(custom_gelu)}
config = load_config("convnext_mlp", None, ["teacher.name=convnext_atto", "student.overrides.patch_size=4"]
                     + (["precision=mixed_bfloat16"] if precision == "bf16" else []))
keras.mixed_precision.set_global_policy(config.precision)
rng = np.random.default_rng(0)
x = rng.integers(0, 256, size=(32, 32, 32, 3), dtype=np.uint8); y = rng.integers(0, 10, size=(32,))
built = {}
for name, fn in VARIANTS.items():
    fn()
    d = benchmark.build_distiller(config, "kd", 32, False)
    time_fit_steps(d, x, y, 4, epochs=2)  # traces with this variant
    built[name] = d
times = {n: [] for n in built}
for r in range(rounds):
    items = list(built.items()); k = r % len(items)
    for name, d in items[k:] + items[:k]:
        _, med, per = time_fit_steps(d, x, y, 8, epochs=2)
        times[name].append(per[1] * 1e3)
for n, t in times.items():
    print(f"{precision} {n:18s} median {statistics.median(t):7.1f} ms  all {' '.join(f'{v:.0f}' for v in t)}")
