"""Two alternatives to gelu_tensorflow's hand-written backward, ms per call of forward + backward (six tensors per
function, each output summed): GELU as one jit_compile function that TensorFlow differentiates itself (its backward
also XLA-compiled, from the intermediates the forward saves) against gelu_tensorflow.gelu on (32, 64, 1536); and
ResMLP's Affine (alpha x + beta) on (32, 64, 384) as TensorFlow ops against one jit_compile function.

    python docs/bench/2026-12-03-xla-gelu/autodiff_probe.py bf16|fp32
"""
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
import tas_keras  # noqa: F401  (oneDNN on before TensorFlow loads)
import numpy as np, tensorflow as tf
from tas_keras.experiments.timing import time_calls
from tas_keras.layers import gelu_tensorflow
dtype = tf.bfloat16 if sys.argv[1] == "bf16" else tf.float32
N = 6
xs = [tf.constant(np.random.randn(32, 64, 1536).astype("float32"), dtype) for _ in range(N)]
@tf.function(jit_compile=True, autograph=False, reduce_retracing=True)
def generic(x):
    v = tf.cast(x, tf.float32)
    return tf.cast(0.5 * v * (1.0 + tf.math.erf(v * gelu_tensorflow.SQRT_HALF)), x.dtype)
# small-tensor affine
ys = [tf.constant(np.random.randn(32, 64, 384).astype("float32"), dtype) for _ in range(N)]
a = tf.Variable(np.random.randn(384).astype("float32")); b = tf.Variable(np.random.randn(384).astype("float32"))
def affine_ops(x): return x * tf.cast(a, x.dtype) + tf.cast(b, x.dtype)
@tf.function(jit_compile=True, autograph=False, reduce_retracing=True)
def _aff(x, a, b): return x * a + b
def affine_xla(x): return _aff(x, tf.cast(a, x.dtype), tf.cast(b, x.dtype))
variants = dict(gelu_hand_written_backward=(gelu_tensorflow.gelu, xs), gelu_autodiff_of_xla=(generic, xs), affine_ops=(affine_ops, ys), affine_xla_autodiff=(affine_xla, ys))
for name, (f, ins) in variants.items():
    d = tf.cast(tf.ones_like(ins[0]), dtype)
    @tf.function
    def fb(ins):
        with tf.GradientTape() as t:
            t.watch(ins); outs = [f(x) for x in ins]
        gs = t.gradient(outs, ins + [a, b], output_gradients=[d] * N)
        return tf.add_n([tf.reduce_sum(tf.cast(y, tf.float32)) for y in outs]) + tf.add_n([tf.reduce_sum(tf.cast(g, tf.float32)) for g in gs if g is not None])
    median = time_calls(lambda: fb(ins).numpy(), steps=9, warmup=0)[1]  # the first call traces, untimed
    print(f"{sys.argv[1]} {name:27s} fwd+bwd {median*1e3/N:6.2f} ms")
