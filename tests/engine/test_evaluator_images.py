# SPDX-License-Identifier: Apache-2.0
"""validate.save_img frames: written atomically, and a full disk warns once instead of failing."""
import errno
import logging
import os

import cv2
import numpy as np
import paddle
import pytest

from edvr import evaluation
from edvr.evaluation import build_metrics, evaluate
from edvr.utils import output_paths
from edvr.utils.logger import get_logger

PSNR = {'psnr': {'name': 'PSNR', 'crop_border': 0, 'test_y_channel': False}}


def two_frames():
    """One batch of two 3-frame LQ windows with GT 8x12; restoring gives the GT back."""
    rng = np.random.RandomState(0)
    gt = rng.rand(2, 3, 8, 12).astype('float32')
    lq = np.repeat(gt[:, None], 3, axis=1)
    return [{'lq': paddle.to_tensor(lq), 'gt': paddle.to_tensor(gt),
             'key': ['000/00000000', '000/00000001']}]


def restore_center(lq):
    return lq[:, lq.shape[1] // 2]


class Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_frames_are_the_png_of_the_restored_image(tmp_path):
    loader = two_frames()
    result = evaluate(restore_center, loader, build_metrics(PSNR), save_dir=str(tmp_path),
                      suffix='_5')
    assert result['psnr'] == float('inf')
    assert sorted(os.listdir(tmp_path / '000')) == ['00000000_5.png', '00000001_5.png']
    rgb = np.round(loader[0]['gt'].numpy()[1].transpose(1, 2, 0) * 255).astype(np.uint8)
    saved = cv2.imread(str(tmp_path / '000' / '00000001_5.png'))
    np.testing.assert_array_equal(saved[..., ::-1], rgb)
    assert (tmp_path / '000' / '00000001_5.png').read_bytes() == \
        cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


def test_a_full_disk_warns_once_and_the_scores_still_come(tmp_path, monkeypatch):
    calls = []

    def full_disk(fd):
        calls.append(fd)
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(output_paths.os, 'fsync', full_disk)
    handler = Warnings()
    get_logger().addHandler(handler)
    try:
        result = evaluate(restore_center, two_frames(), build_metrics(PSNR), save_dir=str(tmp_path))
    finally:
        get_logger().removeHandler(handler)
    assert result['psnr'] == float('inf') and result['per_clip']['psnr'] == {'000': float('inf')}
    path = tmp_path / '000' / '00000000.png'
    assert handler.lines == [f'{path}: no space left on device; the restored frames of this '
                             f'evaluation are not saved, the scores are']
    assert len(calls) == 1 and os.listdir(tmp_path / '000') == []


def test_other_write_errors_still_raise(tmp_path, monkeypatch):
    def denied(path, data):
        raise OSError(errno.EACCES, 'Permission denied', path)
    monkeypatch.setattr(evaluation, 'write_image', denied)
    with pytest.raises(PermissionError, match=r"Permission denied: '.*000/00000000\.png'"):
        evaluate(restore_center, two_frames(), build_metrics(PSNR), save_dir=str(tmp_path))
