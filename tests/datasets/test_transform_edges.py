# SPDX-License-Identifier: Apache-2.0
"""Paired transforms at their edges (one side too small, a draw equal to prob, a third
input, prebuilt transforms, the files named in a refusal); and, with hypothesis, LQ and
GT staying aligned through any crop, flips and transpose."""
import os
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edvr.datasets.transforms import (NormalizeSequence, PairedRandomHorizontalFlip,
                                      PairedRandomTransposeHW, PairedRandomVerticalFlip,
                                      SRPairedRandomCrop, Transforms)
from edvr.errors import ConfigError, DataError


def exactly(message):
    return rf'^{re.escape(message)}$'


class Draw:
    """An rng whose random() returns a chosen value."""

    def __init__(self, value):
        self.value = value

    def random(self):
        return self.value


def test_a_flip_happens_only_when_the_draw_is_below_prob():
    frame = np.arange(6).reshape(1, 6, 1)
    flip = PairedRandomHorizontalFlip(prob=0.5)
    assert flip((frame,), Draw(0.5))[0] is frame
    np.testing.assert_array_equal(flip((frame,), Draw(0.4999))[0], frame[:, ::-1])


def test_crop_refuses_one_side_too_small_and_passes_other_inputs_through():
    crop = SRPairedRandomCrop(scale=2, gt_patch_size=32)
    lq, gt, extra = np.zeros((10, 40, 3)), np.zeros((20, 80, 3)), object()
    with pytest.raises(DataError, match=exactly(
            'LQ size 10x40 is smaller than the 16x16 patch (gt_patch_size 32 / scale 2)')):
        crop((lq, gt), np.random.default_rng(0))
    out = crop((np.zeros((16, 40, 3)), np.zeros((32, 80, 3)), extra), np.random.default_rng(0))
    assert len(out) == 3 and out[2] is extra
    assert out[0].shape == (16, 16, 3) and out[1].shape == (32, 32, 3)


def test_the_crop_position_comes_from_the_sample_rng():
    lq = np.arange(12 * 20).reshape(12, 20, 1)
    gt = np.repeat(np.repeat(lq, 4, axis=0), 4, axis=1)
    op = Transforms([{'name': 'SRPairedRandomCrop', 'scale': 4, 'gt_patch_size': 16}],
                    ['lq', 'gt'])
    out = op({'lq': lq, 'gt': gt, 'rng': np.random.default_rng(11)})
    draws = np.random.default_rng(11)
    top, left = int(draws.integers(0, 12 - 4 + 1)), int(draws.integers(0, 20 - 4 + 1))
    np.testing.assert_array_equal(out['lq'], lq[top:top + 4, left:left + 4])
    np.testing.assert_array_equal(out['gt'], gt[4 * top:4 * top + 16, 4 * left:4 * left + 16])


def test_a_pipeline_without_rng_and_with_prebuilt_transforms():
    frame = np.arange(6).reshape(2, 3, 1)
    op = Transforms([PairedRandomVerticalFlip(prob=1.0), {'name': 'PairedRandomHorizontalFlip',
                                                          'prob': 1.0}], ['lq'])
    np.testing.assert_array_equal(op({'lq': frame})['lq'], frame[::-1, ::-1])


def test_a_refusal_names_the_centre_lq_frame_and_the_gt_file():
    op = Transforms([{'name': 'SRPairedRandomCrop', 'scale': 4, 'gt_patch_size': 16}],
                    ['lq', 'gt'])
    lq_files = [os.path.join('L', '000', f'{i:08d}.png') for i in range(5)]
    sample = {'lq': [np.zeros((8, 8, 3))] * 5, 'gt': np.zeros((30, 32, 3)),
              'lq_path': lq_files, 'gt_path': [os.path.join('G', '000', '00000002.png')]}
    with pytest.raises(DataError, match=exactly(
            f'LQ {lq_files[2]}, GT {os.path.join("G", "000", "00000002.png")}: LQ size 8x8 '
            'times scale 4 is 32x32, but GT size is 30x32')):
        op(dict(sample))
    for paths, named in (({'lq_path': 'L', 'gt_path': 'G', 'key': '000/00000002'}, '000/00000002'),
                         ({}, 'sample')):
        with pytest.raises(DataError, match=exactly(
                f'{named}: LQ size 8x8 times scale 4 is 32x32, but GT size is 30x32')):
            op(dict(dict(sample, lq_path=None, gt_path=None), **paths))


def test_pipeline_and_normalize_refusals():
    with pytest.raises(ConfigError, match=exactly(
            "Transforms.pipeline.1.name: unknown transform 'PairedRandomCrop'; did you mean "
            'SRPairedRandomCrop, PairedRandomTransposeHW, PairedRandomVerticalFlip?')):
        Transforms([{'name': 'TransposeSequence'}, {'name': 'PairedRandomCrop'}], ['lq'])
    with pytest.raises(ConfigError, match=exactly(
            "NormalizeSequence.data_format: expected CHW or HWC, got 'NCHW'")):
        NormalizeSequence(data_format='NCHW')


@pytest.mark.parametrize('mean, std', [([0, float('nan')], 1.0), (0.0, [1, float('inf')]),
                                       (0.0, [1, 0])])
def test_normalize_refuses_what_it_cannot_divide_by(mean, std):
    with pytest.raises(ConfigError, match=exactly(
            f'NormalizeSequence: mean {mean!r}, std {std!r}; expected finite numbers and no '
            'std of 0 (frames are divided by std)')):
        NormalizeSequence(mean=mean, std=std)


def test_normalize_defaults_only_convert_to_float32():
    frames = np.arange(24, dtype=np.uint8).reshape(2, 3, 2, 2)
    (out,) = NormalizeSequence()((frames,), None)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, frames.astype(np.float32))


@st.composite
def paired_frames(draw):
    """LQ frames (a list of t) and their GT, each GT pixel block a copy of its LQ pixel."""
    scale = draw(st.sampled_from([1, 2, 4]))
    patch = draw(st.integers(1, 5))
    h, w = draw(st.integers(patch, patch + 6)), draw(st.integers(patch, patch + 6))
    t = draw(st.integers(1, 3))
    lq = [np.arange(h * w * 3).reshape(h, w, 3) + 1000 * k for k in range(t)]
    gt = np.repeat(np.repeat(lq[t // 2], scale, axis=0), scale, axis=1)
    return lq, gt, scale, patch


@given(paired_frames(), st.integers(0, 2 ** 32 - 1), st.booleans())
def test_lq_and_gt_stay_aligned(pair, seed, transpose):
    lq, gt, scale, patch = pair
    pipeline = [{'name': 'SRPairedRandomCrop', 'scale': scale, 'gt_patch_size': patch * scale},
                {'name': 'PairedRandomHorizontalFlip'}, {'name': 'PairedRandomVerticalFlip'}]
    if transpose:
        pipeline.append(PairedRandomTransposeHW(prob=0.5))
    out = Transforms(pipeline, ['lq', 'gt'])({'lq': lq, 'gt': gt,
                                              'rng': np.random.default_rng(seed)})
    t = len(lq)
    assert all(f.shape == (patch, patch, 3) for f in out['lq'])
    np.testing.assert_array_equal(
        out['gt'], np.repeat(np.repeat(out['lq'][t // 2], scale, axis=0), scale, axis=1))
    for k, frame in enumerate(out['lq']):            # every frame cut at the same place
        np.testing.assert_array_equal(frame, out['lq'][0] + 1000 * k)
