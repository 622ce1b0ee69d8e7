# SPDX-License-Identifier: Apache-2.0
"""imresize against MATLAB's rule written one output pixel at a time, over sizes, scales
(shrinking, 1, enlarging by less than 2 and by 3 or 4), dtypes and antialiasing drawn by
hypothesis; and its edges: overshoot past 0 and 255, the smallest outputs, bad scales."""
import math
import re

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edvr.utils.imresize import imresize
from tests.datasets.test_imresize import reference_resize_1d

SCALES = [1 / 4, 1 / 3, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 4.0]
# at scale 1.5 one output pixel is exactly 107.5 one way and 107.49999999999997 the other
TIE_AT_1_5 = np.array([[170, 123, 36, 215, 142, 199, 87, 86, 199],
                       [42, 112, 33, 62, 197, 72, 30, 72, 6]], np.uint8)


def reference(img, scale, antialiasing, uint8, round_last=True):
    """Rows first, then columns; uint8 rounded (half away from zero) after each pass (after
    the first only, without ``round_last``)."""
    def finish(a):
        return np.floor(np.clip(a, 0, 255) + 0.5) if uint8 else a
    img = img.astype(np.float64)
    cols = [reference_resize_1d(img[:, x], scale, antialiasing) for x in range(img.shape[1])]
    rows_done = finish(np.array(cols).T)
    last = np.array([reference_resize_1d(row, scale, antialiasing) for row in rows_done])
    return finish(last) if round_last else last


@st.composite
def images(draw):
    """A dense random uint8 image (every pixel drawn, not hypothesis' mostly-zero fill)."""
    shape = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize('scale', SCALES)
@settings(max_examples=12)
@given(img=images(), antialiasing=st.booleans(), uint8=st.booleans())
@example(img=TIE_AT_1_5, antialiasing=False, uint8=True)
def test_imresize_equals_the_per_pixel_rule(scale, img, antialiasing, uint8):
    source = img if uint8 else img / np.float64(7)
    out = imresize(source, scale, antialiasing)
    expected = reference(source, scale, antialiasing, uint8)
    assert out.shape == expected.shape == tuple(math.ceil(n * scale - 1e-9) for n in img.shape)
    if uint8:
        assert out.dtype == np.uint8
        # an exact .5 reached by two summation orders may round either way: 1 apart there only
        unrounded = np.clip(reference(source, scale, antialiasing, True, round_last=False), 0, 255)
        tie = np.abs(unrounded - np.floor(unrounded) - 0.5) < 1e-9
        difference = np.abs(out.astype(np.int16) - expected.astype(np.int16))
        assert difference[~tie].max(initial=0) == 0 and difference[tie].max(initial=0) <= 1
    else:
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-9)


def test_overshoot_is_clipped_before_rounding():
    edge = np.zeros((4, 8), np.uint8)
    edge[:, 4:] = 255
    out = imresize(edge, 2)
    as_float = imresize(edge.astype(np.float64), 2)
    assert as_float.min() < -0.5 and as_float.max() > 255.5     # bicubic rings past the edge
    assert out.min() == 0 and out.max() == 255
    np.testing.assert_array_equal(out, reference(edge, 2, True, True))


def test_the_smallest_outputs_and_float_error_in_the_size():
    assert imresize(np.zeros((3, 2)), 1 / 4).shape == (1, 1)
    assert imresize(np.zeros((30, 20, 3)), 0.1).shape == (3, 2, 3)     # 30 * 0.1 = 3.0000000000000004
    np.testing.assert_array_equal(imresize(np.arange(12.).reshape(3, 4), 1.0),
                                  np.arange(12.).reshape(3, 4))


@pytest.mark.parametrize('scale', [0, -0.5])
def test_a_scale_that_is_not_positive_is_refused(scale):
    with pytest.raises(ValueError, match=rf'^{re.escape(f"imresize: scale must be positive, got {scale}")}$'):
        imresize(np.zeros((4, 4)), scale)
