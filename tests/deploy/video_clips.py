# SPDX-License-Identifier: Apache-2.0
"""Real video clips made with ffmpeg, and what ffmpeg reads back from a written file."""
import os
import re
import subprocess
from fractions import Fraction

import cv2
import numpy as np
import pytest

from edvr.deploy.encoder import find_ffmpeg


@pytest.fixture(scope='session')
def ffmpeg():
    """The ffmpeg the project uses (imageio-ffmpeg is in requirements-test.txt)."""
    path = find_ffmpeg()
    assert path is not None, 'no ffmpeg: pip install imageio-ffmpeg'
    return path


def make_clip(ffmpeg, path, size, rate, frames, audio_seconds=None):
    """A moving test pattern of ``frames`` frames of ``size`` (w, h) at ``rate`` (e.g.
    '30000/1001'), H.264 4:4:4 (odd sides allowed), plus ``audio_seconds`` of a sine tone
    (AAC) if given, whatever the video's length."""
    video = str(path) + '.video.mp4' if audio_seconds is not None else str(path)
    subprocess.run([ffmpeg, '-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i',
                    f'testsrc2=size={size[0] + 1}x{size[1] + 1}:rate={rate}',
                    '-frames:v', str(frames), '-vf', f'format=yuv444p,crop={size[0]}:{size[1]}:0:0',
                    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv444p', video],
                   check=True)
    if audio_seconds is not None:
        subprocess.run([ffmpeg, '-v', 'error', '-nostdin', '-y', '-i', video, '-f', 'lavfi', '-t',
                        str(audio_seconds), '-i', 'sine=frequency=440:sample_rate=16000',
                        '-map', '0:v', '-map', '1:a', '-c:v', 'copy', '-c:a', 'aac', str(path)],
                       check=True)
        os.remove(video)
    return path


def stream_lines(ffmpeg, path):
    """The ``Stream #`` lines ffmpeg prints for ``path``."""
    err = subprocess.run([ffmpeg, '-hide_banner', '-i', str(path)], capture_output=True,
                         text=True).stderr
    return [line.strip() for line in err.splitlines() if line.strip().startswith('Stream #')]


def stream_seconds(ffmpeg, path, which):
    """Duration in seconds of stream ``which`` ('v' or 'a') of ``path``, demuxed by ffmpeg."""
    out = subprocess.run([ffmpeg, '-v', 'error', '-i', str(path), '-map', f'0:{which}:0', '-c',
                          'copy', '-f', 'null', '-', '-progress', 'pipe:1', '-nostats'],
                         capture_output=True, text=True, check=True).stdout
    return int(re.findall(r'^out_time_us=(\d+)', out, re.M)[-1]) / 1e6


def container_rate(path):
    """The video's frame rate as the container gives it, as an exact fraction."""
    capture = cv2.VideoCapture(str(path))
    rate = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return Fraction(rate).limit_denominator(1_000_000)


def decode_rgb(ffmpeg, path, size):
    """Every frame of ``path`` decoded by ffmpeg as uint8 RGB (n, h, w, 3); ``size`` (w, h)."""
    raw = subprocess.run([ffmpeg, '-v', 'error', '-i', str(path), '-f', 'rawvideo', '-pix_fmt',
                          'rgb24', '-'], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, size[1], size[0], 3)


def decode_opencv(path):
    """Every frame of ``path`` as OpenCV decodes it, converted to RGB (what the tool restores)."""
    capture, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames
