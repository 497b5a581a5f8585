"""Raw pixels -> model inputs. Training pipelines send uint8 images (4x fewer bytes to the device than
float32) and the Distiller normalises them inside its step with `normalize_pixels` (keras.ops)."""

import numpy as np
from keras import ops

from tas_keras.errors import InputError


def check_normalization(normalization):
    """The (mean, std) pair as float tuples, or a one-line error naming the bad value."""
    try:
        mean, std = (tuple(float(v) for v in part) for part in normalization)
    except (TypeError, ValueError):
        mean = std = None
    if mean is None or len(mean) != len(std) or not mean or min(std) <= 0:
        raise InputError(f"pixel_normalization must be (mean, std), one value per channel each, std > 0 (e.g. "
                         f"((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))); got {normalization!r}.")
    return mean, std


def pixel_scale(normalization):
    """(mean, std) per channel on the 0..1 scale -> float32 (255 mean, 1 / (255 std)).

    A multiplication by the reciprocal, not a division: TensorFlow's graph optimizer and XLA rewrite
    division by a constant into that multiplication anyway (1 ulp apart from a true division), so
    only this form gives the same bits eagerly, in graphs, under XLA and in the tf.data pipeline."""
    mean, std = (np.asarray(v, np.float32) * np.float32(255.0) for v in normalization)
    return mean, np.float32(1.0) / std


def normalize_pixels(images, normalization):
    """uint8 (or float 0..255) NHWC images -> float32 (images - 255 mean) * (1 / (255 std))."""
    mean, inv_std = pixel_scale(normalization)
    return (ops.cast(images, "float32") - mean) * inv_std
