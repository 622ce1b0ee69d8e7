# SPDX-License-Identifier: Apache-2.0
"""open_video: what it reports of a real clip with odd sides, and each refusal on one line."""
import re
import subprocess
from fractions import Fraction

import cv2
import pytest

from edvr.errors import DataError
from edvr.utils.video_reader import open_video
from tests.deploy.video_clips import ffmpeg, make_clip  # noqa: F401


def exactly(message):
    return rf'^{re.escape(message)}$'


def test_a_clip_reports_its_frames_rate_and_size(ffmpeg, tmp_path):
    clip = make_clip(ffmpeg, tmp_path / 'odd.mp4', (17, 10), '30000/1001', 12)
    capture, (count, fps, h, w) = open_video(clip)
    try:
        assert (count, h, w) == (12, 10, 17)
        assert Fraction(fps).limit_denominator(1_000_000) == Fraction(30000, 1001)
        ok, frame = capture.read()
        assert ok and frame.shape == (10, 17, 3)
    finally:
        capture.release()


def test_a_stream_without_a_frame_count_reports_zero(ffmpeg, tmp_path):
    raw = tmp_path / 'raw.h264'           # an elementary stream: no container, no count
    subprocess.run([ffmpeg, '-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i',
                    'testsrc2=size=16x16:rate=25', '-frames:v', '5', '-c:v', 'libx264',
                    '-f', 'h264', str(raw)], check=True)
    capture, (count, _, h, w) = open_video(raw)
    capture.release()
    assert (count, h, w) == (0, 16, 16)


def test_refusals(tmp_path):
    with pytest.raises(DataError, match=exactly(f'{tmp_path}: is a folder, expected a video file')):
        open_video(tmp_path)
    missing = tmp_path / 'none.mp4'
    with pytest.raises(DataError, match=exactly(f'{missing}: video file not found')):
        open_video(missing)
    damaged = tmp_path / 'damaged.mp4'
    damaged.write_bytes(b'\x00\x00\x00\x18ftypmp42' + b'\x00' * 100)
    with pytest.raises(DataError, match=exactly(
            f'{damaged}: cannot open this video (unsupported or damaged file)')):
        open_video(damaged)
    assert cv2.VideoCapture(str(damaged)).isOpened() is False
