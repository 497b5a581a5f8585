import keras
from keras import layers

from tas_keras.layers import DepthwiseConv2D, LayerScale, Mlp, trunc_normal
from tas_keras.serialization import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConvNeXtBlock(layers.Layer):
    """dwconv7x7 -> LayerNorm -> MLP(4x) -> layer scale; the residual is added by the caller."""

    def __init__(self, kernel_size=7, mlp_ratio=4.0, layer_scale_init=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = int(kernel_size)
        self.mlp_ratio = float(mlp_ratio)
        self.layer_scale_init = float(layer_scale_init)

    def build(self, input_shape):
        dim = input_shape[-1]
        self.dwconv = DepthwiseConv2D(
            self.kernel_size, padding="same", depthwise_initializer=trunc_normal(), name="dwconv"
        )
        self.norm = layers.LayerNormalization(epsilon=1e-6, name="norm")
        self.mlp = Mlp(int(dim * self.mlp_ratio), name="mlp")
        self.scale = LayerScale(self.layer_scale_init, name="layer_scale")
        for layer in (self.dwconv, self.norm, self.mlp, self.scale):
            layer.build(input_shape)

    def call(self, x):
        return self.scale(self.mlp(self.norm(self.dwconv(x))))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": self.kernel_size,
            "mlp_ratio": self.mlp_ratio,
            "layer_scale_init": self.layer_scale_init,
        }
