# SPDX-License-Identifier: Apache-2.0
"""Every user mistake: exit code 2, one line naming the culprit, nothing written or damaged."""
import os
import re
import shutil

import cv2
import numpy as np
import paddle
import pytest

from edvr.cli.train import main
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_data(tmp_path_factory.mktemp('demo'))


def fails_with(capsys, argv, expected):
    """Run the CLI; assert exit 2 and exactly one stderr line, ``'error: ' + expected``.

    ``expected`` is the whole message, or a compiled regex that must match all
    of it (for messages naming whichever of several bad files is read first).
    """
    assert main(argv) == 2
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith('error:')]
    assert len(lines) == 1, lines
    message = lines[0][len('error: '):]
    if isinstance(expected, re.Pattern):
        assert expected.fullmatch(message), message
    else:
        assert message == expected
    return message


def run_args(data, out, *extra):
    return ['-c', DEMO_CONFIG, '-o', *tiny_overrides(data, out, 2), *extra]


def test_config_file_errors(tmp_path, capsys):
    fails_with(capsys, ['-c', str(tmp_path / 'none.yaml')], f'{tmp_path}/none.yaml: config file not found')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('model:\n  name: EDVRModel\n   generator: x\n')
    fails_with(capsys, ['-c', str(bad)], f'{bad}: YAML syntax error at line 3, column 13: '
                                         'mapping values are not allowed here')


@pytest.mark.parametrize('override, message', [
    ('model.generator.name=EDVRNets',
     "model.generator.name: unknown network 'EDVRNets'; did you mean EDVRNet?"),
    ('model.pixel_criterion.name=Charbonier',
     "model.pixel_criterion.name: unknown loss 'Charbonier'; did you mean CharbonnierLoss?"),
    ('+model.generator.nff=3', 'model.generator.nff: unknown argument of EDVRNet; did you mean nf, in_nf?'),
    ('total_iter=3', '-o total_iter: key total_iter does not exist; did you mean total_iters, validate, '
                     'optimizer? (write +total_iter=... to add a new key)'),
    ('dataset.test.num_frames=4', 'dataset.test.num_frames: 4 frames per sample, but '
                                  'model.generator.nframes is 5; make them equal'),
    ('dataset.test.lq_folder=/nonexistent/lq', '/nonexistent/lq: dataset folder not found'),
    ('dataset.test.ann_file=/nonexistent/meta.txt', '/nonexistent/meta.txt: meta-info (ann_file) not found'),
])
def test_config_value_errors(data, tmp_path, capsys, override, message):
    out = tmp_path / 'out'
    fails_with(capsys, run_args(data, str(out), override), message)
    assert not out.exists()  # nothing is created for a run that could not start


def test_missing_constructor_argument(tmp_path, capsys):
    cfg = tmp_path / 'c.yaml'
    cfg.write_text('total_iters: 1\nmodel:\n  name: EDVRModel\n  generator:\n    name: EDVRNet\n'
                   '  pixel_criterion:\n    name: CharbonnierLoss\n'
                   'dataset:\n  test:\n    name: VSRREDSDataset\n    lq_folder: x\n')
    fails_with(capsys, ['-c', str(cfg)], 'dataset.test: VSRREDSDataset needs argument(s) gt_folder, '
                                         'ann_file, num_frames, preprocess')


def test_frame_errors_name_the_file(data, tmp_path, capsys):
    broken = tmp_path / 'broken'
    shutil.copytree(data, broken)
    frame = broken / 'REDS4_test_sharp' / 'X4' / '000' / '00000002.png'
    frame.write_bytes(b'not a png')
    fails_with(capsys, run_args(str(broken), str(tmp_path / 'o1'), '--evaluate-only'),
               f'{frame}: cannot decode image (corrupt or unsupported format)')
    os.remove(frame)
    fails_with(capsys, run_args(str(broken), str(tmp_path / 'o2'), '--evaluate-only'),
               f'{frame}: frame not found')


def test_lq_size_times_scale_must_equal_gt(data, tmp_path, capsys):
    broken = tmp_path / 'broken'
    shutil.copytree(data, broken)
    for clip in ('001', '002'):
        folder = broken / 'train_sharp_bicubic' / 'X4' / clip
        for name in os.listdir(folder):
            cv2.imwrite(str(folder / name), np.zeros((6, 12, 3), np.uint8))
    b = re.escape(str(broken))
    fails_with(capsys, run_args(str(broken), str(tmp_path / 'o')), re.compile(
        rf'LQ {b}/train_sharp_bicubic/X4/00([12])/(\d{{8}})\.png, GT {b}/train_sharp/X4/00\1/\2\.png: '
        r'LQ size 6x12 times scale 4 is 24x48, but GT size is 32x48'))


def test_clip_too_short_for_interval(data, tmp_path, capsys):
    fails_with(capsys, run_args(data, str(tmp_path / 'o'),
                                'dataset.train.dataset.preprocess.0.interval_list=[4]'),
               re.compile(r'clip 00[12]: 7 frames are too few for num_frames=5 with interval 4'))


def test_weight_file_errors_leave_files_untouched(data, tmp_path, capsys):
    out = str(tmp_path / 'o')
    fails_with(capsys, run_args(data, out, '--load', str(tmp_path / 'none.pdparams')),
               f'{tmp_path}/none.pdparams: weights file not found')
    junk = tmp_path / 'junk.pdparams'
    junk.write_bytes(b'junk')
    fails_with(capsys, run_args(data, out, '--load', str(junk)),
               f'{junk}: not a Paddle state dict (UnpicklingError: pickle data was truncated)')
    wrong = tmp_path / 'wrong.pdparams'
    paddle.save({'generator': {'conv_first.weight': paddle.zeros([4, 3, 3, 3])}}, str(wrong))
    before = wrong.read_bytes()
    fails_with(capsys, run_args(data, out, '--load', str(wrong)),
               f'{wrong}: weights do not fit the configured network (missing: conv_first.bias; '
               'feature_extractor.block0.conv1.weight; feature_extractor.block0.conv1.bias; '
               'feature_extractor.block0.conv2.weight; feature_extractor.block0.conv2.bias; '
               'fea_L2_conv1.weight; ... (67 in all) | shape mismatch: conv_first.weight '
               '[4, 3, 3, 3] vs model [8, 3, 3, 3])')
    assert wrong.read_bytes() == before
    fails_with(capsys, run_args(data, out, '--resume', str(wrong)),
               f'{wrong}: not a full training checkpoint (no optimizer, lr_scheduler, iter, seed); '
               'use --load for a weights file')
    assert not os.path.exists(out)
