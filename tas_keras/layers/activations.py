"""Activations written for the speed of the backend that runs them."""

import keras
from keras import ops

SQRT_HALF = 0.7071067811865476


def gelu(x):
    """Exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (timm's nn.GELU; PyTorch's and JAX's form).

    On TensorFlow keras.ops.gelu calls tf.nn.gelu, which writes it with erfc, and TensorFlow's bfloat16
    erfc kernel takes ~5x the time of its erf; so TensorFlow gets the erf form. JAX (jax.nn.gelu is
    this formula) and torch (one fused kernel) keep ops.gelu. Measured: README, Speed.
    """
    if keras.backend.backend() != "tensorflow":
        return ops.gelu(x, approximate=False)
    return 0.5 * x * (1.0 + ops.erf(x * SQRT_HALF))
