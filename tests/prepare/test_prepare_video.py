# SPDX-License-Identifier: Apache-2.0
"""tools/prepare_data.py video: frames, LQ, meta file and a training config from a video file."""
import os

import cv2
import numpy as np
import pytest

from edvr.config import load_config
from edvr.datasets.loader import build_dataset
from edvr.errors import DataError
from edvr.prepare.video import prepare_video
from edvr.utils.imresize import imresize
from tests.prepare.prep_trees import read_rgb
from tools.prepare_data import main


def write_video(path, frames=6, hw=(98, 134)):
    """An MJPG .avi of moving gradients; returns the frames OpenCV reads back (BGR)."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 10, (hw[1], hw[0]))
    assert writer.isOpened()
    y, x = np.mgrid[:hw[0], :hw[1]]
    for t in range(frames):
        img = np.stack([(x * 2 + t * 9) % 256, (y * 2) % 256, np.full(hw, 40 * t)], -1)
        writer.write(img.astype(np.uint8))
    writer.release()
    cap = cv2.VideoCapture(path)
    read = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        read.append(frame)
    return read


def test_video_to_frames_lq_meta_and_config(tmp_path, capsys):
    video = str(tmp_path / 'walk.avi')
    decoded = write_video(video)
    root = tmp_path / 'mine'
    assert main(['video', video, '--root', str(root), '--lq']) == 0
    out = capsys.readouterr().out
    assert 'clip walk: 6 frames written' in out and 'python tools/main.py -c' in out
    names = sorted(os.listdir(root / 'GT' / 'walk'))
    assert names == [f'{i:08d}.png' for i in range(6)]
    gt = read_rgb(str(root / 'GT' / 'walk' / '00000004.png'))
    expected = cv2.cvtColor(decoded[4][:96, :132], cv2.COLOR_BGR2RGB)  # cropped to 4k
    np.testing.assert_array_equal(gt, expected)
    lq = read_rgb(str(root / 'BIx4' / 'walk' / '00000004.png'))
    np.testing.assert_array_equal(lq, imresize(expected, 1 / 4))
    lines = (root / 'meta_info.txt').read_text().splitlines()
    assert lines[0] == 'walk/00000000.png (96, 132, 3)' and len(lines) == 6
    config = root / 'edvr_m_wo_tsa_walk.yaml'
    cfg = load_config(str(config))
    inner = cfg['dataset']['train']['dataset']
    assert inner['gt_folder'] == str(root / 'GT') and inner['ann_file'] == str(root / 'meta_info.txt')
    assert 'test' not in cfg['dataset']
    inner['preprocess'][3]['pipeline'][0]['gt_patch_size'] = 64
    dataset = build_dataset(cfg['dataset']['train'])
    sample = dataset[(0, 1)]
    assert sample['lq'].shape == (5, 3, 16, 16) and sample['gt'].shape == (3, 64, 64)
    # a finished clip is kept on a re-run
    assert main(['video', video, '--root', str(root), '--lq']) == 0
    assert 'already complete; kept' in capsys.readouterr().out


def test_video_step_max_frames_and_bd(tmp_path):
    video = str(tmp_path / 'v.avi')
    write_video(video, frames=7)
    report = prepare_video(video, str(tmp_path / 'o'), clip='c', lq=True, degradation='BD',
                           step=2, max_frames=3)
    assert report['frames'] == 3
    assert sorted(os.listdir(tmp_path / 'o' / 'BDx4' / 'c')) == [f'{i:08d}.png' for i in range(3)]
    assert not any(n.endswith('.partial') for n in os.listdir(tmp_path / 'o' / 'GT'))


def test_video_step_keeps_every_other_decoded_frame(tmp_path, capsys):
    """`--step 2`: GT frame i is decoded frame 2i (cropped to a multiple of 4, RGB)."""
    video = str(tmp_path / 'v.avi')
    decoded = write_video(video, frames=7)
    root = tmp_path / 'stepped'
    assert main(['video', video, '--root', str(root), '--clip', 'c', '--step', '2']) == 0
    assert 'clip c: 4 frames written' in capsys.readouterr().out
    names = sorted(os.listdir(root / 'GT' / 'c'))
    assert names == [f'{i:08d}.png' for i in range(4)]
    for i, name in enumerate(names):
        expected = cv2.cvtColor(decoded[2 * i][:96, :132], cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(read_rgb(str(root / 'GT' / 'c' / name)), expected,
                                      err_msg=name)


def test_video_opencv_cannot_open(tmp_path, capsys):
    bad = tmp_path / 'broken.mp4'
    bad.write_bytes(b'\x00\x01 definitely not a video' * 10)
    assert main(['video', str(bad), '--root', str(tmp_path / 'o')]) == 2
    err = capsys.readouterr().err
    assert 'broken.mp4' in err and ('cannot open this video' in err or 'decoded no frame' in err)
    assert not os.path.exists(tmp_path / 'o' / 'GT' / 'broken')
    with pytest.raises(DataError, match='video file not found'):
        prepare_video(str(tmp_path / 'none.mp4'), str(tmp_path / 'o'))


def test_demo_command_builds_then_reuses(tmp_path, monkeypatch, capsys):
    import functools
    from edvr.prepare import demo
    import edvr.cli.prepare as tool
    small = dict(num_train_clips=2, num_frames=6, num_test_frames=6, gt_size=(32, 48))
    monkeypatch.setattr(tool, 'make_demo_dataset', functools.partial(demo.make_demo_dataset, **small))
    monkeypatch.setattr(tool, 'demo_is_complete', functools.partial(demo.demo_is_complete, **small))
    root = str(tmp_path / 'demo')
    assert main(['demo', '--root', root]) == 0
    assert '2 training clips, held-out clip(s) 000; GT 32x48, LQ 8x12' in capsys.readouterr().out
    assert len((tmp_path / 'demo' / 'meta_info_REDS_GT.txt').read_text().splitlines()) == 18
    assert main(['demo', '--root', root]) == 0
    assert 'is complete; reusing it' in capsys.readouterr().out
