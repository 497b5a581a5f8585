import keras
from keras import layers, ops

from tas_keras.layers import Affine, DropPath, LayerScale, Mlp, dense
from tas_keras.serialization import PACKAGE


class _TokenChannelBlock(layers.Layer):
    """Shared skeleton of MLP-Mixer and ResMLP blocks on (B, N, C) tokens:
    x + token_mix(norm1(x)^T)^T, then x + channel_mlp(norm2(x)), each with optional stochastic depth."""

    def __init__(self, drop_path=0.0, **kwargs):
        super().__init__(**kwargs)
        self.drop_path = float(drop_path)

    def build_common(self, input_shape, token_mixer, channel_mlp, norm_factory):
        tokens, dim = input_shape[1], input_shape[2]
        self.norm1, self.norm2 = norm_factory("norm1"), norm_factory("norm2")
        self.token_mixer, self.channel_mlp = token_mixer, channel_mlp
        self.norm1.build(input_shape)
        self.norm2.build(input_shape)
        self.token_mixer.build((None, dim, tokens))
        self.channel_mlp.build(input_shape)
        self.drop = DropPath(self.drop_path, name="drop_path") if self.drop_path else None

    def _drop(self, x, training):
        return self.drop(x, training=training) if self.drop is not None else x

    def mix_tokens(self, x):
        return ops.transpose(self.token_mixer(ops.transpose(self.norm1(x), (0, 2, 1))), (0, 2, 1))

    def call(self, x, training=None):
        x = x + self._drop(self.mix_tokens(x), training)
        return x + self._drop(self.channel_mlp(self.norm2(x)), training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "drop_path": self.drop_path}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MixerBlock(_TokenChannelBlock):
    """MLP-Mixer block: LayerNorm + token MLP, LayerNorm + channel MLP."""

    def __init__(self, mlp_ratio=(0.5, 4.0), drop_path=0.0, **kwargs):
        super().__init__(drop_path=drop_path, **kwargs)
        self.mlp_ratio = [float(r) for r in mlp_ratio]

    def build(self, input_shape):
        tokens, dim = input_shape[1], input_shape[2]
        self.build_common(
            input_shape,
            Mlp(int(dim * self.mlp_ratio[0]), out_dim=tokens, name="mlp_tokens"),
            Mlp(int(dim * self.mlp_ratio[1]), name="mlp_channels"),
            lambda name: layers.LayerNormalization(epsilon=1e-6, name=name),
        )

    def get_config(self):
        return {**super().get_config(), "mlp_ratio": self.mlp_ratio}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResMLPBlock(_TokenChannelBlock):
    """ResMLP block: Affine + linear token mixing + layer scale, Affine + channel MLP + layer scale."""

    def __init__(self, mlp_ratio=4.0, init_values=1e-4, drop_path=0.0, **kwargs):
        super().__init__(drop_path=drop_path, **kwargs)
        self.mlp_ratio = float(mlp_ratio)
        self.init_values = float(init_values)

    def build(self, input_shape):
        tokens, dim = input_shape[1], input_shape[2]
        self.build_common(
            input_shape,
            dense(tokens, name="linear_tokens"),
            Mlp(int(dim * self.mlp_ratio), name="mlp_channels"),
            lambda name: Affine(name=name),
        )
        self.ls1 = LayerScale(self.init_values, name="ls1")
        self.ls2 = LayerScale(self.init_values, name="ls2")
        self.ls1.build(input_shape)
        self.ls2.build(input_shape)

    def mix_tokens(self, x):
        """ls1(linear_tokens(norm1(x)^T)^T) as one per-channel scale and one (N, C) plane: norm1's and ls1's
        per-channel factors commute with the mixing over tokens, so the mixed tokens take one multiply and
        one add where the layers one by one take four activation-sized passes each way (the paper-size KD
        step 2-3% faster on a CPU; docs/speed.md). The mixing is the transposed kernel times each image's
        tokens, a broadcast matmul, so the tokens are not transposed there and back (fewer ops; the step
        no slower, its median 0.7-2.5% lower in four rotations on three CPUs, each within the noise;
        docs/speed.md). A quantized token mixer runs as its layer."""
        if self.token_mixer.quantization_mode:
            return self.mix_tokens_layer_by_layer(x)
        kernel, bias = self.token_mixer.kernel, self.token_mixer.bias
        alpha, beta, gamma = self.norm1.alpha, self.norm1.beta, self.ls1.gamma
        mixed = ops.matmul(ops.transpose(kernel), x)  # (N, N) @ (B, N, C): no transposes of the tokens
        kernel_32, beta_32, bias_32, gamma_32 = (ops.cast(v, "float32") for v in (kernel, beta, bias, gamma))
        plane = (ops.sum(kernel_32, axis=0)[:, None] * beta_32 + bias_32[:, None]) * gamma_32  # (N, C), small: float32 in any policy
        return mixed * (alpha * gamma) + ops.cast(plane, mixed.dtype)

    def mix_tokens_layer_by_layer(self, x):
        """The same as norm1, linear_tokens and ls1 each called as a layer (a quantized mixer's path; the
        reference of the tests and benchmarks)."""
        return self.ls1(super().mix_tokens(x))

    def call(self, x, training=None):
        x = x + self._drop(self.mix_tokens(x), training)
        return x + self._drop(self.ls2(self.channel_mlp(self.norm2(x))), training)

    def get_config(self):
        return {**super().get_config(), "mlp_ratio": self.mlp_ratio, "init_values": self.init_values}
