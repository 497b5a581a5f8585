"""Zero padding of (B, H, W, C) maps through ops.image.pad_images, not ops.pad.

ops.pad builds (and names, in a global counter) a Keras Operation at every call; under torch.compile
that counter's update ends the graph at the next Keras layer call, so a ResNet traced in a dozen pieces
(the compiled step's graph count, tools/torch_graph_breaks.py). pad_images pads the same tensors and
builds nothing outside symbolic calls."""

import keras
from keras import layers, ops

from tas_keras.serialization import PACKAGE


def pad_spatial(x, top, bottom, left, right):
    """Zeros around a (B, H, W, C) map: `top` rows above, `bottom` below, `left` / `right` columns."""
    return ops.image.pad_images(x, top, left, bottom, right, data_format="channels_last")


@keras.saving.register_keras_serializable(package=PACKAGE)
class ZeroPadding2D(layers.ZeroPadding2D):
    """keras.layers.ZeroPadding2D (same arguments and config), padding through pad_spatial."""

    def call(self, inputs):
        if self.data_format != "channels_last":
            return super().call(inputs)
        (top, bottom), (left, right) = self.padding
        return pad_spatial(inputs, top, bottom, left, right)
