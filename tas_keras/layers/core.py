"""Initialisers, dense layers, stochastic depth and per-channel scales shared by every model."""

import keras
from keras import layers, ops

from tas_keras.errors import InputError
from tas_keras.serialization import PACKAGE


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
