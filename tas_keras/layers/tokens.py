"""Patch embedding, class and position tokens, token pooling, and tokens <-> maps."""

import keras
from keras import layers, ops

from tas_keras.errors import InputError
from tas_keras.layers.core import trunc_normal
from tas_keras.serialization import PACKAGE


def patch_embed(images, patch_size, dim, name="patch_embed", flatten=False):
    """Non-overlapping patch_size x patch_size patches -> a (B, H/p, W/p, dim) map, or (B, N, dim)
    tokens with flatten=True: the stem of ViT, Mixer/ResMLP, Swin and ConvNeXt (also ConvNeXt's
    2x2 downsampling)."""
    x = layers.Conv2D(dim, patch_size, strides=patch_size, kernel_initializer=trunc_normal(), name=name)(images)
    return layers.Reshape((-1, dim), name=f"{name}_flatten")(x) if flatten else x


def grid_side(shape, num_prefix_tokens=0):
    """The side of the square grid of a (B, H, W, C) map or of (B, prefix + N, C) tokens."""
    if len(shape) == 4:
        return shape[1]
    return int(round((shape[1] - num_prefix_tokens) ** 0.5))


def tokens_to_map(tokens, num_prefix_tokens=0):
    """(B, prefix + N, C) tokens on a square grid -> (B, sqrt(N), sqrt(N), C)."""
    x = tokens[:, num_prefix_tokens:]
    count, channels = x.shape[1], x.shape[2]
    side = grid_side(x.shape)
    if side * side != count:
        raise InputError(f"{count} patch tokens do not form a square grid; cannot turn them into a map.")
    return ops.reshape(x, (-1, side, side, channels))


@keras.saving.register_keras_serializable(package=PACKAGE)
class TokensToMap(layers.Layer):
    """(B, prefix + N, C) -> (B, sqrt(N), sqrt(N), C), dropping class tokens."""

    def __init__(self, num_prefix_tokens=0, **kwargs):
        super().__init__(**kwargs)
        self.num_prefix_tokens = int(num_prefix_tokens)

    def call(self, x):
        return tokens_to_map(x, self.num_prefix_tokens)

    def compute_output_shape(self, input_shape):
        side = grid_side(input_shape, self.num_prefix_tokens)
        return (input_shape[0], side, side, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "num_prefix_tokens": self.num_prefix_tokens}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ClassToken(layers.Layer):
    """Prepends a learned class token to a (B, N, C) token sequence."""

    def build(self, input_shape):
        self.token = self.add_weight(
            shape=(1, 1, input_shape[-1]), initializer=trunc_normal(1e-6), name="token"
        )

    def call(self, x):
        batch = ops.shape(x)[0]
        token = ops.broadcast_to(ops.cast(self.token, x.dtype), (batch, 1, x.shape[-1]))
        return ops.concatenate([token, x], axis=1)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], length, input_shape[2])


@keras.saving.register_keras_serializable(package=PACKAGE)
class PositionEmbedding(layers.Layer):
    """Adds a learned absolute position embedding of shape (1, N, C)."""

    def build(self, input_shape):
        self.embedding = self.add_weight(
            shape=(1, input_shape[1], input_shape[2]), initializer=trunc_normal(), name="embedding"
        )

    def call(self, x):
        return x + ops.cast(self.embedding, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class TokenPool(layers.Layer):
    """(B, N, C) -> (B, C): the first (class) token, or the mean of the tokens after the prefix."""

    MODES = ("token", "avg")

    def __init__(self, mode="token", num_prefix_tokens=1, **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise InputError(f"Unknown pooling mode {mode!r}; valid: {self.MODES}.")
        self.mode = mode
        self.num_prefix_tokens = int(num_prefix_tokens)

    def call(self, x):
        if self.mode == "token":
            return x[:, 0]
        return ops.mean(x[:, self.num_prefix_tokens :], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "num_prefix_tokens": self.num_prefix_tokens}
