# SPDX-License-Identifier: Apache-2.0
"""The ffmpeg writer: true colours (BT.709 both ways), exact with --lossless, any size, counted."""
import warnings
from fractions import Fraction

import numpy as np
import pytest

from edvr.deploy.encoder import FFmpegWriter, OpenCVWriter, as_rate, count_frames
from edvr.errors import DataError
from tests.deploy.video_clips import (container_rate, decode_opencv, decode_rgb, ffmpeg,  # noqa: F401
                                      stream_lines)

BAR_COLOURS = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192),
               (192, 0, 0), (0, 0, 192), (16, 16, 16)]
GREYS = (0, 16, 60, 128, 200, 235, 255)


def colour_bars(height, width):
    """Eight vertical bars (75% colour bars), (height, width, 3) uint8 RGB."""
    bars = np.zeros((height, width, 3), np.uint8)
    for i, colour in enumerate(BAR_COLOURS):
        bars[:, i * width // 8:(i + 1) * width // 8] = colour
    return bars


def test_as_rate_is_exact():
    assert as_rate(30000 / 1001) == Fraction(30000, 1001)
    assert as_rate(24000 / 1001) == Fraction(24000, 1001)
    assert as_rate(25.0) == 25 and as_rate(29.97) == Fraction(2997, 100)


def write(ffmpeg, path, frames, **options):
    height, width = frames[0].shape[:2]
    writer = FFmpegWriter(ffmpeg, str(path), (width, height), Fraction(30000, 1001), **options)
    for frame in frames:
        writer.write(frame)
    writer.close()
    return writer


def per_channel_error(decoded, frame):
    return np.abs(decoded.astype(int) - frame.astype(int)).mean(axis=(0, 1))


def test_h264_keeps_colours_within_one_level(ffmpeg, tmp_path):
    frames = [np.full((240, 320, 3), g, np.uint8) for g in GREYS] + [colour_bars(240, 320)] * 2
    out = tmp_path / 'colours.mp4'
    write(ffmpeg, out, frames)
    video = stream_lines(ffmpeg, out)[0]
    assert 'Video: h264' in video and 'yuv420p(tv, bt709, progressive)' in video
    assert container_rate(out) == Fraction(30000, 1001)
    for decoded in (decode_rgb(ffmpeg, out, (320, 240)), decode_opencv(out)):
        assert len(decoded) == len(frames) == count_frames(ffmpeg, str(out))
        for got, want in zip(decoded, frames):
            assert per_channel_error(got, want).max() <= 1.0
        # Red and blue are where they belong (a swap moves the bars by 192 levels).
        assert tuple(decoded[-1][120, 5 * 40 + 20]) == pytest.approx((192, 0, 0), abs=3)
    greys = decode_rgb(ffmpeg, out, (320, 240))[:len(GREYS)]
    assert [int(np.round(f.mean())) for f in greys] == list(GREYS)  # no shift, full range kept


@pytest.mark.parametrize('ext', ['.mp4', '.mkv', '.mov', '.avi'])
def test_lossless_is_exact_in_every_container(ffmpeg, tmp_path, ext):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (36, 52, 3), dtype=np.uint8), colour_bars(36, 52),
              np.full((36, 52, 3), 128, np.uint8)]
    out = tmp_path / f'exact{ext}'
    write(ffmpeg, out, frames, lossless=True)
    assert 'Video: h264 (High 4:4:4 Predictive)' in stream_lines(ffmpeg, out)[0]
    decoded = decode_rgb(ffmpeg, out, (52, 36))
    assert np.array_equal(decoded, np.stack(frames))


def test_odd_sizes_are_completed_for_yuv420(ffmpeg, tmp_path):
    orange = np.full((121, 161, 3), (230, 120, 20), np.uint8)
    out = tmp_path / 'odd.mp4'
    write(ffmpeg, out, [orange] * 2)
    decoded = decode_rgb(ffmpeg, out, (162, 122))  # last row and column repeated
    assert per_channel_error(decoded[0], orange[0, 0]).max() <= 1.0
    frame = colour_bars(121, 161)
    write(ffmpeg, tmp_path / 'odd.mkv', [frame], lossless=True)  # 4:4:4 keeps the size
    assert np.array_equal(decode_rgb(ffmpeg, tmp_path / 'odd.mkv', (161, 121))[0], frame)


def test_encoder_failure_names_the_file(ffmpeg, tmp_path):
    writer = FFmpegWriter(ffmpeg, str(tmp_path / 'x.mp4'), (32, 32), 25, crf=18,
                          preset='no-such-preset')
    with pytest.raises(DataError, match=r'x\.mp4: ffmpeg (stopped encoding|could not write)'):
        for _ in range(200):
            writer.write(np.zeros((32, 32, 3), np.uint8))
        writer.close()
    writer.abort()
    with pytest.raises(DataError, match=r'none\.mp4: ffmpeg cannot count its video frames'):
        count_frames(ffmpeg, str(tmp_path / 'none.mp4'))


def test_opencv_fallback_warns_what_is_lost(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        writer = OpenCVWriter(str(tmp_path / 'cv.avi'), (32, 24), 10)
    assert len(caught) == 1
    assert str(caught[0].message) == (
        'no ffmpeg could run (pip install imageio-ffmpeg): writing with OpenCV '
        '(MPEG-4 Part 2/MJPG): shifted colours, lower quality, no audio, and browsers '
        'cannot play it')
    for _ in range(3):
        writer.write(np.full((24, 32, 3), 100, np.uint8))
    writer.close()
    assert len(decode_opencv(tmp_path / 'cv.avi')) == writer.count == 3
