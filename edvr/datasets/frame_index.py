# SPDX-License-Identifier: Apache-2.0
"""Ops that choose which frames of a clip make one sample.

A sample starts as an info dict naming a clip and a frame (``key`` =
``'clip/frame'``) and the LQ/GT folders in ``lq_path``/``gt_path``; these ops
replace the folders with lists of frame files. All randomness comes from
``results['rng']`` so a sample is reproducible from its seed.
"""
import os

import numpy as np

from edvr.errors import ConfigError, DataError
from edvr.registry import PREPROCESS

PADDING_MODES = ('replicate', 'reflection', 'reflection_circle', 'circle')


def padded_frame_indices(center, num_frames, max_frame_num, padding):
    """Indices of the ``num_frames`` window around ``center``, padded at clip ends.

    Args:
        center: index of the centre frame, 0-based.
        num_frames: window length (odd).
        max_frame_num: number of frames in the clip (valid indices 0..max_frame_num-1).
        padding: how indices outside the clip are replaced. For a window of 5
            around frame 0: ``replicate`` [0, 0, 0, 1, 2], ``reflection``
            [2, 1, 0, 1, 2], ``reflection_circle`` [4, 3, 0, 1, 2],
            ``circle`` [3, 4, 0, 1, 2].

    Returns:
        list of ``num_frames`` ints.

    Raises:
        ConfigError: unknown padding mode.
        DataError: the clip is too short for the window under this padding.
    """
    if padding not in PADDING_MODES:
        raise ConfigError(f'padding: expected one of {", ".join(PADDING_MODES)}, got {padding!r}')
    last = max_frame_num - 1
    if not 0 <= center <= last:
        raise DataError(f'frame {center} is outside a clip of {max_frame_num} frames')
    half = num_frames // 2
    indices = []
    for i in range(center - half, center + half + 1):
        if i < 0:
            idx = {'replicate': 0, 'reflection': -i,
                   'reflection_circle': center + half - i, 'circle': num_frames + i}[padding]
        elif i > last:
            idx = {'replicate': last, 'reflection': 2 * last - i,
                   'reflection_circle': center - half - (i - last),
                   'circle': i - num_frames}[padding]
        else:
            idx = i
        if not 0 <= idx <= last:
            raise DataError(f'a clip of {max_frame_num} frames is too short for a '
                            f'{num_frames}-frame window with {padding} padding')
        indices.append(idx)
    return indices


def _rng(results):
    rng = results.get('rng')
    return rng if rng is not None else np.random.default_rng()


def _split_key(key):
    clip, frame = key.rsplit('/', 1)
    return clip, frame


def _frame_file(results, idx, filename):
    """File name of frame ``idx``: from ``frame_names`` if the dataset listed them."""
    names = results.get('frame_names')
    return names[idx] if names is not None else filename


@PREPROCESS.register
class GetFrameIdx:
    """Training window for REDS-style clips: random interval, centre kept inside the clip.

    Picks an interval from ``interval_list``; if the window around the centre
    frame of ``key`` would leave the clip, the centre is redrawn uniformly among
    the centres whose window fits (PaddleGAN's rule).

    Reads: ``key`` ('clip/frame'), ``num_frames``, ``lq_path``/``gt_path``
    (folders), ``max_frame_num`` (frames in the clip; optional), ``rng``.
    Changes: ``lq_path`` (list of ``num_frames`` files), ``gt_path`` (list of the
    centre GT file), ``key`` (the centre actually used).
    Adds: ``interval``, ``clip``.

    Args:
        interval_list: temporal strides to choose from.
        frames_per_clip: index of the last usable frame (99 for REDS); a clip
            with fewer frames (``max_frame_num``) is limited to its own.
    """

    def __init__(self, interval_list, frames_per_clip=99):
        if not interval_list or any(int(v) < 1 for v in interval_list):
            raise ConfigError(f'GetFrameIdx.interval_list: expected positive ints, '
                              f'got {interval_list!r}')
        self.interval_list = [int(v) for v in interval_list]
        self.frames_per_clip = int(frames_per_clip)

    def __call__(self, results):
        rng = _rng(results)
        clip, frame = _split_key(results['key'])
        last = self.frames_per_clip
        if results.get('max_frame_num') is not None:
            last = min(last, int(results['max_frame_num']) - 1)
        num_frames = int(results['num_frames'])
        interval = self.interval_list[int(rng.integers(len(self.interval_list)))]
        span = num_frames // 2 * interval
        if 2 * span > last:
            raise DataError(f'clip {clip}: {last + 1} frames are too few for num_frames='
                            f'{num_frames} with interval {interval}')
        center = int(frame)
        if center - span < 0 or center + span > last:
            center = int(rng.integers(span, last - span + 1))
        neighbors = range(center - span, center + span + 1, interval)
        results['lq_path'] = [os.path.join(results['lq_path'], clip, f'{i:08d}.png')
                              for i in neighbors]
        results['gt_path'] = [os.path.join(results['gt_path'], clip, f'{center:08d}.png')]
        results['key'] = f'{clip}/{center:08d}'
        results['clip'] = clip
        results['interval'] = interval
        return results

    def __repr__(self):
        return (f'GetFrameIdx(interval_list={self.interval_list}, '
                f'frames_per_clip={self.frames_per_clip})')


@PREPROCESS.register
class GetFrameIdxwithPadding:
    """Evaluation window around every frame, padded at the clip ends.

    Reads: ``key`` ('clip/frame'), ``num_frames``, ``max_frame_num`` (frames in
    the clip), ``lq_path``/``gt_path`` (folders); optional ``frame_idx`` (the
    centre's position when frame names are not numbers) and ``frame_names``
    (the clip's file names, used instead of ``filename_tmpl``).
    Changes: ``lq_path`` (list of ``num_frames`` files), ``gt_path`` (list of the
    centre GT file).
    Adds: ``clip``.

    Args:
        padding: 'replicate', 'reflection', 'reflection_circle' or 'circle'
            (see `padded_frame_indices`).
        filename_tmpl: frame file stem from its index (``.png`` is appended).
    """

    def __init__(self, padding, filename_tmpl='{:08d}'):
        if padding not in PADDING_MODES:
            raise ConfigError(f'GetFrameIdxwithPadding.padding: expected one of '
                              f'{", ".join(PADDING_MODES)}, got {padding!r}')
        self.padding = padding
        self.filename_tmpl = filename_tmpl

    def __call__(self, results):
        clip, frame = _split_key(results['key'])
        center = results.get('frame_idx')
        center = int(frame) if center is None else int(center)
        try:
            indices = padded_frame_indices(center, int(results['num_frames']),
                                           int(results['max_frame_num']), self.padding)
        except DataError as exc:
            raise DataError(f'clip {clip}: {exc}') from None

        def path(root, idx):
            name = _frame_file(results, idx, f'{self.filename_tmpl.format(idx)}.png')
            return os.path.join(root, clip, name)

        results['lq_path'] = [path(results['lq_path'], i) for i in indices]
        results['gt_path'] = [path(results['gt_path'], center)]
        results['clip'] = clip
        return results

    def __repr__(self):
        return f'GetFrameIdxwithPadding(padding={self.padding!r})'


@PREPROCESS.register
class GetNeighboringFramesIdx:
    """A run of ``num_frames`` consecutive-by-interval frames, LQ and GT alike (recurrent nets).

    Picks an interval from ``interval_list`` and a start frame uniformly in
    ``[0, sequence_length - num_frames * interval]`` (PaddleGAN's rule).

    Reads: ``key`` or ``clip`` (the clip folder), ``sequence_length``,
    ``num_frames`` (default: the whole clip), ``lq_path``/``gt_path`` (folders),
    optional ``frame_names``, ``rng``.
    Changes: ``lq_path`` and ``gt_path`` (lists of ``num_frames`` files), ``key``
    ('clip/centre frame').
    Adds: ``interval``, ``clip``.

    Args:
        interval_list: temporal strides to choose from.
        start_idx: index of the first frame file of a clip.
        filename_tmpl: frame file name from its index.
    """

    def __init__(self, interval_list, start_idx=0, filename_tmpl='{:08d}.png'):
        if not interval_list or any(int(v) < 1 for v in interval_list):
            raise ConfigError(f'GetNeighboringFramesIdx.interval_list: expected positive ints, '
                              f'got {interval_list!r}')
        self.interval_list = [int(v) for v in interval_list]
        self.start_idx = int(start_idx)
        self.filename_tmpl = filename_tmpl

    def __call__(self, results):
        rng = _rng(results)
        clip = results.get('clip') or results['key']
        length = int(results['sequence_length'])
        num_frames = results.get('num_frames') or length
        interval = self.interval_list[int(rng.integers(len(self.interval_list)))]
        room = length - num_frames * interval
        if room < 0:
            raise DataError(f'clip {clip}: {length} frames are too few for num_frames='
                            f'{num_frames} with interval {interval}')
        start = int(rng.integers(0, room + 1))
        positions = range(start, start + num_frames * interval, interval)
        names = [_frame_file(results, p, self.filename_tmpl.format(p + self.start_idx))
                 for p in positions]
        results['lq_path'] = [os.path.join(results['lq_path'], clip, n) for n in names]
        results['gt_path'] = [os.path.join(results['gt_path'], clip, n) for n in names]
        results['key'] = f'{clip}/{os.path.splitext(names[len(names) // 2])[0]}'
        results['clip'] = clip
        results['interval'] = interval
        return results

    def __repr__(self):
        return f'GetNeighboringFramesIdx(interval_list={self.interval_list})'
