"""The hybrid assistant: a branch off a student stage that mixes convolution (local) and attention
(global) modules, downsamples to the teacher's last-stage grid and predicts logits.

It consumes the student's stage features, so gradients of its losses train the shared student stages.
"""

import math

import keras
from keras import layers, ops

from tas_keras.errors import InputError
from tas_keras.layers import (
    DepthwiseConv2D,
    Mlp,
    MultiHeadSelfAttention,
    TokensToMap,
    dense,
    depthwise_conv,
    heads_for,
    pad_spatial,
    partition,
    trunc_normal,
    unpartition,
)
from tas_keras.serialization import PACKAGE

MODULES = ("conv", "attn", "mlp")
FAMILY_MODULE = {"cnn": "conv", "vit": "attn", "mlp": "attn"}  # the mixing each family relies on


def default_modules(student_family, teacher_family):
    """Student's own mixing first (it reads student features), then the teacher's, then whichever
    of conv / attention is still missing, so the block is always hybrid; a channel MLP ends it."""
    order = [FAMILY_MODULE[student_family], FAMILY_MODULE[teacher_family], "conv", "attn"]
    return [m for i, m in enumerate(order) if m not in order[:i]] + ["mlp"]


def check_modules(modules):
    modules = list(modules)
    bad = [m for m in modules if m not in MODULES]
    if bad or not modules:
        raise InputError(f"Unknown assistant module(s) {bad or modules}; valid modules: {MODULES}.")
    return modules


@keras.saving.register_keras_serializable(package=PACKAGE)
class HybridBlock(layers.Layer):
    """Pre-norm residual modules applied in order on a (B, H, W, C) map:
    conv = depthwise k x k conv (local), attn = multi-head self-attention over the whole map, or over
    non-overlapping windows when the map has more than `max_tokens` positions (global), mlp = channel MLP."""

    def __init__(self, modules=("conv", "attn", "mlp"), num_heads=4, kernel_size=7, mlp_ratio=4.0, window_size=7, max_tokens=196, **kwargs):
        super().__init__(**kwargs)
        self.module_order = check_modules(modules)
        self.num_heads = int(num_heads)
        self.kernel_size = int(kernel_size)
        self.mlp_ratio = float(mlp_ratio)
        self.window_size = int(window_size)
        self.max_tokens = int(max_tokens)

    def build(self, input_shape):
        _, height, width, dim = input_shape
        self.window = None if height * width <= self.max_tokens else min(self.window_size, height, width)
        self.norms, self.mixers = [], []
        for i, module in enumerate(self.module_order):
            norm = layers.LayerNormalization(epsilon=1e-6, name=f"{module}{i}_norm")
            if module == "conv":
                mixer = DepthwiseConv2D(self.kernel_size, padding="same", depthwise_initializer=trunc_normal(), name=f"conv{i}")
                mixer.build(input_shape)
            elif module == "attn":
                mixer = MultiHeadSelfAttention(self.num_heads, name=f"attn{i}")
                mixer.build((None, None, dim))
            else:
                mixer = Mlp(int(dim * self.mlp_ratio), name=f"mlp{i}")
                mixer.build(input_shape)
            norm.build(input_shape)
            self.norms.append(norm)
            self.mixers.append(mixer)

    def _attend(self, attention, x):
        height, width, dim = x.shape[1], x.shape[2], x.shape[3]
        if self.window is None:
            return ops.reshape(attention(ops.reshape(x, (-1, height * width, dim))), (-1, height, width, dim))
        w = self.window
        hp, wp = -(-height // w) * w, -(-width // w) * w
        if (hp, wp) != (height, width):
            x = pad_spatial(x, 0, hp - height, 0, wp - width)
        x = unpartition(attention(partition(x, w)), w, hp, wp)
        return x[:, :height, :width, :]

    def _residual_conv(self, conv, x, y):
        """x + depthwise_conv(y) + bias, summed as (x + bias) + conv: TensorFlow's oneDNN remapper fuses
        DepthwiseConv + BiasAdd + residual Add into a node Grappler cannot import, and logs `empty op
        name` errors for every traced step; this order leaves nothing to fuse (same sum, same weights)."""
        return ops.add(ops.add(x, conv.bias), depthwise_conv(y, conv.kernel, padding="same"))

    def call(self, x):
        for module, norm, mixer in zip(self.module_order, self.norms, self.mixers):
            y = norm(x)
            if module == "conv":
                x = self._residual_conv(mixer, x, y)
            else:
                x = x + (self._attend(mixer, y) if module == "attn" else mixer(y))
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "modules": self.module_order,
            "num_heads": self.num_heads,
            "kernel_size": self.kernel_size,
            "mlp_ratio": self.mlp_ratio,
            "window_size": self.window_size,
            "max_tokens": self.max_tokens,
        }


def build_assistant(
    stage_info,
    image_size,
    target_reduction,
    target_channels,
    num_classes,
    modules,
    depth=1,
    name="assistant",
):
    """A functional model: student stage features -> {"features": (B, h, w, C), "logits": (B, K)}.

    stage_info: the student's feature_info entry it branches from. It downsamples by 2 per stage
    until it reaches `target_reduction` (the teacher's last-stage stride w.r.t. the input) and ends
    `target_channels` wide; earlier stages are half as wide per remaining downsampling.
    """
    modules = check_modules(modules)
    if depth < 1:
        raise InputError(f"assistant depth must be >= 1 block per stage; got {depth}.")
    side = image_size // stage_info["reduction"]
    if stage_info["layout"] == "tokens":
        shape = (stage_info["num_prefix_tokens"] + side * side, stage_info["channels"])
    else:
        shape = (side, side, stage_info["channels"])
    inputs = keras.Input(shape, name=f"{name}_input")
    x = TokensToMap(stage_info["num_prefix_tokens"], name=f"{name}_to_map")(inputs) if stage_info["layout"] == "tokens" else inputs

    ratio = max(1, target_reduction // stage_info["reduction"])
    downsamples = min(int(math.log2(ratio)), int(math.log2(side)))
    widths = [max(16, target_channels // 2 ** (downsamples - s)) for s in range(downsamples + 1)]
    x = layers.Conv2D(widths[0], 1, kernel_initializer=trunc_normal(), name=f"{name}_stem")(x)
    for s, width in enumerate(widths):
        if s > 0:
            x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_down{s}_norm")(x)
            x = layers.Conv2D(width, 2, strides=2, kernel_initializer=trunc_normal(), name=f"{name}_down{s}")(x)
        for b in range(depth):
            x = HybridBlock(modules, num_heads=heads_for(width), name=f"{name}_stage{s + 1}_block{b + 1}")(x)
    features = x
    x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_head_norm")(x)
    logits = dense(num_classes, name=f"{name}_head")(x)
    return keras.Model(inputs, {"features": features, "logits": logits}, name=name)
