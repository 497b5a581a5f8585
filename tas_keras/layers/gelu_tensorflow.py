"""The exact GELU on the TensorFlow backend: its forward and its backward each one XLA-compiled loop.

Written as TensorFlow ops, GELU runs as 5 ops forward and ~8 backward (Erf, Exp, Square, Muls), each a
pass over the MLP's widest tensor; PyTorch runs one kernel each way. Compiled by XLA (jit_compile
functions, called from the plain graph like any op, inlined into an XLA step), each is one pass:
the paper-size KD step 8-11% faster on a Zen 5 CPU (docs/speed.md). Imported by activations.gelu only under
the TensorFlow backend.
"""

import tensorflow as tf

SQRT_HALF = 0.7071067811865476
INV_SQRT_2PI = 0.3989422804014327
_COMPUTE = {tf.bfloat16: tf.float32, tf.float16: tf.float32}  # 16-bit inputs compute in float32, as oneDNN and cuDNN do


def _xla(fn):
    return tf.function(fn, jit_compile=True, autograph=False, reduce_retracing=True)


def _normal_cdf(v):
    return 0.5 * (1.0 + tf.math.erf(v * SQRT_HALF))


@_xla
def _forward(x):
    v = tf.cast(x, _COMPUTE.get(x.dtype, x.dtype))
    return tf.cast(v * _normal_cdf(v), x.dtype)


@_xla
def _backward(x, dy):
    """dy * (Phi(x) + x phi(x)), recomputed from x: only x is kept for the backward."""
    compute = _COMPUTE.get(x.dtype, x.dtype)
    v, g = tf.cast(x, compute), tf.cast(dy, compute)
    pdf = tf.exp(-0.5 * tf.square(v)) * INV_SQRT_2PI
    return tf.cast(g * (_normal_cdf(v) + v * pdf), x.dtype)


@tf.custom_gradient
def gelu(x):
    return _forward(x), lambda dy: _backward(x, dy)
