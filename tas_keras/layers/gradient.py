"""Gradient scaling at a branch point (keras.ops only)."""

from keras import ops


def scale_gradient(x, scale):
    """Identity forward; the gradient flowing back through it is multiplied by `scale` (0: none).

    The assistant's pre-norms make its gradient into the student inversely proportional to the
    student's feature scale: on small-scale token features it can outweigh the student's own
    gradient by 100x and take over the shared stages. Scaling it at the branch point keeps the
    assistant's forward (and its own training) unchanged."""
    if isinstance(scale, (int, float)):  # a Python number: exact no-ops at the ends
        if scale == 1.0:
            return x
        if scale == 0.0:
            return ops.stop_gradient(x)
    scale = ops.cast(scale, x.dtype)
    return ops.add(ops.multiply(x, scale), ops.multiply(ops.stop_gradient(x), ops.subtract(1.0, scale)))
