# SPDX-License-Identifier: Apache-2.0
import os

import numpy as np
import pytest

from edvr.datasets.frame_index import (GetFrameIdx, GetFrameIdxwithPadding,
                                       GetNeighboringFramesIdx, padded_frame_indices)
from edvr.errors import ConfigError, DataError

# 5-frame windows in a 10-frame clip (indices 0..9).
PADDING_TABLE = {
    'replicate': {0: [0, 0, 0, 1, 2], 1: [0, 0, 1, 2, 3], 9: [7, 8, 9, 9, 9], 8: [6, 7, 8, 9, 9]},
    'reflection': {0: [2, 1, 0, 1, 2], 1: [1, 0, 1, 2, 3], 9: [7, 8, 9, 8, 7], 8: [6, 7, 8, 9, 8]},
    'reflection_circle': {0: [4, 3, 0, 1, 2], 1: [4, 0, 1, 2, 3], 9: [7, 8, 9, 6, 5],
                          8: [6, 7, 8, 9, 5]},
    'circle': {0: [3, 4, 0, 1, 2], 1: [4, 0, 1, 2, 3], 9: [7, 8, 9, 5, 6], 8: [6, 7, 8, 9, 5]},
}


@pytest.mark.parametrize('padding', sorted(PADDING_TABLE))
def test_padding_index_tables(padding):
    for center, expected in PADDING_TABLE[padding].items():
        assert padded_frame_indices(center, 5, 10, padding) == expected, (padding, center)
    assert padded_frame_indices(4, 5, 10, padding) == [2, 3, 4, 5, 6]
    assert padded_frame_indices(3, 7, 10, padding) == [0, 1, 2, 3, 4, 5, 6]


def test_padding_seven_frames_reflection_circle_at_start():
    assert padded_frame_indices(0, 7, 100, 'reflection_circle') == [6, 5, 4, 0, 1, 2, 3]
    assert padded_frame_indices(99, 7, 100, 'circle') == [96, 97, 98, 99, 93, 94, 95]


def test_padding_errors():
    with pytest.raises(ConfigError, match='padding'):
        padded_frame_indices(0, 5, 10, 'zeros')
    with pytest.raises(DataError, match='2 frames'):
        padded_frame_indices(0, 5, 2, 'reflection')
    with pytest.raises(DataError, match='outside'):
        padded_frame_indices(10, 5, 10, 'replicate')


def test_get_frame_idx_with_padding_paths():
    op = GetFrameIdxwithPadding('reflection_circle')
    out = op(dict(key='000/00000000', num_frames=5, max_frame_num=10, lq_path='L', gt_path='G'))
    assert out['lq_path'] == [os.path.join('L', '000', f'{i:08d}.png') for i in [4, 3, 0, 1, 2]]
    assert out['gt_path'] == [os.path.join('G', '000', '00000000.png')]
    assert out['clip'] == '000'


def test_get_frame_idx_with_padding_uses_listed_names():
    names = [f'im{i + 1}.png' for i in range(6)]
    op = GetFrameIdxwithPadding('replicate')
    out = op(dict(key='calendar/im6', frame_idx=5, frame_names=names, num_frames=3,
                  max_frame_num=6, lq_path='L', gt_path='G'))
    expected = [os.path.join('L', 'calendar', n) for n in ('im5.png', 'im6.png', 'im6.png')]
    assert out['lq_path'] == expected
    assert out['gt_path'] == [os.path.join('G', 'calendar', 'im6.png')]


def test_get_frame_idx_with_padding_short_clip_names_clip():
    op = GetFrameIdxwithPadding('circle')
    with pytest.raises(DataError, match='clip 007'):
        op(dict(key='007/00000000', num_frames=5, max_frame_num=2, lq_path='L', gt_path='G'))


def frame_numbers(paths):
    return [int(os.path.splitext(os.path.basename(p))[0]) for p in paths]


def run_get_frame_idx(op, key, seed, num_frames=5, max_frame_num=None):
    info = dict(key=key, num_frames=num_frames, lq_path='L', gt_path='G',
                rng=np.random.default_rng(seed))
    if max_frame_num is not None:
        info['max_frame_num'] = max_frame_num
    return op(info)


def test_get_frame_idx_keeps_a_valid_centre():
    out = run_get_frame_idx(GetFrameIdx([1]), '003/00000050', seed=0)
    assert frame_numbers(out['lq_path']) == [48, 49, 50, 51, 52]
    assert frame_numbers(out['gt_path']) == [50]
    assert out['key'] == '003/00000050' and out['clip'] == '003' and out['interval'] == 1


def test_get_frame_idx_bounds_and_redraw():
    op = GetFrameIdx([1, 2, 3])
    centres, intervals = set(), set()
    for seed in range(300):
        out = run_get_frame_idx(op, '001/00000000', seed)
        lq = frame_numbers(out['lq_path'])
        interval = out['interval']
        intervals.add(interval)
        assert len(lq) == 5 and min(lq) >= 0 and max(lq) <= 99
        assert np.all(np.diff(lq) == interval)
        assert frame_numbers(out['gt_path']) == [lq[2]]
        assert out['key'] == f'001/{lq[2]:08d}'
        centres.add((interval, lq[2]))
    assert intervals == {1, 2, 3}
    # Redrawn centres spread over every valid position of each interval.
    for interval in (1, 2, 3):
        mine = {c for i, c in centres if i == interval}
        assert len(mine) > 30
        assert all(2 * interval <= c <= 99 - 2 * interval for c in mine)


def test_get_frame_idx_limits_to_the_clip_length():
    op = GetFrameIdx([1])
    for seed in range(50):
        lq = frame_numbers(run_get_frame_idx(op, '001/00000023', seed, max_frame_num=24)['lq_path'])
        assert max(lq) <= 23 and min(lq) >= 0


def test_get_frame_idx_short_clip_names_clip():
    with pytest.raises(DataError, match='clip 042'):
        run_get_frame_idx(GetFrameIdx([2]), '042/00000001', 0, num_frames=5, max_frame_num=8)
    out = run_get_frame_idx(GetFrameIdx([2]), '042/00000001', 0, num_frames=5, max_frame_num=9)
    assert frame_numbers(out['lq_path']) == [0, 2, 4, 6, 8]


def test_get_frame_idx_is_reproducible_from_the_seed():
    op = GetFrameIdx([1, 2])
    a = [run_get_frame_idx(op, '001/00000000', s)['lq_path'] for s in range(20)]
    b = [run_get_frame_idx(op, '001/00000000', s)['lq_path'] for s in range(20)]
    assert a == b and len({tuple(x) for x in a}) > 5


def test_get_frame_idx_rejects_bad_intervals():
    with pytest.raises(ConfigError,
                       match=r'^GetFrameIdx\.interval_list: expected positive ints, got \[0\]$'):
        GetFrameIdx([0])


def test_get_neighboring_frames_idx():
    op = GetNeighboringFramesIdx([1, 2])
    starts = set()
    for seed in range(100):
        out = op(dict(key='clip', sequence_length=10, num_frames=3, lq_path='L', gt_path='G',
                      rng=np.random.default_rng(seed)))
        lq, gt = frame_numbers(out['lq_path']), frame_numbers(out['gt_path'])
        assert lq == gt and len(lq) == 3
        assert np.all(np.diff(lq) == out['interval'])
        assert 0 <= lq[0] <= 10 - 3 * out['interval']
        assert out['key'] == f'clip/{lq[1]:08d}'
        starts.add((out['interval'], lq[0]))
    assert {s for i, s in starts if i == 1} == set(range(8))
    assert {s for i, s in starts if i == 2} == set(range(5))
    with pytest.raises(DataError, match='clip short'):
        op(dict(key='short', clip='short', sequence_length=2, num_frames=3, lq_path='L',
                gt_path='G', rng=np.random.default_rng(0)))
