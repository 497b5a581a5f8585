"""Averaging features to a coarse grid: the spatially agnostic view of maps and tokens."""

from keras import ops

from tas_keras.errors import InputError
from tas_keras.layers.tokens import tokens_to_map


def pool_to_grid(feature_map, grid):
    """(B, H, W, C) -> (B, grid, grid, C) by averaging equal cells (adaptive average pooling)."""
    height, width = feature_map.shape[1], feature_map.shape[2]
    if height % grid or width % grid:
        raise InputError(
            f"Cannot average a {height}x{width} map into a {grid}x{grid} grid: the grid must divide the map "
            f"(choose grid among the common divisors of {height} and {width})."
        )
    cell = (height // grid, width // grid)
    return ops.average_pool(feature_map, pool_size=cell, strides=cell, padding="valid")


def spatial_smooth(features, grid=1, layout="map", num_prefix_tokens=0):
    """Spatially smooth a feature map or token sequence to a grid x grid average, flattened to
    (B, grid * grid * C). grid=1 is global average pooling; grid > 1 keeps coarse layout. Prefix
    (class / distillation) tokens are dropped."""
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1:
        raise InputError(f"grid must be a positive integer; got {grid!r}.")
    if layout == "tokens":
        features = tokens_to_map(features, num_prefix_tokens)
    elif layout != "map":
        raise InputError(f"layout must be 'map' or 'tokens'; got {layout!r}.")
    pooled = pool_to_grid(features, grid)
    return ops.reshape(pooled, (-1, grid * grid * features.shape[-1]))
