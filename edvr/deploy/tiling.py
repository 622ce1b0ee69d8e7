# SPDX-License-Identifier: Apache-2.0
"""Restoring large frames in overlapping spatial tiles, blended back together.

Memory then depends on the tile size, not the frame size. Each tile is
restored on its own (padded as the network needs); where tiles overlap, their
outputs are blended with linear ramps, so no hard seam remains. Pixels near
a tile edge see less context than in a whole-frame pass, so tiled and untiled
outputs differ slightly there: the wider the overlap, the smaller the gap.
"""
import numpy as np


def tile_starts(size, tile, overlap):
    """Start offsets of tiles of length ``tile`` covering ``size`` with >= ``overlap`` overlap."""
    if size <= tile:
        return [0]
    step = max(tile - overlap, 1)
    return list(range(0, size - tile, step)) + [size - tile]


def _ramp(length, overlap, fade_in, fade_out):
    """1-D blending weights: 1 inside, linear ramps over ``overlap`` at inner edges."""
    weights = np.ones(length, np.float32)
    overlap = min(overlap, length)
    if overlap > 0:
        ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        if fade_in:
            weights[:overlap] = ramp
        if fade_out:
            weights[length - overlap:] = np.minimum(weights[length - overlap:], ramp[::-1])
    return weights


def restore_tiled(restore, lq, tile, overlap, scale):
    """Restore ``lq`` (b, t, c, h, w) tile by tile.

    Args:
        restore: callable (b, t, c, th, tw) -> (b, c, th * scale, tw * scale) ndarray.
        lq: float ndarray (b, t, c, h, w).
        tile: tile height and width in input pixels.
        overlap: overlap of neighbouring tiles in input pixels.
        scale: output size / input size.

    Returns:
        float32 ndarray (b, c, h * scale, w * scale).
    """
    b, _, c, h, w = lq.shape
    out = np.zeros((b, c, h * scale, w * scale), np.float32)
    total = np.zeros((h * scale, w * scale), np.float32)
    for top in tile_starts(h, tile, overlap):
        th = min(tile, h)
        wy = _ramp(th * scale, overlap * scale, top > 0, top + th < h)
        for left in tile_starts(w, tile, overlap):
            tw = min(tile, w)
            wx = _ramp(tw * scale, overlap * scale, left > 0, left + tw < w)
            piece = restore(np.ascontiguousarray(lq[..., top:top + th, left:left + tw]))
            weight = wy[:, None] * wx[None, :]
            ys = slice(top * scale, (top + th) * scale)
            xs = slice(left * scale, (left + tw) * scale)
            out[..., ys, xs] += piece * weight
            total[ys, xs] += weight
    return out / total
