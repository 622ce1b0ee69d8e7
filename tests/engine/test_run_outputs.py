# SPDX-License-Identifier: Apache-2.0
"""What a run publishes, checked for values: best_weight, the weight files, the bicubic baseline."""
import glob
import json
import os
import re
import shutil

import cv2
import numpy as np
import paddle
import pytest

from edvr.config import load_config
from edvr import weights as ckpt
from edvr.cli.train import main
from edvr.engine.trainer import Trainer
from edvr.metrics import psnr, ssim
from edvr.utils.imresize import imresize
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_data(tmp_path_factory.mktemp('demo'))


@pytest.fixture(scope='module')
def validated_run(data, tmp_path_factory):
    """Six iterations at a high learning rate, validated and saved after every one."""
    out = str(tmp_path_factory.mktemp('validated'))
    assert main(['-c', DEMO_CONFIG, '--seed', '7', '-o', *tiny_overrides(data, out, 6),
                 'validate.interval=1', 'snapshot_config.interval=1',
                 'lr_scheduler.learning_rate=4e-3']) == 0
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    return run


def _weights(path):
    return {k: v.numpy() for k, v in paddle.load(path)['generator'].items()}


def test_best_weight_holds_the_best_validation_iteration(data, validated_run, tmp_path):
    log = open(os.path.join(validated_run, 'log.txt')).read()
    scores = {int(i): float(p) for i, p in
              re.findall(r'validation at iteration (\d+): psnr: ([0-9.]+)', log)}
    assert sorted(scores) == [1, 2, 3, 4, 5, 6]
    assert len(set(scores.values())) > 1, scores   # a worst and a best to tell apart
    best_iter = max(scores, key=scores.get)
    best = _weights(os.path.join(validated_run, 'best_weight.pdparams'))
    at_best = _weights(os.path.join(validated_run, f'iter_{best_iter}_weight.pdparams'))
    assert best.keys() == at_best.keys()
    for key in best:
        np.testing.assert_array_equal(best[key], at_best[key], err_msg=key)
    saved = ckpt.read_checkpoint(os.path.join(validated_run, 'iter_6_checkpoint.pdparams'))
    assert saved['best'] == {'psnr': pytest.approx(scores[best_iter], abs=5e-5), 'iter': best_iter}
    # evaluated again, the file scores what the log said of that iteration
    out = str(tmp_path / 'eval')
    assert main(['-c', DEMO_CONFIG, '--evaluate-only', '--load',
                 os.path.join(validated_run, 'best_weight.pdparams'),
                 '-o', *tiny_overrides(data, out, 6)]) == 0
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    rescored = json.load(open(os.path.join(run, 'final_scores.json')))['model']['psnr']
    assert rescored == pytest.approx(scores[best_iter], abs=5e-5)


def test_a_run_resumed_after_its_best_keeps_that_best(data, validated_run, tmp_path):
    """Resumed from iteration 3 (the folder as it was then), the run ends with the unbroken
    run's best score and best_weight.pdparams, however the later validations score."""
    log = open(os.path.join(validated_run, 'log.txt')).read()
    scores = {int(i): float(p) for i, p in
              re.findall(r'validation at iteration (\d+): psnr: ([0-9.]+)', log)}
    best_by_3 = max((1, 2, 3), key=scores.get)
    part = tmp_path / 'part'
    part.mkdir()
    shutil.copy(os.path.join(validated_run, 'iter_3_checkpoint.pdparams'), part)
    shutil.copy(os.path.join(validated_run, f'iter_{best_by_3}_weight.pdparams'),
                part / 'best_weight.pdparams')
    assert main(['-c', DEMO_CONFIG, '--resume', str(part / 'iter_3_checkpoint.pdparams'),
                 '-o', *tiny_overrides(data, str(tmp_path / 'unused'), 6), 'validate.interval=1',
                 'snapshot_config.interval=1', 'lr_scheduler.learning_rate=4e-3']) == 0
    full = ckpt.read_checkpoint(os.path.join(validated_run, 'iter_6_checkpoint.pdparams'))['best']
    resumed = ckpt.read_checkpoint(str(part / 'iter_6_checkpoint.pdparams'))['best']
    assert resumed['iter'] == full['iter'] == max(scores, key=scores.get)
    assert resumed['psnr'] == pytest.approx(full['psnr'], abs=1e-4)
    expected = _weights(os.path.join(validated_run, 'best_weight.pdparams'))
    got = _weights(str(part / 'best_weight.pdparams'))
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=1e-6, err_msg=key)


def _rgb(path):
    return cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_bicubic_baseline_upscales_the_centre_lq_frame(data, validated_run):
    """Each test frame's baseline is MATLAB bicubic x4 of that same LQ frame, scored against GT."""
    lq_dir = os.path.join(data, 'REDS4_test_sharp_bicubic', 'X4', '000')
    gt_dir = os.path.join(data, 'REDS4_test_sharp', 'X4', '000')
    names = sorted(os.listdir(gt_dir))
    assert len(names) == 5
    by_psnr, by_ssim = [], []
    for name in names:
        up = imresize(_rgb(os.path.join(lq_dir, name)), 4)
        gt = _rgb(os.path.join(gt_dir, name))
        by_psnr.append(psnr(up, gt))
        by_ssim.append(ssim(up, gt))
    reported = json.load(open(os.path.join(validated_run, 'final_scores.json')))['bicubic']
    assert reported['psnr'] == pytest.approx(np.mean(by_psnr), abs=1e-6)
    assert reported['ssim'] == pytest.approx(np.mean(by_ssim), abs=1e-8)


@pytest.mark.parametrize('target', ['best_weight', 'iter_2_weight'])
def test_a_crash_while_writing_weights_leaves_no_half_file(data, tmp_path, monkeypatch, target):
    """The weights write fails half-way: the real name keeps its old content or does not exist."""
    cfg = load_config(DEMO_CONFIG, tiny_overrides(data, str(tmp_path), 4) + [
        'validate.interval=1', 'snapshot_config.interval=1', 'lr_scheduler.learning_rate=4e-3'])
    trainer = Trainer(cfg, DEMO_CONFIG, seed=7)
    writer, seen = ckpt.save_weights_file, []

    def crash(state, dest):
        writer(state, dest)
        if target in os.path.basename(dest):
            seen.append(dest)
            if target == 'iter_2_weight' or len(seen) == 2:
                with open(dest, 'r+b') as f:
                    f.truncate(7)
                raise OSError('disk full')
    monkeypatch.setattr(ckpt, 'save_weights_file', crash)
    with pytest.raises(OSError, match=rf"^\[Errno None\] disk full: '.*/{target}\.pdparams'$"):
        trainer.train()
    left = sorted(os.listdir(trainer.run_dir))
    assert not [n for n in left if '.tmp' in n], left
    weights = [n for n in left if n.endswith('weight.pdparams')]
    for name in weights:
        _weights(os.path.join(trainer.run_dir, name))   # every one loads whole
    if target == 'iter_2_weight':
        assert 'iter_2_weight.pdparams' not in weights and 'iter_1_weight.pdparams' in weights
    else:  # the first validation's best stays: the weights of iteration 1
        best = _weights(os.path.join(trainer.run_dir, 'best_weight.pdparams'))
        first = _weights(os.path.join(trainer.run_dir, 'iter_1_weight.pdparams'))
        for key in first:
            np.testing.assert_array_equal(best[key], first[key], err_msg=key)


def test_a_later_equal_score_keeps_the_first_best(data, tmp_path, monkeypatch):
    """Validations scoring 30, 31, 31, 30.5 (and 31 again after a resume): the best stays
    iteration 2, the first to reach 31; best_weight.pdparams holds its weights, not the
    (different) weights of iteration 3 or 5."""
    import edvr.engine.trainer as trainer_module
    scripted, real = iter([30.0, 31.0, 31.0, 30.5, 31.0, 29.0]), trainer_module.evaluate

    def scored(*args, desc='validate', **kwargs):
        result = real(*args, desc=desc, **kwargs)
        if desc == 'validate':
            result['psnr'] = next(scripted)
        return result
    monkeypatch.setattr(trainer_module, 'evaluate', scored)
    overrides = tiny_overrides(data, str(tmp_path), 6) + [
        'validate.interval=1', 'snapshot_config.interval=1', 'lr_scheduler.learning_rate=4e-3']
    trainer = Trainer(load_config(DEMO_CONFIG, overrides + ['total_iters=4']), DEMO_CONFIG, seed=7)
    assert trainer.train() is None
    run = trainer.run_dir
    best = _weights(os.path.join(run, 'best_weight.pdparams'))
    second, third = (_weights(os.path.join(run, f'iter_{i}_weight.pdparams')) for i in (2, 3))
    assert any(not np.array_equal(second[k], third[k]) for k in second)
    for key in second:
        np.testing.assert_array_equal(best[key], second[key], err_msg=key)
    assert ckpt.read_checkpoint(os.path.join(run, 'iter_4_checkpoint.pdparams'))['best'] == \
        {'psnr': 31.0, 'iter': 2}
    # resumed: iteration 5 scores 31 again, iteration 6 less; the best stays iteration 2
    resumed = Trainer(load_config(DEMO_CONFIG, overrides), DEMO_CONFIG,
                      resume=os.path.join(run, 'iter_4_checkpoint.pdparams'))
    assert resumed.train() is None
    assert ckpt.read_checkpoint(os.path.join(run, 'iter_6_checkpoint.pdparams'))['best'] == \
        {'psnr': 31.0, 'iter': 2}
    best = _weights(os.path.join(run, 'best_weight.pdparams'))
    for key in second:
        np.testing.assert_array_equal(best[key], second[key], err_msg=key)
