"""TensorFlow GELU forms on six (32, 64, 1536) tensors in one function (the call overhead spread over them):
ms per GELU, forward and forward + backward (each output summed, as a loss would).

    python docs/bench/2026-12-03-xla-gelu/gelu_probe.py bf16|fp32
"""
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
import tas_keras  # noqa: F401  (oneDNN on before TensorFlow loads)
import numpy as np
import tensorflow as tf
from tas_keras.experiments.timing import time_calls
from tas_keras.layers import gelu_tensorflow
dtype = tf.bfloat16 if sys.argv[1] == "bf16" else tf.float32
N = 6
xs = [tf.constant(np.random.randn(32, 64, 1536).astype("float32"), dtype) for _ in range(N)]
dy = tf.constant(np.random.randn(32, 64, 1536).astype("float32"), dtype)
C, INV_SQRT_2PI = gelu_tensorflow.SQRT_HALF, gelu_tensorflow.INV_SQRT_2PI
def erf_ops(x): return 0.5 * x * (1.0 + tf.math.erf(x * C))
@tf.custom_gradient
def erf_ops_custom_grad(x):
    cdf = 0.5 * (1.0 + tf.math.erf(x * C))
    return x * cdf, lambda g: g * (cdf + x * (tf.exp(-0.5 * tf.square(x)) * INV_SQRT_2PI))
def nn_gelu(x): return tf.nn.gelu(x, approximate=False)
def tanh_gelu(x): return tf.nn.gelu(x, approximate=True)
variants = dict(nn_gelu_erfc=nn_gelu, erf_ops=erf_ops, erf_ops_custom_grad=erf_ops_custom_grad,
                xla_loops=gelu_tensorflow.gelu, tanh_approximation=tanh_gelu)
for name, f in variants.items():
    @tf.function
    def fwd(xs): return tf.add_n([tf.reduce_sum(f(x)) for x in xs])
    @tf.function
    def fb(xs):
        with tf.GradientTape() as t:
            t.watch(xs); ys = [f(x) for x in xs]
        gs = t.gradient(ys, xs, output_gradients=[dy] * N)
        return tf.add_n([tf.reduce_sum(y) for y in ys]) + tf.add_n([tf.reduce_sum(g) for g in gs])
    res = [time_calls(lambda: fn(xs).numpy(), steps=9, warmup=0)[1] * 1e3 / N for fn in (fwd, fb)]  # first call untimed
    print(f"{sys.argv[1]} {name:20s} forward {res[0]:6.2f} ms  forward + backward {res[1]:6.2f} ms")
