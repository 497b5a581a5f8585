"""Layers shared by several model families (keras.ops / keras.layers only, so every backend runs them)."""

import keras
from keras import layers, ops

from tas_keras.errors import InputError

PACKAGE = "tas_keras"


def trunc_normal(stddev=0.02):
    """timm's default initialiser for transformer / MLP weights."""
    return keras.initializers.TruncatedNormal(stddev=stddev)


def dense(units, use_bias=True, name=None):
    return layers.Dense(
        units,
        use_bias=use_bias,
        kernel_initializer=trunc_normal(),
        bias_initializer="zeros",
        name=name,
    )


def layer_norm(epsilon, name=None):
    return layers.LayerNormalization(epsilon=epsilon, name=name)


def drop_path_rates(drop_path_rate, depth):
    """Stochastic-depth rate per block, rising linearly to `drop_path_rate` (as in timm)."""
    if depth <= 1:
        return [float(drop_path_rate)] * depth
    return [float(drop_path_rate) * i / (depth - 1) for i in range(depth)]


@keras.saving.register_keras_serializable(package=PACKAGE)
class DropPath(layers.Layer):
    """Stochastic depth: drops the whole residual branch per sample while training."""

    def __init__(self, rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise InputError(f"DropPath rate must be in [0, 1); got {rate!r}.")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        noise = keras.random.uniform(shape, seed=self.seed_generator, dtype=x.dtype)
        mask = ops.floor(keep + noise)
        return x * mask / keep

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def residual(shortcut, branch, drop_rate, name):
    """shortcut + DropPath(branch); the DropPath layer only exists when it can drop something."""
    if drop_rate > 0.0:
        branch = DropPath(drop_rate, name=f"{name}_drop_path")(branch)
    return layers.Add(name=f"{name}_add")([shortcut, branch])


@keras.saving.register_keras_serializable(package=PACKAGE)
class LayerScale(layers.Layer):
    """Per-channel learnable scale (ConvNeXt / ResMLP `gamma`, initialised small)."""

    def __init__(self, init_value=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.init_value = float(init_value)

    def build(self, input_shape):
        self.gamma = self.add_weight(
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.init_value),
            name="gamma",
        )

    def call(self, x):
        return x * self.gamma

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "init_value": self.init_value}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Affine(layers.Layer):
    """ResMLP's normalisation replacement: alpha * x + beta per channel."""

    def build(self, input_shape):
        channels = input_shape[-1]
        self.alpha = self.add_weight(shape=(channels,), initializer="ones", name="alpha")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, x):
        return x * self.alpha + self.beta

    def compute_output_shape(self, input_shape):
        return input_shape


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
        return self.fc2(ops.gelu(self.fc1(x), approximate=False))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.out_dim or input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim, "out_dim": self.out_dim}


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
