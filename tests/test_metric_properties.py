# SPDX-License-Identifier: Apache-2.0
"""Properties of PSNR/SSIM that hold for any image pair (hypothesis draws the images)."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edvr.metrics import PSNR, SSIM, psnr, ssim


@st.composite
def image_pairs(draw, min_side=1):
    """Two dense random uint8 images (every pixel drawn from a seeded generator), the second
    either independent of the first or the first plus small noise."""
    shape = (draw(st.integers(min_side, min_side + 9)), draw(st.integers(min_side, min_side + 9)),
             draw(st.sampled_from([1, 3])))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    a = rng.integers(0, 256, shape)
    b = np.clip(a + rng.integers(-9, 10, shape), 0, 255) if draw(st.booleans()) else \
        rng.integers(0, 256, shape)
    return a.astype(np.uint8), b.astype(np.uint8)


@given(image_pairs(), st.integers(0, 3), st.booleans())
def test_psnr_is_symmetric_and_crop_border_equals_slicing(pair, crop, y):
    a, b = pair
    if min(a.shape[:2]) <= 2 * crop:
        crop = 0
    assert psnr(a, b, crop, y) == psnr(b, a, crop, y)
    cut = (slice(crop, a.shape[0] - crop), slice(crop, a.shape[1] - crop))
    assert psnr(a, b, crop, y) == psnr(a[cut], b[cut], 0, y)
    assert psnr(a.transpose(2, 0, 1), b.transpose(2, 0, 1), crop, y, 'CHW') == psnr(a, b, crop, y)


@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 2 ** 32 - 1), st.integers(1, 55))
def test_psnr_of_a_constant_offset(h, w, seed, offset):
    img = np.random.default_rng(seed).integers(0, 201, (h, w, 3)).astype(np.uint8)
    assert psnr(img + offset, img) == pytest.approx(20 * math.log10(255 / offset), abs=1e-9)
    # the same offset on R, G and B moves Y by offset * 219 / 255
    assert psnr(img + offset, img, test_y_channel=True) == \
        pytest.approx(20 * math.log10(255 / (offset * 219 / 255)), abs=1e-9)


@given(image_pairs(min_side=11), st.booleans())
def test_ssim_is_symmetric_at_most_one_and_one_for_equal_images(pair, y):
    a, b = pair
    assert ssim(a, a, test_y_channel=y) == pytest.approx(1.0, abs=1e-9)
    assert ssim(a, b, test_y_channel=y) == pytest.approx(ssim(b, a, test_y_channel=y), abs=1e-12)
    assert ssim(a, b, test_y_channel=y) <= 1.0 + 1e-9


@given(st.lists(st.tuples(st.sampled_from(['000', '011']), st.integers(0, 5),
                          st.floats(0, 60)), min_size=1, max_size=12),
       st.randoms(use_true_random=False), st.sampled_from([PSNR, SSIM]))
def test_merged_mean_does_not_depend_on_the_split_or_order(frames, random, cls):
    values = {f'{clip}/{i:08d}': v for clip, i, v in frames}    # a repeated key: the last value
    items = list(values.items())
    whole = cls(crop_border=0)
    whole.merge([items])
    random.shuffle(items)
    padded = items + items[:2]                  # a padded sampler evaluates some frames twice
    merged = cls(crop_border=0)
    merged.merge([padded[rank::3] for rank in (2, 0, 1)])
    assert merged.accumulate() == whole.accumulate()
    assert merged.per_clip() == whole.per_clip()
    assert whole.accumulate() == pytest.approx(math.fsum(values.values()) / len(values))
