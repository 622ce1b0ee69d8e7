# SPDX-License-Identifier: Apache-2.0
"""The video command: every frame, the exact frame rate, clear errors."""
import os
import re
import subprocess

import cv2
import numpy as np
import pytest

from edvr.config import dump_config, load_config
from tests.deploy.conftest import DEMO_CONFIG, tiny_overrides
from edvr.deploy.video import find_ffmpeg, has_audio
from tools.video_sr import main


def write_video(path, frames, fps):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(frame)
    writer.release()


def read_video(path):
    capture = cv2.VideoCapture(str(path))
    fps, frames = capture.get(cv2.CAP_PROP_FPS), []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    return fps, frames


def test_video_keeps_every_frame_and_the_exact_rate(demo_data, tiny_weights, tmp_path, capsys):
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 256, (30, 44, 3), dtype=np.uint8), (5, 5), 2)
    frames = [np.roll(base, i, axis=1) for i in range(9)]  # 30x44: not a multiple of 4
    source = tmp_path / 'in.mp4'
    write_video(source, frames, 29.97)
    cfg = tmp_path / 'tiny.yaml'
    dump_config(load_config(DEMO_CONFIG, tiny_overrides(demo_data)), str(cfg))
    _, weights = tiny_weights
    out = tmp_path / 'out.mp4'
    assert main([str(source), '-o', str(out), '-c', str(cfg), '--load', weights]) == 0
    fps, restored = read_video(out)
    assert fps == 29.97 and len(restored) == 9
    assert restored[0].shape == (120, 176, 3)
    printed = capsys.readouterr().out
    assert '9 frames at 29.97 fps, 176x120' in printed
    assert re.search(r'audio: (no ffmpeg|none in the source)', printed)  # said either way
    assert sorted(os.listdir(tmp_path)) == ['in.mp4', 'out.mp4', 'tiny.yaml']  # no temporary left


def test_video_errors_are_one_line(demo_data, tiny_weights, tmp_path, capsys):
    cfg = tmp_path / 'tiny.yaml'
    dump_config(load_config(DEMO_CONFIG, tiny_overrides(demo_data)), str(cfg))
    _, weights = tiny_weights
    model = ['-c', str(cfg), '--load', weights]
    assert main([str(tmp_path / 'none.mp4'), '-o', str(tmp_path / 'o.mp4'), *model]) == 2
    assert 'none.mp4: cannot open this video' in capsys.readouterr().err
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'not a video')
    assert main([str(broken), '-o', str(tmp_path / 'o.mp4'), *model]) == 2
    assert 'broken.mp4: cannot open this video' in capsys.readouterr().err
    assert main([str(broken), '-o', str(tmp_path / 'missing' / 'o.mp4'), *model]) == 2
    err = capsys.readouterr().err
    assert 'o.mp4: output folder' in err and 'does not exist' in err


def tiny_model(demo_data, tiny_weights, tmp_path):
    cfg = tmp_path / 'tiny.yaml'
    dump_config(load_config(DEMO_CONFIG, tiny_overrides(demo_data)), str(cfg))
    return ['-c', str(cfg), '--load', tiny_weights[1]]


def test_audio_track_is_kept(demo_data, tiny_weights, tmp_path, capsys):
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        pytest.skip('no ffmpeg (neither on the PATH nor from imageio-ffmpeg)')
    source = tmp_path / 'talk.mp4'
    subprocess.run([ffmpeg, '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=40x28:rate=12',
                    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=16000', '-t', '1',
                    '-c:v', 'mpeg4', '-c:a', 'aac', str(source)], check=True)
    assert has_audio(ffmpeg, str(source))
    out = tmp_path / 'out.mp4'
    assert main([str(source), '-o', str(out), *tiny_model(demo_data, tiny_weights, tmp_path)]) == 0
    assert 'audio: copied' in capsys.readouterr().out
    assert has_audio(ffmpeg, str(out))
    fps, restored = read_video(out)
    assert fps == 12 and len(restored) == 12 and restored[0].shape == (112, 160, 3)
    assert main([str(source), '-o', str(tmp_path / 'mute.mp4'), '--no_audio',
                 *tiny_model(demo_data, tiny_weights, tmp_path)]) == 0
    assert 'audio: off' in capsys.readouterr().out
    assert not has_audio(ffmpeg, str(tmp_path / 'mute.mp4'))


def test_failed_video_keeps_the_existing_output(demo_data, tiny_weights, tmp_path, capsys):
    model = tiny_model(demo_data, tiny_weights, tmp_path)
    empty = tmp_path / 'empty.avi'
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*'MJPG'), 10, (16, 16))
    writer.release()  # a video file without a single frame
    out = tmp_path / 'out.mp4'
    out.write_bytes(b'an earlier result')
    assert main([str(empty), '-o', str(out), *model]) == 2
    assert re.search(r'empty.avi: (no frames could be read|cannot open this video)',
                     capsys.readouterr().err)
    assert out.read_bytes() == b'an earlier result'
    assert sorted(os.listdir(tmp_path)) == ['empty.avi', 'out.mp4', 'tiny.yaml']
    assert main([str(empty), '-o', str(tmp_path / 'o.gif'), *model]) == 2
    assert 'o.gif: expected one of .avi' in capsys.readouterr().err


def test_tiny_frames_are_padded(demo_data, tiny_weights, tmp_path, capsys):
    frames = [np.full((3, 5, 3), 40 * i, np.uint8) for i in range(6)]  # smaller than one 4x4 step
    source = tmp_path / 'tiny.avi'
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*'MJPG'), 6, (5, 3))
    for frame in frames:
        writer.write(frame)
    writer.release()
    out = tmp_path / 'out.avi'
    code = main([str(source), '-o', str(out), '--no_audio',
                 *tiny_model(demo_data, tiny_weights, tmp_path)])
    err = capsys.readouterr().err
    assert code == 0, err
    _, decoded = read_video(source)
    height, width = decoded[0].shape[:2]  # the codec may round odd sides down
    assert height < 4 and width < 8
    fps, restored = read_video(out)
    assert fps == 6 and len(restored) == 6 and restored[0].shape == (4 * height, 4 * width, 3)
