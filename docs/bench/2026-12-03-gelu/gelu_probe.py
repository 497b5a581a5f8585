"""TensorFlow GELU forms on one (32, 64, 1536) tensor: ms per call, forward and forward + backward.
    python docs/bench/2026-12-03-gelu/gelu_probe.py bf16|fp32
"""
import time, sys
import tensorflow as tf
import numpy as np
dtype = tf.bfloat16 if sys.argv[1] == "bf16" else tf.float32
x0 = tf.constant(np.random.randn(32, 64, 1536).astype("float32"), dtype)
dy = tf.constant(np.random.randn(32, 64, 1536).astype("float32"), dtype)
C = 0.7071067811865476

def nn_gelu(x): return tf.nn.gelu(x, approximate=False)
def erf_gelu(x): return 0.5 * x * (1.0 + tf.math.erf(x * C))
def f32_gelu(x): return tf.cast(tf.nn.gelu(tf.cast(x, tf.float32), approximate=False), x.dtype)
@tf.custom_gradient
def custom_gelu(x):
    cdf = 0.5 * (1.0 + tf.math.erf(x * C))
    def grad(g):
        pdf = tf.exp(-0.5 * tf.square(x)) * 0.3989422804014327
        return g * (cdf + x * pdf)
    return x * cdf, grad
def erfonly(x): return tf.math.erf(x)
def erfconly(x): return tf.math.erfc(x)
def exponly(x): return tf.exp(x)
def mulonly(x): return x * x

variants = dict(nn_gelu=nn_gelu, erf_gelu=erf_gelu, f32_gelu=f32_gelu, custom_gelu=custom_gelu,
                erf=erfonly, erfc=erfconly, exp=exponly, mul=mulonly)
for name, f in variants.items():
    @tf.function
    def fwd(x): return f(x)
    @tf.function
    def fb(x):
        with tf.GradientTape() as t:
            t.watch(x); y = f(x)
        return t.gradient(y, x, output_gradients=dy)
    res = []
    for fn in (fwd, fb):
        fn(x0).numpy()
        ts = []
        for _ in range(15):
            s = time.perf_counter(); fn(x0).numpy(); ts.append(time.perf_counter() - s)
        res.append(np.median(ts) * 1e3)
    print(f"{name:12s} fwd {res[0]:6.2f} ms  fwd+bwd {res[1]:6.2f} ms")
