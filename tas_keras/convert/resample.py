"""Resizing the size-dependent parts of a checkpoint the way timm does: absolute position embeddings
(`timm.layers.resample_abs_pos_embed`: bicubic, antialiased) and Swin relative-position tables
(`timm.layers.resize_rel_pos_bias_table`). Pure numpy: conversion runs on the host before any backend
sees the weights, and needs no torch."""

import math

import numpy as np

from tas_keras.errors import InputError


def _cubic(x, a=-0.5):
    """Keys' cubic kernel; torch's antialiased bicubic uses a = -0.5 (as PIL does)."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def _aa_weights(in_size, out_size):
    """(out_size, in_size) interpolation matrix of torch's `F.interpolate(mode="bicubic",
    antialias=True, align_corners=False)` along one axis (ATen's `_compute_weights_aa`)."""
    scale = in_size / out_size
    support = 2.0 * scale if scale >= 1.0 else 2.0
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    matrix = np.zeros((out_size, in_size))
    for i in range(out_size):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        w = _cubic((np.arange(lo, hi) - center + 0.5) * invscale)
        total = w.sum()
        matrix[i, lo:hi] = w / total if total != 0 else w
    return matrix


def resize_bicubic(grid, size):
    """(H, W, C) -> (size[0], size[1], C), matching torch's antialiased bicubic interpolation."""
    rows, cols = _aa_weights(grid.shape[0], size[0]), _aa_weights(grid.shape[1], size[1])
    out = np.einsum("ih,hwc->iwc", rows, grid.astype(np.float64))
    return np.einsum("jw,iwc->ijc", cols, out).astype(np.float32)


def square_side(count, what):
    side = math.isqrt(count)
    if side * side != count:
        raise InputError(f"{what}: {count} positions do not form a square grid, so they cannot be resized.")
    return side


def resample_pos_embed(pos_embed, target_shape, num_prefix_tokens=1):
    """(1, prefix + N0, C) -> (1, prefix + N1, C): the patch positions resized on their square grid,
    the class-token positions kept, as timm's ViT checkpoint filter does."""
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[0, num_prefix_tokens:]
    old = square_side(grid.shape[0], "pos_embed")
    new = square_side(target_shape[1] - num_prefix_tokens, "pos_embed")
    resized = resize_bicubic(grid.reshape(old, old, -1), (new, new)).reshape(1, new * new, -1)
    return np.concatenate([prefix, resized], axis=1)


def _progression_positions(src, dst):
    """timm's (BEiT's) source positions: geometrically spaced so that the table's outer offsets spread
    over the destination range; for a smaller destination the spacing tends to 1 (a central crop)."""
    left, right = 1.01, 1.5
    while right - left > 1e-6:
        q = (left + right) / 2.0
        if (1.0 - q ** (src // 2)) / (1.0 - q) > dst // 2:
            right = q
        else:
            left = q
    distances, cur = [], 1.0
    for i in range(src // 2):
        distances.append(cur)
        cur += q ** (i + 1)
    return np.array([-d for d in reversed(distances)] + [0.0] + distances)


def resize_relative_position_table(table, target_shape):
    """(src^2, heads) -> (dst^2, heads) with src = 2 * window - 1: timm's default (scipy-free) resize,
    linear interpolation from geometrically spaced source positions onto the integer offsets."""
    heads = table.shape[1]
    if target_shape[1] != heads:
        raise InputError(f"relative_position_bias_table: checkpoint has {heads} heads, the model {target_shape[1]}.")
    src = square_side(table.shape[0], "relative_position_bias_table")
    dst = square_side(target_shape[0], "relative_position_bias_table")
    if src == dst:
        return table
    positions = _progression_positions(src, dst)
    targets = np.arange(-(dst // 2), dst // 2 + 0.1, 1.0)
    grid = table.reshape(src, src, heads).astype(np.float64)
    # Bilinear on a rectilinear grid is separable: rows first, then columns.
    rows = np.stack([[np.interp(targets, positions, grid[:, c, h]) for c in range(src)] for h in range(heads)])
    out = np.stack([[np.interp(targets, positions, rows[h, :, r]) for r in range(dst)] for h in range(heads)])
    return out.transpose(1, 2, 0).reshape(dst * dst, heads).astype(np.float32)
