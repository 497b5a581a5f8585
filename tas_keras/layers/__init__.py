"""Building blocks shared by the models, the assistant and the methods (keras.ops / keras.layers only).

Import direction: layers/ imports nothing from tas_keras but errors and serialization; models/,
assistant and methods/ import layers/, never each other's internals (docs/architecture.md).
"""

from tas_keras.layers.activations import gelu
from tas_keras.layers.attention import Mlp, MultiHeadSelfAttention, TransformerBlock, heads_for, partition, unpartition
from tas_keras.layers.core import Affine, DropPath, LayerScale, dense, drop_path_rates, residual, trunc_normal
from tas_keras.layers.depthwise import DepthwiseConv2D, compiled_by_xla, depthwise_conv, depthwise_implementation, set_depthwise_implementation
from tas_keras.layers.gradient import scale_gradient
from tas_keras.layers.normalization import BatchNormalization
from tas_keras.layers.padding import ZeroPadding2D, pad_spatial
from tas_keras.layers.pooling import pool_to_grid, spatial_smooth
from tas_keras.layers.tokens import ClassToken, PositionEmbedding, TokenPool, TokensToMap, grid_side, patch_embed, tokens_to_map

__all__ = [
    "Affine", "BatchNormalization", "ClassToken", "DepthwiseConv2D", "DropPath", "LayerScale", "Mlp", "MultiHeadSelfAttention", "PositionEmbedding", "TokenPool",
    "TokensToMap", "TransformerBlock", "ZeroPadding2D", "compiled_by_xla", "dense", "depthwise_conv", "depthwise_implementation", "drop_path_rates", "gelu", "grid_side", "heads_for", "pad_spatial", "partition", "patch_embed", "pool_to_grid", "residual",
    "scale_gradient", "set_depthwise_implementation", "spatial_smooth", "tokens_to_map", "trunc_normal", "unpartition",
]
