# SPDX-License-Identifier: Apache-2.0
"""EMA weights (what validation and the weight files use) and gradient clipping."""
import glob
import os

import numpy as np
import paddle
import pytest

from edvr.config import load_config
from edvr.cli.train import main
from edvr.engine.ema import WeightAverage
from edvr.engine.trainer import Trainer
from edvr.solver import build_lr_scheduler, build_optimizer
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_data(tmp_path_factory.mktemp('demo'))


def test_weight_average_follows_the_formula():
    net = paddle.nn.Linear(2, 2)
    start = net.weight.numpy().copy()
    ema = WeightAverage(net, 0.9)
    net.weight.set_value(paddle.ones([2, 2]))
    ema.update(net)
    np.testing.assert_allclose(ema.shadow['weight'].numpy(), 0.9 * start + 0.1, rtol=1e-6)
    with ema.applied(net):
        np.testing.assert_allclose(net.weight.numpy(), 0.9 * start + 0.1, rtol=1e-6)
    np.testing.assert_array_equal(net.weight.numpy(), np.ones([2, 2], 'float32'))


def load(path, key='generator'):
    return {k: v.numpy() for k, v in paddle.load(path)[key].items()}


def test_ema_weights_are_published_and_resume_exactly(data, tmp_path):
    extra = ['+ema_decay=0.5']
    full, part = str(tmp_path / 'full'), str(tmp_path / 'part')
    assert main(['-c', DEMO_CONFIG, '--seed', '6', '-o', *tiny_overrides(data, full, 4), *extra]) == 0
    (run,) = glob.glob(os.path.join(full, 'edvr_demo-*'))
    state = paddle.load(os.path.join(run, 'iter_4_checkpoint.pdparams'))
    published = load(os.path.join(run, 'iter_4_weight.pdparams'))
    raw = {k: v.numpy() for k, v in state['generator'].items()}
    ema = {k: v.numpy() for k, v in state['generator_ema'].items()}
    assert all(np.array_equal(published[k], ema[k]) for k in ema)
    assert any(not np.array_equal(raw[k], ema[k]) for k in ema)
    assert main(['-c', DEMO_CONFIG, '--seed', '6', '-o', *tiny_overrides(data, part, 4), *extra,
                 'total_iters=2']) == 0
    (run2,) = glob.glob(os.path.join(part, 'edvr_demo-*'))
    assert main(['-c', DEMO_CONFIG, '--resume', os.path.join(run2, 'iter_2_checkpoint.pdparams'),
                 '-o', *tiny_overrides(data, part, 4), *extra]) == 0
    resumed = load(os.path.join(run2, 'iter_4_weight.pdparams'))
    for key in published:
        np.testing.assert_allclose(resumed[key], published[key], atol=1e-6, rtol=0, err_msg=key)


def test_validation_scores_the_ema_weights(data, tmp_path):
    cfg = load_config(DEMO_CONFIG, tiny_overrides(data, str(tmp_path), 3) + ['+ema_decay=0.9'])
    trainer = Trainer(cfg, DEMO_CONFIG, seed=2)
    trainer.train()
    with_ema = trainer.validate(3)['psnr']
    ema, trainer.ema = trainer.ema, None
    raw = trainer.validate(3)['psnr']
    with ema.applied(trainer.generator):
        again = trainer.validate(3)['psnr']
    assert with_ema == pytest.approx(again, abs=1e-9) and with_ema != pytest.approx(raw, abs=1e-6)


def test_gradient_clipping_bounds_the_global_norm():
    net = paddle.nn.Linear(4, 4)
    sched = build_lr_scheduler({'name': 'CosineAnnealingRestartLR', 'learning_rate': 1.0,
                                'periods': [10], 'restart_weights': [1]})
    opt = build_optimizer({'name': 'Adam', 'net_names': ['generator'], 'grad_clip': 0.5},
                          sched, net.parameters())
    (net(paddle.full([2, 4], 100.0)) ** 2).sum().backward()
    clipped = opt._grad_clip([(p, p.grad) for p in net.parameters()])
    norm = np.sqrt(sum((g.numpy() ** 2).sum() for _, g in clipped))
    assert norm == pytest.approx(0.5, rel=1e-5)
