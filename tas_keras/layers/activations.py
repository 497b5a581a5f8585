"""Activations written for the speed of the backend that runs them."""

import keras
from keras import ops


def gelu(x):
    """Exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (timm's nn.GELU; PyTorch's and JAX's form).

    On TensorFlow keras.ops.gelu calls tf.nn.gelu, which writes it with erfc (TensorFlow's bfloat16
    erfc kernel takes ~5x the time of its erf) and runs it op by op; so TensorFlow gets the erf form
    with its forward and backward each compiled by XLA into one loop (gelu_tensorflow). JAX
    (jax.nn.gelu is this formula, fused in the jitted step) and torch (one fused kernel) keep
    ops.gelu. Measured: docs/speed.md.
    """
    if keras.backend.backend() != "tensorflow" or isinstance(x, keras.KerasTensor):  # symbolic: shape and dtype only
        return ops.gelu(x, approximate=False)
    from tas_keras.layers import gelu_tensorflow  # here: `import tas_keras` never imports TensorFlow under JAX or torch

    return gelu_tensorflow.gelu(x)
