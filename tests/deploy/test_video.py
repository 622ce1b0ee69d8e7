# SPDX-License-Identifier: Apache-2.0
"""The video command: every frame, the exact frame rate, clear errors."""
import os

import cv2
import numpy as np

from edvr.config import dump_config, load_config
from tests.deploy.conftest import DEMO_CONFIG, tiny_overrides
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
    assert ('audio: no ffmpeg' in printed) != ('audio: copied' in printed)  # said either way
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
