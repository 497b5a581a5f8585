"""Swin blocks on NHWC maps (as timm >= 0.9 does), with windows clipped to small resolutions."""

import keras
import numpy as np
from keras import layers, ops

from tas_keras.layers import TransformerBlock, dense, pad_spatial, partition, trunc_normal, unpartition
from tas_keras.serialization import PACKAGE

MASKED = -100.0  # added to logits between tokens from different regions of a shifted window


def window_and_shift(resolution, window_size, shift):
    """timm's rule: a window no larger than the map, and no shift when one window covers it."""
    if resolution <= window_size:
        return resolution, 0
    return window_size, (window_size // 2 if shift else 0)


def relative_position_index(window):
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (window - 1)
    return (rel[..., 0] * (2 * window - 1) + rel[..., 1]).astype("int32")  # (T, T)


def shift_mask(height, width, window, shift):
    """(nW, T, T) additive mask keeping attention inside the regions that the cyclic shift joined."""
    regions = np.zeros((height, width), "float32")
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for i, (hs, ws) in enumerate((hs, ws) for hs in cuts for ws in cuts):
        regions[hs, ws] = i
    ids = regions.reshape(height // window, window, width // window, window).transpose(0, 2, 1, 3)
    ids = ids.reshape(-1, window * window)  # (nW, T), in partition()'s window order
    return np.where(ids[:, None, :] != ids[:, :, None], MASKED, 0.0).astype("float32")


@keras.saving.register_keras_serializable(package=PACKAGE)
class SwinBlock(TransformerBlock):
    """The pre-norm transformer block with (shifted-)window attention, on a (B, H, W, C) map."""

    def __init__(self, num_heads, window_size=7, shift=False, mlp_ratio=4.0, drop_path=0.0, qkv_bias=True, epsilon=1e-5, **kwargs):
        super().__init__(num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop_path=drop_path, epsilon=epsilon, **kwargs)
        self.window_size = int(window_size)
        self.shift = bool(shift)

    def build(self, input_shape):
        super().build(input_shape)
        _, height, width, _ = input_shape
        self.window, self.shift_size = window_and_shift(min(height, width), self.window_size, self.shift)
        self.padded = (-(-height // self.window) * self.window, -(-width // self.window) * self.window)
        self.relative_bias_table = self.add_weight(
            shape=((2 * self.window - 1) ** 2, self.num_heads), initializer=trunc_normal(), name="relative_position_bias_table"
        )
        # backend tensors, made once: numpy arrays would be converted at every call, which torch.compile
        # cannot trace (it broke each Swin block's graph in three)
        self.relative_index = ops.convert_to_tensor(relative_position_index(self.window).reshape(-1))
        self.mask = ops.convert_to_tensor(shift_mask(*self.padded, self.window, self.shift_size)) if self.shift_size else None

    def mix_tokens(self, x):
        height, width = x.shape[1], x.shape[2]
        (hp, wp), s, window = self.padded, self.shift_size, self.window
        if (hp, wp) != (height, width):
            x = pad_spatial(x, 0, hp - height, 0, wp - width)
        if s:
            x = ops.roll(x, shift=(-s, -s), axis=(1, 2))
        windows = partition(x, window)
        logits, v = self.attn.attention_logits(windows)  # (B * nW, heads, T, T)
        tokens = window * window
        bias = ops.take(self.relative_bias_table, self.relative_index, axis=0)
        bias = ops.transpose(ops.reshape(bias, (tokens, tokens, self.num_heads)), (2, 0, 1))
        logits = logits + ops.cast(bias, logits.dtype)
        if self.mask is not None:
            num_windows = self.mask.shape[0]
            logits = ops.reshape(logits, (-1, num_windows, self.num_heads, tokens, tokens))
            logits = logits + ops.cast(self.mask[None, :, None], logits.dtype)
            logits = ops.reshape(logits, (-1, self.num_heads, tokens, tokens))
        x = unpartition(self.attn.combine(logits, v), window, hp, wp)
        if s:
            x = ops.roll(x, shift=(s, s), axis=(1, 2))
        return x[:, :height, :width, :]

    def get_config(self):
        return {**super().get_config(), "window_size": self.window_size, "shift": self.shift}


@keras.saving.register_keras_serializable(package=PACKAGE)
class PatchMerging(layers.Layer):
    """2x2 neighbourhood -> channels (4C), LayerNorm, linear to 2C: halves H and W."""

    def build(self, input_shape):
        dim = input_shape[-1]
        self.norm = layers.LayerNormalization(epsilon=1e-5, name="norm")
        self.norm.build((None, None, None, 4 * dim))
        self.reduction = dense(2 * dim, use_bias=False, name="reduction")
        self.reduction.build((None, None, None, 4 * dim))

    def call(self, x):
        h, w, c = x.shape[1], x.shape[2], x.shape[3]
        if h % 2 or w % 2:
            x = pad_spatial(x, 0, h % 2, 0, w % 2)
            h, w = h + h % 2, w + w % 2
        x = ops.reshape(x, (-1, h // 2, 2, w // 2, 2, c))
        x = ops.reshape(ops.transpose(x, (0, 1, 3, 4, 2, 5)), (-1, h // 2, w // 2, 4 * c))
        return self.reduction(self.norm(x))

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, -(-h // 2), -(-w // 2), 2 * c)
