# SPDX-License-Identifier: Apache-2.0
"""End-to-end runs of the trainer on a tiny demo: learning, resume, evaluation."""
import glob
import json
import math
import os
import re

import numpy as np
import paddle
import pytest

from edvr.config import load_config
from edvr.cli.train import main
from edvr.engine.trainer import Trainer
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_data(tmp_path_factory.mktemp('demo'))


def run_folder(out):
    (folder,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    return folder


def weights(path):
    return {k: v.numpy() for k, v in paddle.load(path)['generator'].items()}


def test_training_lowers_the_loss_on_a_fixed_batch(data, tmp_path):
    cfg = load_config(DEMO_CONFIG, tiny_overrides(data, tmp_path, total_iters=25))
    trainer = Trainer(cfg, DEMO_CONFIG, seed=3)
    batch = next(iter(trainer.test_loader))
    gt_hw = batch['gt'].shape[-2:]

    def loss():
        out = trainer.model.test_iter(batch['lq'])
        return float(trainer.model.pixel_criterion(out, batch['gt']))
    before = loss()
    trainer.train()
    after = loss()
    assert after < 0.9 * before, (before, after)
    assert list(gt_hw) == [32, 48]


@pytest.mark.parametrize('w_tsa, tsa_iter, resume_at', [(False, 0, 2), (True, 3, 2), (True, 3, 4)])
def test_resume_equals_uninterrupted(data, tmp_path, w_tsa, tsa_iter, resume_at):
    full_out, part_out = str(tmp_path / 'full'), str(tmp_path / 'part')
    assert main(['-c', DEMO_CONFIG, '--seed', '5', '-o',
                 *tiny_overrides(data, full_out, 6, w_tsa, tsa_iter)]) == 0
    full = run_folder(full_out)
    # an interrupted run: same seed, stopped at `resume_at`, then resumed to the end
    assert main(['-c', DEMO_CONFIG, '--seed', '5', '-o',
                 *tiny_overrides(data, part_out, 6, w_tsa, tsa_iter),
                 f'total_iters={resume_at}']) == 0
    part = run_folder(part_out)
    ckpt = os.path.join(part, f'iter_{resume_at}_checkpoint.pdparams')
    assert main(['-c', DEMO_CONFIG, '--resume', ckpt, '-o',
                 *tiny_overrides(data, part_out, 6, w_tsa, tsa_iter)]) == 0
    a, b = weights(os.path.join(full, 'iter_6_weight.pdparams')), \
        weights(os.path.join(part, 'iter_6_weight.pdparams'))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=0, atol=1e-6, err_msg=key)
    if tsa_iter:  # inside the TSA-only stage everything but TSAModule stayed frozen
        early, stage_end = weights(os.path.join(full, 'iter_2_weight.pdparams')), a
        frozen = [k for k in early if 'TSAModule' not in k]
        tsa = [k for k in early if 'TSAModule' in k]
        assert tsa and frozen
        init = Trainer(load_config(DEMO_CONFIG, tiny_overrides(data, str(tmp_path / 'i'), 6, w_tsa,
                                                                tsa_iter)), DEMO_CONFIG, seed=5,
                       evaluate_only=True).generator.state_dict()
        assert all(np.array_equal(early[k], init[k].numpy()) for k in frozen)
        assert any(not np.array_equal(early[k], init[k].numpy()) for k in tsa)
        assert any(not np.array_equal(stage_end[k], early[k]) for k in frozen)
    scores = json.load(open(os.path.join(part, 'final_scores.json')))
    assert scores['iteration'] == 6 and scores['model']['psnr'] > 10


def test_evaluate_only_scores_and_saves_frames(data, tmp_path, capsys):
    out = str(tmp_path / 'train')
    assert main(['-c', DEMO_CONFIG, '--seed', '1', '-o', *tiny_overrides(data, out, 2)]) == 0
    trained = json.load(open(os.path.join(run_folder(out), 'final_scores.json')))
    best = os.path.join(run_folder(out), 'iter_2_weight.pdparams')
    eval_out = str(tmp_path / 'eval')
    assert main(['-c', DEMO_CONFIG, '--evaluate-only', '--load', best, '-o',
                 *tiny_overrides(data, eval_out, 2), 'validate.save_img=true']) == 0
    folder = run_folder(eval_out)
    scores = json.load(open(os.path.join(folder, 'final_scores.json')))
    assert scores['model']['psnr'] == pytest.approx(trained['model']['psnr'], abs=1e-9)
    assert scores['bicubic'] == pytest.approx(trained['bicubic'])
    frames = sorted(os.listdir(os.path.join(folder, 'visual_test', '000')))
    assert frames == [f'{i:08d}.png' for i in range(5)]


def test_visualdl_records_scalars_at_the_real_iteration(data, tmp_path):
    from visualdl import LogReader
    out = str(tmp_path / 'vdl')
    assert main(['-c', DEMO_CONFIG, '--seed', '2', '-o', *tiny_overrides(data, out, 5),
                 'enable_visualdl=true', 'validate.interval=2']) == 0
    folder = run_folder(out)
    (record,) = glob.glob(os.path.join(folder, 'vdlrecords.*'))
    reader = LogReader(file_path=record)
    steps = lambda tag: [r.id for r in reader.get_data('scalar', tag)]  # noqa: E731
    assert steps('train/loss_pixel') == [1, 2, 3, 4, 5]
    assert steps('train/lr') == [1, 2, 3, 4, 5]
    assert steps('val/psnr') == [2, 4, 5] and steps('val/ssim') == [2, 4, 5]  # 5: the final one
    values = [r.value for r in reader.get_data('scalar', 'val/psnr')]
    scores = json.load(open(os.path.join(folder, 'final_scores.json')))
    assert values[-1] == pytest.approx(scores['model']['psnr'], abs=1e-4)
    assert 'train/lq_output_gt' in reader.get_tags().get('image', [])


def _logged_lrs(log):
    return {int(k): float(v) for k, v in re.findall(r'iter: (\d+)/\d+ lr: ([0-9.e+-]+)', log)}


def test_logged_learning_rates_follow_the_restarts_and_resume_at_a_restart(data, tmp_path):
    """Periods [3, 3] with restart weights [1, 0.5]: iteration k trains at the rate of step k-1.

    A run resumed from iteration 3 (the restart) logs the same rates and ends
    with the same weights as the unbroken run.
    """
    schedule = ['lr_scheduler.periods=[3, 3]', 'lr_scheduler.restart_weights=[1, 0.5]',
                'lr_scheduler.learning_rate=1e-3', 'lr_scheduler.eta_min=1e-5']
    base, eta = 1e-3, 1e-5

    def rate(step):   # step 0..2 in the first cycle, 3..5 in the second (half height)
        start, weight = (0, 1.0) if step <= 3 else (3, 0.5)
        return eta + 0.5 * weight * (base - eta) * (1 + math.cos(math.pi * (step - start) / 3))
    full_out, part_out = str(tmp_path / 'full'), str(tmp_path / 'part')
    assert main(['-c', DEMO_CONFIG, '--seed', '5', '-o', *tiny_overrides(data, full_out, 6),
                 *schedule]) == 0
    logged = _logged_lrs(open(os.path.join(run_folder(full_out), 'log.txt')).read())
    assert sorted(logged) == [1, 2, 3, 4, 5, 6]
    for k, lr in logged.items():
        assert lr == pytest.approx(rate(k - 1), rel=1e-3), k   # the log prints 4 digits
    assert logged[5] == pytest.approx(eta + 0.25 * (base - eta) * (1 + math.cos(math.pi / 3)),
                                      rel=1e-3)
    assert main(['-c', DEMO_CONFIG, '--seed', '5', '-o', *tiny_overrides(data, part_out, 6),
                 *schedule, 'total_iters=3']) == 0
    part = run_folder(part_out)
    assert main(['-c', DEMO_CONFIG, '--resume', os.path.join(part, 'iter_3_checkpoint.pdparams'),
                 '-o', *tiny_overrides(data, part_out, 6), *schedule]) == 0
    assert _logged_lrs(open(os.path.join(part, 'log.txt')).read()) == logged
    a, b = weights(os.path.join(run_folder(full_out), 'iter_6_weight.pdparams')), \
        weights(os.path.join(part, 'iter_6_weight.pdparams'))
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=0, atol=1e-6, err_msg=key)
