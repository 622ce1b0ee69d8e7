# SPDX-License-Identifier: Apache-2.0
"""Every user mistake: exit code 2, one line naming the culprit, nothing written or damaged."""
import os
import re
import shutil

import cv2
import numpy as np
import paddle
import pytest

from edvr.engine.cli import main
from tests.engine.tiny_run import DEMO_CONFIG, make_tiny_data, tiny_overrides


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_data(tmp_path_factory.mktemp('demo'))


def fails_with(capsys, argv, pattern):
    """Run the CLI; assert exit 2 and one stderr line matching ``pattern``."""
    assert main(argv) == 2
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith('error:')]
    assert len(lines) == 1, lines
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def run_args(data, out, *extra):
    return ['-c', DEMO_CONFIG, '-o', *tiny_overrides(data, out, 2), *extra]


def test_config_file_errors(tmp_path, capsys):
    fails_with(capsys, ['-c', str(tmp_path / 'none.yaml')], r'none\.yaml: config file not found')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('model:\n  name: EDVRModel\n   generator: x\n')
    fails_with(capsys, ['-c', str(bad)], r'bad\.yaml: YAML syntax error at line 3')


@pytest.mark.parametrize('override, pattern', [
    ('model.generator.name=EDVRNets', r"unknown network 'EDVRNets'; did you mean EDVRNet"),
    ('model.pixel_criterion.name=Charbonier', r"unknown loss 'Charbonier'; did you mean CharbonnierLoss"),
    ('+model.generator.nff=3', r'model\.generator\.nff: unknown argument of EDVRNet; did you mean nf'),
    ('total_iter=3', r'key total_iter does not exist; did you mean total_iters'),
    ('dataset.test.num_frames=4', r'num_frames'),
    ('dataset.test.lq_folder=/nonexistent/lq', r'/nonexistent/lq'),
    ('dataset.test.ann_file=/nonexistent/meta.txt', r'/nonexistent/meta\.txt'),
])
def test_config_value_errors(data, tmp_path, capsys, override, pattern):
    out = tmp_path / 'out'
    fails_with(capsys, run_args(data, str(out), override), pattern)
    assert not out.exists()  # nothing is created for a run that could not start


def test_missing_constructor_argument(tmp_path, capsys):
    cfg = tmp_path / 'c.yaml'
    cfg.write_text('total_iters: 1\nmodel:\n  name: EDVRModel\n  generator:\n    name: EDVRNet\n'
                   '  pixel_criterion:\n    name: CharbonnierLoss\n'
                   'dataset:\n  test:\n    name: VSRREDSDataset\n    lq_folder: x\n')
    fails_with(capsys, ['-c', str(cfg)], r'dataset\.test: VSRREDSDataset needs argument\(s\) gt_folder')


def test_frame_errors_name_the_file(data, tmp_path, capsys):
    broken = tmp_path / 'broken'
    shutil.copytree(data, broken)
    frame = broken / 'REDS4_test_sharp' / 'X4' / '000' / '00000002.png'
    frame.write_bytes(b'not a png')
    fails_with(capsys, run_args(str(broken), str(tmp_path / 'o1'), '--evaluate-only'),
               r'00000002\.png')
    os.remove(frame)
    fails_with(capsys, run_args(str(broken), str(tmp_path / 'o2'), '--evaluate-only'),
               r'00000002\.png')


def test_lq_size_times_scale_must_equal_gt(data, tmp_path, capsys):
    broken = tmp_path / 'broken'
    shutil.copytree(data, broken)
    for clip in ('001', '002'):
        folder = broken / 'train_sharp_bicubic' / 'X4' / clip
        for name in os.listdir(folder):
            cv2.imwrite(str(folder / name), np.zeros((6, 12, 3), np.uint8))
    fails_with(capsys, run_args(str(broken), str(tmp_path / 'o')), r'(6, 12|6x12).*(32, 48|32x48)|scale')


def test_clip_too_short_for_interval(data, tmp_path, capsys):
    fails_with(capsys, run_args(data, str(tmp_path / 'o'),
                                'dataset.train.dataset.preprocess.0.interval_list=[4]'), r'00[12]')


def test_weight_file_errors_leave_files_untouched(data, tmp_path, capsys):
    out = str(tmp_path / 'o')
    fails_with(capsys, run_args(data, out, '--load', str(tmp_path / 'none.pdparams')),
               r'none\.pdparams: weights file not found')
    junk = tmp_path / 'junk.pdparams'
    junk.write_bytes(b'junk')
    fails_with(capsys, run_args(data, out, '--load', str(junk)), r'junk\.pdparams: not a Paddle state dict')
    wrong = tmp_path / 'wrong.pdparams'
    paddle.save({'generator': {'conv_first.weight': paddle.zeros([4, 3, 3, 3])}}, str(wrong))
    before = wrong.read_bytes()
    line = fails_with(capsys, run_args(data, out, '--load', str(wrong)), r'wrong\.pdparams: weights do not fit')
    assert 'shape mismatch: conv_first.weight [4, 3, 3, 3]' in line and 'missing:' in line
    assert wrong.read_bytes() == before
    fails_with(capsys, run_args(data, out, '--resume', str(wrong)), r'not a full training checkpoint')
    assert not os.path.exists(out)
