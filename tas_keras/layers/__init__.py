"""Building blocks shared by the models, the assistant and the methods (keras.ops / keras.layers only).

Import direction: layers/ imports nothing from tas_keras but errors and serialization; models/,
assistant and methods/ import layers/, never each other's internals (docs/architecture.md).
"""

from tas_keras.layers.attention import Mlp, MultiHeadSelfAttention, TransformerBlock, heads_for, partition, unpartition
from tas_keras.layers.core import Affine, DropPath, LayerScale, dense, drop_path_rates, residual, trunc_normal
from tas_keras.layers.gradient import scale_gradient
from tas_keras.layers.pooling import pool_to_grid, spatial_smooth
from tas_keras.layers.tokens import ClassToken, PositionEmbedding, TokenPool, TokensToMap, grid_side, patch_embed, tokens_to_map

__all__ = [
    "Affine", "ClassToken", "DropPath", "LayerScale", "Mlp", "MultiHeadSelfAttention", "PositionEmbedding", "TokenPool",
    "TokensToMap", "TransformerBlock", "dense", "drop_path_rates", "grid_side", "heads_for", "partition", "patch_embed", "pool_to_grid", "residual",
    "scale_gradient", "spatial_smooth", "tokens_to_map", "trunc_normal", "unpartition",
]
