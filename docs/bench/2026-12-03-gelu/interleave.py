"""The paper-size KD step (ConvNeXt-atto -> ResMLP-S12, patch 4, 32x32, batch 32, TensorFlow, XLA off) with three
GELUs in one process: each variant's distiller is traced with its GELU, then fit() epochs of 8 steps run in
rotation (the machine's drift falls on all three alike); ms per step of each round.

    python docs/bench/2026-12-03-gelu/interleave.py bf16|fp32 ROUNDS [flat]

`flat`: the erf GELU on the MLP's 3-D inputs, on 2-D inputs, and with its backward written out on 2-D inputs.
"erf" is the op-by-op erf form tas_keras.layers.gelu was on that day (it has since become XLA loops:
docs/bench/2026-12-03-xla-gelu).
"""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import paper_kd_rotation  # noqa: E402  (first: it sets the paths and the log level)
from keras import ops
import tas_keras.layers.attention as attention

precision, rounds = sys.argv[1], int(sys.argv[2])
import tensorflow as tf
C = 0.7071067811865476
@tf.custom_gradient
def custom_gelu(x):
    cdf = 0.5 + 0.5 * tf.math.erf(x * C)
    def grad(g):
        return g * (cdf + x * tf.exp(-0.5 * tf.square(x)) * 0.3989422804014327)
    return x * cdf, grad
def erf_op_by_op(x):
    return 0.5 * x * (1.0 + ops.erf(x * C))
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
    VARIANTS = {"erf 3d": setup(erf_op_by_op), "erf 2d": setup(erf_op_by_op, flat_call),
                "custom 2d": setup(custom_gelu, flat_call)}
else:
    VARIANTS = {"erfc (ops.gelu)": setup(lambda x: ops.gelu(x, approximate=False)),
                "erf": setup(erf_op_by_op), "erf, custom grad": setup(custom_gelu)}
paper_kd_rotation.run(precision, rounds, VARIANTS)
