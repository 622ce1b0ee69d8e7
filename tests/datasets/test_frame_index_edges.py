# SPDX-License-Identifier: Apache-2.0
"""Frame windows at their edges (a centre exactly `span` from either end, a clip exactly as
long as the window, nested clip names, a start index), with the full paths a dataset
reads; and, with hypothesis, every padding mode against numpy's own padding."""
import os
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edvr.datasets.frame_index import (GetFrameIdx, GetFrameIdxwithPadding,
                                       GetNeighboringFramesIdx, padded_frame_indices)
from edvr.errors import ConfigError, DataError

MODES = 'replicate, reflection, reflection_circle, circle'


def exactly(message):
    return rf'^{re.escape(message)}$'


def files(root, clip, numbers):
    return [os.path.join(root, clip, f'{i:08d}.png') for i in numbers]


@pytest.mark.parametrize('key, lq', [('001/00000002', [0, 1, 2, 3, 4]),
                                     ('001/00000097', [95, 96, 97, 98, 99])])
def test_a_centre_whose_window_just_fits_is_kept(key, lq):
    for seed in range(20):
        out = GetFrameIdx([1])(dict(key=key, num_frames=5, lq_path='L', gt_path='G',
                                    rng=np.random.default_rng(seed)))
        assert out['lq_path'] == files('L', '001', lq)
        assert out['gt_path'] == files('G', '001', [lq[2]])
        assert out['key'] == f'001/{lq[2]:08d}'


def test_get_frame_idx_without_a_seed_and_its_refusal():
    out = GetFrameIdx([3])(dict(key='001/00000050', num_frames=3, lq_path='L', gt_path='G'))
    assert out['lq_path'] == files('L', '001', [47, 50, 53]) and out['interval'] == 3
    with pytest.raises(DataError, match=exactly(
            'clip 042: 8 frames are too few for num_frames=5 with interval 2')):
        GetFrameIdx([2])(dict(key='042/00000001', num_frames=5, max_frame_num=8,
                              lq_path='L', gt_path='G'))


def test_padding_refusals_on_one_line():
    with pytest.raises(ConfigError, match=exactly(f"padding: expected one of {MODES}, got 'zeros'")):
        padded_frame_indices(0, 5, 10, 'zeros')
    with pytest.raises(ConfigError, match=exactly(
            f"GetFrameIdxwithPadding.padding: expected one of {MODES}, got 'zero'")):
        GetFrameIdxwithPadding('zero')
    with pytest.raises(DataError, match=exactly(
            'clip 007: a clip of 2 frames is too short for a 5-frame window with circle padding')):
        GetFrameIdxwithPadding('circle')(dict(key='007/00000000', num_frames=5, max_frame_num=2,
                                              lq_path='L', gt_path='G'))
    with pytest.raises(DataError, match=exactly(
            'clip 007: frame 10 is outside a clip of 10 frames')):
        GetFrameIdxwithPadding('circle')(dict(key='007/00000010', num_frames=5, max_frame_num=10,
                                              lq_path='L', gt_path='G'))


def test_a_clip_name_holding_slashes():
    names = [f'im{i}.png' for i in range(1, 8)]
    out = GetFrameIdxwithPadding('reflection')(dict(
        key='00001/0001/im4', frame_idx=3, frame_names=names, num_frames=7, max_frame_num=7,
        lq_path='L', gt_path='G'))
    assert out['lq_path'] == [os.path.join('L', '00001/0001', n) for n in names]
    assert out['gt_path'] == [os.path.join('G', '00001/0001', 'im4.png')]
    assert out['clip'] == '00001/0001'


def test_neighbouring_frames_exactly_as_long_as_the_clip_allows():
    op = GetNeighboringFramesIdx([2], start_idx=1)
    for seed in range(10):
        out = op(dict(clip='calendar', key='calendar/x', sequence_length=10, num_frames=5,
                      lq_path='L', gt_path='G', rng=np.random.default_rng(seed)))
        assert out['lq_path'] == files('L', 'calendar', [1, 3, 5, 7, 9])
        assert out['gt_path'] == files('G', 'calendar', [1, 3, 5, 7, 9])
        assert out['key'] == 'calendar/00000005' and out['clip'] == 'calendar'
    with pytest.raises(DataError, match=exactly(
            'clip calendar: 9 frames are too few for num_frames=5 with interval 2')):
        op(dict(key='calendar', sequence_length=9, num_frames=5, lq_path='L', gt_path='G'))


def test_neighbouring_frames_use_listed_names():
    names = [f'frame_{i}.jpg' for i in range(4)]
    out = GetNeighboringFramesIdx([1])(dict(key='c', sequence_length=4, frame_names=names,
                                            lq_path='L', gt_path='G'))
    assert out['lq_path'] == [os.path.join('L', 'c', n) for n in names]
    assert out['key'] == 'c/frame_2' and out['clip'] == 'c'


def test_neighbouring_frames_refuse_bad_intervals():
    with pytest.raises(ConfigError, match=exactly(
            'GetNeighboringFramesIdx.interval_list: expected positive ints, got [1, 0]')):
        GetNeighboringFramesIdx([1, 0])


# numpy's own padding of the frame numbers 0..n-1, read at the window of `center`.
NUMPY_MODE = {'replicate': 'edge', 'reflection': 'reflect'}


@st.composite
def windows(draw):
    half = draw(st.integers(0, 4))
    n = draw(st.integers(1, 14))
    return draw(st.integers(0, n - 1)), 2 * half + 1, n


@given(windows(), st.sampled_from(sorted(NUMPY_MODE)))
def test_replicate_and_reflection_equal_numpy_padding(window, mode):
    center, num_frames, n = window
    half = num_frames // 2
    last = n - 1
    if mode == 'reflection' and (center - half < -last or center + half > 2 * last):
        with pytest.raises(DataError):          # one reflection does not reach
            padded_frame_indices(center, num_frames, n, mode)
        return
    padded = np.pad(np.arange(n), half, mode=NUMPY_MODE[mode])
    assert padded_frame_indices(center, num_frames, n, mode) == \
        padded[center:center + num_frames].tolist()


@given(windows())
def test_circle_rotates_the_first_or_last_window(window):
    center, num_frames, n = window
    half = num_frames // 2
    if num_frames > n:
        return
    if center < half:      # the first num_frames frames, rotated to put center in the middle
        expected = np.roll(np.arange(num_frames), half - center)
    elif center > n - 1 - half:
        expected = np.roll(np.arange(n - num_frames, n), (n - 1 - center) - half)
    else:
        expected = np.arange(center - half, center + half + 1)
    assert padded_frame_indices(center, num_frames, n, 'circle') == expected.tolist()


@given(windows())
def test_reflection_circle_continues_the_window_backwards(window):
    center, num_frames, n = window
    half, last = num_frames // 2, n - 1
    inside = list(range(max(center - half, 0), min(center + half, last) + 1))
    # before frame 0: the frames after the window, nearest last; after the clip's end:
    # the frames before the window, nearest first
    before = list(range(2 * half, center + half, -1)) if center < half else []
    after = list(range(center - half - 1, last - 2 * half - 1, -1)) if center + half > last else []
    expected = before + inside + after
    if any(not 0 <= i <= last for i in expected):
        with pytest.raises(DataError):
            padded_frame_indices(center, num_frames, n, 'reflection_circle')
        return
    assert padded_frame_indices(center, num_frames, n, 'reflection_circle') == expected


@given(windows(), st.sampled_from(['replicate', 'reflection', 'reflection_circle', 'circle']))
def test_every_mode_keeps_the_centre_and_the_frames_inside(window, mode):
    center, num_frames, n = window
    try:
        indices = padded_frame_indices(center, num_frames, n, mode)
    except DataError:
        return
    half = num_frames // 2
    assert len(indices) == num_frames and indices[half] == center
    assert all(0 <= i < n for i in indices)
    for offset, i in enumerate(range(center - half, center + half + 1)):
        if 0 <= i < n:
            assert indices[offset] == i
