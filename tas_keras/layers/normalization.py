"""BatchNormalization whose training-mode statistics torch.compile can trace."""

import keras
from keras import layers

from tas_keras.serialization import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchNormalization(layers.BatchNormalization):
    """keras.layers.BatchNormalization (same arguments, config and weights) with its reduction axes kept
    as a tuple. Keras sets them as a list, which its attribute tracking wraps in a TrackedList, a type
    torch.compile cannot pass to torch.mean: each BatchNorm in training mode ended the compiled graph
    (tools/torch_graph_breaks.py)."""

    def build(self, input_shape):
        super().build(input_shape)
        self._reduction_axes = tuple(self._reduction_axes)
