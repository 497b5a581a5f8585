import keras
from keras import layers

from tas_keras.models.layers import PACKAGE, DropPath, Mlp, MultiHeadSelfAttention


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerBlock(layers.Layer):
    """Pre-norm ViT block: x + attn(norm(x)), then + mlp(norm(x)), with optional stochastic depth."""

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

    def call(self, x, training=None):
        x = x + self._drop(self.attn(self.norm1(x)), training)
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
