# SPDX-License-Identifier: Apache-2.0
"""MATLAB-compatible bicubic ``imresize``: the degradation the SR benchmarks use.

MATLAB's ``imresize(img, scale, 'bicubic')`` differs from OpenCV's bicubic
resize in three ways, all reproduced here: the cubic kernel (a = -0.5) is
widened by ``1/scale`` when shrinking (antialiasing), out-of-range taps are
mirrored symmetrically (``1 2 3 | 3 2 1``), and the image is resized along
rows, then along columns. A uint8 image is rounded back to uint8 after each
axis, as MATLAB does.
"""
import math

import numpy as np

_KERNEL_WIDTH = 4.0


def cubic(x):
    """Keys' cubic convolution kernel with a = -0.5, evaluated element-wise."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def contributions(in_len, out_len, scale, antialiasing=True):
    """Input taps and weights of each output sample along one axis.

    Output sample ``i`` (1-based, as in MATLAB) sits at input position
    ``u = i / scale + 0.5 * (1 - 1 / scale)``; its weights are the kernel at
    ``u - j`` for the taps ``j`` around ``u``, normalised to sum to one. Taps
    outside ``[1, in_len]`` are folded back symmetrically, and tap columns
    whose weight is zero for every output are dropped.

    Returns:
        (indices, weights): (out_len, taps) int array of 0-based input
        indices, and the matching (out_len, taps) float64 weights.
    """
    shrink = scale < 1 and antialiasing
    width = _KERNEL_WIDTH / scale if shrink else _KERNEL_WIDTH
    u = np.arange(1, out_len + 1, dtype=np.float64) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = left[:, None] + np.arange(math.ceil(width) + 2)[None, :]
    dist = u[:, None] - taps
    weights = scale * cubic(scale * dist) if shrink else cubic(dist)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    indices = mirror[np.mod(taps.astype(np.int64) - 1, 2 * in_len)]
    keep = np.any(weights != 0, axis=0)
    return indices[:, keep], weights[:, keep]


def _resize_axis(img, axis, out_len, scale, antialiasing):
    """Resize float64 ``img`` along ``axis`` to ``out_len`` samples."""
    indices, weights = contributions(img.shape[axis], out_len, scale, antialiasing)
    moved = np.moveaxis(img, axis, 0)
    extra = (1,) * (moved.ndim - 1)
    out = np.zeros((out_len,) + moved.shape[1:], dtype=np.float64)
    for k in range(indices.shape[1]):
        out += weights[:, k].reshape((-1,) + extra) * moved[indices[:, k]]
    return np.moveaxis(out, 0, axis)


def _round_uint8(x):
    """Round half away from zero and saturate, like MATLAB's uint8 conversion."""
    return np.floor(np.clip(x, 0, 255) + 0.5).astype(np.uint8)


def imresize(img, scale, antialiasing=True):
    """Resize an image by ``scale`` with MATLAB's bicubic ``imresize``.

    Args:
        img: (h, w) or (h, w, c) array, uint8 or float.
        scale: resize factor, e.g. 1/4 to make a x4 low-resolution image.
        antialiasing: widen the kernel when shrinking (MATLAB's default).

    Returns:
        Array of shape (ceil(h * scale), ceil(w * scale)[, c]); uint8 in gives
        uint8 out (rounded after each axis, as MATLAB does), float in gives
        float64 out.
    """
    if scale <= 0:
        raise ValueError(f'imresize: scale must be positive, got {scale}')
    is_uint8 = img.dtype == np.uint8
    out = img if is_uint8 else img.astype(np.float64)
    in_shape = img.shape[:2]
    out_shape = [max(int(math.ceil(round(n * scale, 9))), 1) for n in in_shape]
    # With one scale for both axes MATLAB resizes rows first, then columns.
    for axis in (0, 1):
        out = _resize_axis(out.astype(np.float64), axis, out_shape[axis], scale, antialiasing)
        if is_uint8:
            out = _round_uint8(out)
    return out
