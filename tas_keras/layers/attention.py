"""Self-attention, the channel MLP, the pre-norm transformer block and window partitioning."""

import keras
from keras import layers, ops

from tas_keras.errors import InputError
from tas_keras.layers.activations import gelu
from tas_keras.layers.core import DropPath, dense
from tas_keras.serialization import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiHeadSelfAttention(layers.Layer):
    """Self-attention with one fused qkv projection (one matmul instead of three, as in timm).

    `call(x, bias=None)`: x is (B, N, C); `bias` is added to the (B, heads, N, N) attention logits
    (Swin's relative-position bias and shift mask).
    """

    def __init__(self, num_heads, qkv_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.qkv_bias = bool(qkv_bias)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim % self.num_heads:
            raise InputError(
                f"Attention width {dim} is not divisible by num_heads={self.num_heads}; "
                f"choose num_heads among the divisors of {dim}."
            )
        self.head_dim = dim // self.num_heads
        self.qkv = dense(3 * dim, use_bias=self.qkv_bias, name="qkv")
        self.qkv.build(input_shape)
        self.proj = dense(dim, name="proj")
        self.proj.build(input_shape)

    def attention_logits(self, x):
        """Returns (q·k^T * scale, v) with heads split: logits (B, H, N, N), v (B, H, N, d)."""
        qkv = ops.reshape(self.qkv(x), (-1, x.shape[1], 3, self.num_heads, self.head_dim))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * ops.cast(self.head_dim**-0.5, q.dtype)
        return ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))), v

    def combine(self, logits, v):
        """softmax(logits) @ v, heads merged back to (B, N, C), then the output projection."""
        # A single key (a 1x1 Swin window) gets weight 1: skip the degenerate softmax.
        out = v if v.shape[2] == 1 else ops.matmul(ops.softmax(logits, axis=-1), v)
        out = ops.transpose(out, (0, 2, 1, 3))
        return self.proj(ops.reshape(out, (-1, v.shape[2], self.num_heads * self.head_dim)))

    def call(self, x, bias=None):
        logits, v = self.attention_logits(x)
        if bias is not None:
            logits = logits + ops.cast(bias, logits.dtype)
        return self.combine(logits, v)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "qkv_bias": self.qkv_bias}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Mlp(layers.Layer):
    """Linear -> GELU -> Linear over the last axis (the transformer / mixer channel MLP)."""

    def __init__(self, hidden_dim, out_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.out_dim = None if out_dim is None else int(out_dim)

    def build(self, input_shape):
        out_dim = self.out_dim or input_shape[-1]
        self.fc1 = dense(self.hidden_dim, name="fc1")
        self.fc1.build(input_shape)
        self.fc2 = dense(out_dim, name="fc2")
        self.fc2.build(tuple(input_shape[:-1]) + (self.hidden_dim,))

    def call(self, x):
        return self.fc2(gelu(self.fc1(x)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.out_dim or input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim, "out_dim": self.out_dim}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerBlock(layers.Layer):
    """Pre-norm transformer block: x + mix_tokens(norm(x)), then + mlp(norm(x)), with optional
    stochastic depth. ViT uses it as is; Swin's block overrides `mix_tokens` with window attention."""

    def __init__(self, num_heads, mlp_ratio=4.0, qkv_bias=True, drop_path=0.0, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.mlp_ratio = float(mlp_ratio)
        self.qkv_bias = bool(qkv_bias)
        self.drop_path = float(drop_path)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        dim = input_shape[-1]
        self.norm1 = layers.LayerNormalization(epsilon=self.epsilon, name="norm1")
        self.attn = MultiHeadSelfAttention(self.num_heads, qkv_bias=self.qkv_bias, name="attn")
        self.norm2 = layers.LayerNormalization(epsilon=self.epsilon, name="norm2")
        self.mlp = Mlp(int(dim * self.mlp_ratio), name="mlp")
        for layer in (self.norm1, self.attn, self.norm2, self.mlp):
            layer.build(input_shape)
        self.drop = DropPath(self.drop_path, name="drop_path") if self.drop_path else None

    def _drop(self, x, training):
        return self.drop(x, training=training) if self.drop is not None else x

    def mix_tokens(self, x):
        """The token-mixing branch on normalised inputs: global self-attention (Swin: windows)."""
        return self.attn(x)

    def call(self, x, training=None):
        x = x + self._drop(self.mix_tokens(self.norm1(x)), training)
        return x + self._drop(self.mlp(self.norm2(x)), training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "mlp_ratio": self.mlp_ratio,
            "qkv_bias": self.qkv_bias,
            "drop_path": self.drop_path,
            "epsilon": self.epsilon,
        }


def heads_for(width, head_dim=32):
    """As many heads of about `head_dim` channels as divide the width."""
    heads = max(1, width // head_dim)
    while width % heads:
        heads -= 1
    return heads


def partition(x, window):
    """(B, H, W, C) -> (B * nW, window * window, C) non-overlapping windows (H, W divisible by window)."""
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    x = ops.reshape(x, (-1, h // window, window, w // window, window, c))
    return ops.reshape(ops.transpose(x, (0, 1, 3, 2, 4, 5)), (-1, window * window, c))


def unpartition(windows, window, h, w):
    """The inverse of partition: (B * nW, window * window, C) -> (B, h, w, C)."""
    c = windows.shape[-1]
    x = ops.reshape(windows, (-1, h // window, w // window, window, window, c))
    return ops.reshape(ops.transpose(x, (0, 1, 3, 2, 4, 5)), (-1, h, w, c))
