"""Tiny teacher / student models and data shared by the distillation tests."""

import keras
import numpy as np

import tas_keras

# The smallest model of each family: distillation tests build many pairs.
TINY = {
    "cnn": ("convnext_micro", {"depths": [1, 1, 1, 1], "dims": [16, 32, 64, 64]}),
    "vit": ("vit_micro_patch4_32", {"embed_dim": 32}),
    "mlp": ("resmlp_micro_patch4_32", {"embed_dim": 32}),
}
NUM_CLASSES = 10


def tiny(family, num_classes=NUM_CLASSES, **overrides):
    name, defaults = TINY[family]
    return tas_keras.create_model(name, num_classes=num_classes, **{**defaults, **overrides})


def tiny_data(n=8, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n, size, size, 3)).astype("float32"), rng.integers(0, NUM_CLASSES, size=(n,))


def snapshot(variables):
    return {v.path: keras.ops.convert_to_numpy(v).copy() for v in variables}


