# SPDX-License-Identifier: Apache-2.0
import math

import numpy as np
import pytest

from edvr.utils.imresize import cubic, imresize


def reference_kernel(x):
    x = abs(x)
    if x <= 1:
        return 1.5 * x ** 3 - 2.5 * x ** 2 + 1
    if x <= 2:
        return -0.5 * x ** 3 + 2.5 * x ** 2 - 4 * x + 2
    return 0.0


def reference_resize_1d(signal, scale, antialiasing=True):
    """MATLAB's rule written out one output sample at a time (1-based positions)."""
    n = len(signal)
    out_len = math.ceil(n * scale - 1e-9)
    shrink = scale < 1 and antialiasing
    width = 4 / scale if shrink else 4
    out = []
    for i in range(1, out_len + 1):
        u = i / scale + 0.5 * (1 - 1 / scale)
        first = math.floor(u - width / 2)
        total, acc = 0.0, 0.0
        for j in range(first, first + math.ceil(width) + 2):
            w = scale * reference_kernel(scale * (u - j)) if shrink else reference_kernel(u - j)
            k = j
            while k < 1 or k > n:  # symmetric padding: ... 2 1 | 1 2 ... n | n n-1 ...
                k = 1 - k if k < 1 else 2 * n + 1 - k
            acc += w * signal[k - 1]
            total += w
        out.append(acc / total)
    return out


def reference_imresize(img, scale, uint8):
    """Rows first, then columns; uint8 rounded (half away from zero) after each pass."""
    def finish(a):
        return np.floor(np.clip(a, 0, 255) + 0.5) if uint8 else a
    img = img.astype(np.float64)
    cols = [reference_resize_1d(img[:, x], scale) for x in range(img.shape[1])]
    rows_done = finish(np.array(cols).T)
    out = np.array([reference_resize_1d(rows_done[y], scale) for y in range(rows_done.shape[0])])
    return finish(out)


def test_kernel_values():
    np.testing.assert_allclose(cubic(np.array([0, 0.5, 1, 1.5, 2, 2.5, -0.5])),
                               [1, 0.5625, 0, -0.0625, 0, 0, 0.5625])


def test_constant_image_stays_constant():
    for dtype, value in ((np.uint8, 173), (np.float64, 0.3)):
        img = np.full((24, 36, 3), value, dtype)
        for scale in (1 / 4, 1 / 3, 0.5, 2, 3):
            out = imresize(img, scale)
            assert out.dtype == dtype
            assert out.shape[:2] == (math.ceil(24 * scale), math.ceil(36 * scale))
            np.testing.assert_allclose(out, value, atol=1e-12)


def test_quarter_downscale_of_a_ramp_matches_the_analytic_value():
    # Output pixel k covers input pixels 4k..4k+3: a ramp a*x + b gives a*(4k + 1.5) + b,
    # exactly, wherever the 16-tap kernel stays inside the image.
    x = np.arange(96, dtype=np.float64)
    img = np.tile(0.7 * x + 3.0, (8, 1))
    out = imresize(img, 1 / 4)
    assert out.shape == (2, 24)
    k = np.arange(24)
    interior = slice(2, 22)
    np.testing.assert_allclose(out[0, interior], 0.7 * (4 * k[interior] + 1.5) + 3.0, atol=1e-9)
    # Upscaling by 2 puts output sample k at input position (k + 0.5) / 2 - 0.5.
    up = imresize(img, 2)
    kk = np.arange(4, 188)
    np.testing.assert_allclose(up[0, 4:188], 0.7 * ((kk + 0.5) / 2 - 0.5) + 3.0, atol=1e-9)


@pytest.mark.parametrize('scale', [1 / 4, 1 / 3, 0.5, 2])
def test_matches_per_pixel_reference_float(scale):
    img = np.random.default_rng(1).random((13, 17)) * 255
    np.testing.assert_allclose(imresize(img, scale), reference_imresize(img, scale, False),
                               rtol=0, atol=1e-9)


def test_matches_per_pixel_reference_uint8_and_channels():
    img = np.random.default_rng(2).integers(0, 256, (16, 20, 3), dtype=np.uint8)
    out = imresize(img, 1 / 4)
    assert out.dtype == np.uint8 and out.shape == (4, 5, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], reference_imresize(img[..., c], 1 / 4, True))


def test_without_antialiasing_the_kernel_is_not_widened():
    signal = np.zeros((1, 16))
    signal[0, 8] = 1.0
    narrow = imresize(np.repeat(signal, 4, 0), 0.5, antialiasing=False)[0]
    wide = imresize(np.repeat(signal, 4, 0), 0.5)[0]
    assert np.count_nonzero(np.abs(narrow) > 1e-12) < np.count_nonzero(np.abs(wide) > 1e-12)


def dense_matrix(n, scale):
    """MATLAB's bicubic resize along one axis as an explicit (out, n) matrix.

    Built differently from the implementation: output sample k (0-based) sits at
    x = (k + 0.5) / scale - 0.5 in 0-based input coordinates; every input
    position j of a wide symmetric extension gets weight kernel((x - j) * s) with
    s = min(scale, 1) (antialiasing), the extension is folded back onto the
    image with np.pad(mode='symmetric'), and rows are normalised.
    """
    s = min(scale, 1.0)
    out = math.ceil(n * scale - 1e-9)
    pad = n
    index = np.pad(np.arange(n), pad, mode='symmetric')  # position j + pad -> image index
    m = np.zeros((out, n))
    for k in range(out):
        x = (k + 0.5) / scale - 0.5
        for j in range(-pad, n + pad):
            w = reference_kernel((x - j) * s)
            if w:
                m[k, index[j + pad]] += w
        m[k] /= m[k].sum()
    return m


@pytest.mark.parametrize('shape', [(16, 20), (13, 9), (32, 12)])
def test_uint8_quarter_matches_a_dense_weight_matrix_within_one_level(shape):
    img = np.random.default_rng(shape[0]).integers(0, 256, shape + (3,), dtype=np.uint8)
    rows, cols = dense_matrix(shape[0], 1 / 4), dense_matrix(shape[1], 1 / 4)
    expected = np.empty((rows.shape[0], cols.shape[0], 3))
    for c in range(3):
        first = np.floor(np.clip(rows @ img[..., c].astype(np.float64), 0, 255) + 0.5)
        expected[..., c] = np.floor(np.clip(first @ cols.T, 0, 255) + 0.5)
    out = imresize(img, 1 / 4)
    assert out.shape == expected.shape
    assert np.abs(out.astype(np.int64) - expected).max() <= 1
    assert (out == expected).mean() > 0.99


def test_quarter_downscale_properties():
    img = np.random.default_rng(9).random((32, 24))
    out = imresize(img, 1 / 4)
    # mirror symmetry: resizing a flipped image gives the flipped result
    np.testing.assert_allclose(imresize(img[::-1, ::-1], 1 / 4), out[::-1, ::-1], atol=1e-12)
    # linearity (float input) and weights summing to one
    np.testing.assert_allclose(imresize(2 * img + 5, 1 / 4), 2 * out + 5, atol=1e-9)
    # a 4-periodic pattern is averaged over its period: every output equals the period mean
    period = np.tile(np.array([0.0, 1.0, 3.0, 8.0]), (4, 8))
    np.testing.assert_allclose(imresize(period.T.copy(), 1 / 4)[2:-2], 3.0, atol=1e-9)
