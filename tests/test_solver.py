# SPDX-License-Identifier: Apache-2.0
"""Cosine-restart learning rates at every boundary, resume, optimizer building."""
import math

import numpy as np
import paddle
import pytest

from edvr.errors import ConfigError
from edvr.solver import CosineAnnealingRestartLR, build_lr_scheduler, build_optimizer

BASE, ETA = 4e-4, 1e-7
SMALL = {'name': 'CosineAnnealingRestartLR', 'learning_rate': BASE,
         'periods': [5, 10, 15], 'restart_weights': [1, 0.5, 0.5], 'eta_min': ETA}


def _cosine(k, start, period, weight):
    return ETA + 0.5 * weight * (BASE - ETA) * (1 + math.cos(math.pi * (k - start) / period))


def _expected_small(k):
    # Period i holds steps (start_i, end_i]; step 0 belongs to period 0.
    if k <= 5:
        return _cosine(k, 0, 5, 1.0)
    if k <= 15:
        return _cosine(k, 5, 10, 0.5)
    if k <= 30:
        return _cosine(k, 15, 15, 0.5)
    return ETA


def _lrs(sched, n):
    out = [sched()]
    for _ in range(n):
        sched.step()
        out.append(sched())
    return out


def test_every_step_of_a_small_schedule_follows_the_formula():
    lrs = _lrs(build_lr_scheduler(SMALL), 40)
    np.testing.assert_allclose(lrs, [_expected_small(k) for k in range(41)], rtol=0, atol=1e-15)
    # Hand values at the boundaries and mid-periods.
    assert lrs[0] == pytest.approx(BASE, abs=1e-15)
    for end in (5, 15, 30):
        assert lrs[end] == pytest.approx(ETA, abs=1e-15)       # a period ends at eta_min
    assert lrs[6] == pytest.approx(ETA + 0.25 * (BASE - ETA) * (1 + math.cos(math.pi / 10)))
    assert lrs[10] == pytest.approx(ETA + 0.25 * (BASE - ETA), abs=1e-15)   # half of period 1
    assert lrs[16] == pytest.approx(ETA + 0.25 * (BASE - ETA) * (1 + math.cos(math.pi / 15)))
    assert lrs[31:] == [ETA] * 10                               # past the end: no crash


def test_edvr_schedule_at_its_restarts_and_past_the_end():
    cfg = {'name': 'CosineAnnealingRestartLR', 'learning_rate': BASE,
           'periods': [50000, 100000, 150000, 150000, 150000],
           'restart_weights': [1, 1, 1, 1, 1], 'eta_min': ETA}
    sched = build_lr_scheduler(cfg)
    for step, expected in [(0, BASE), (25000, ETA + 0.5 * (BASE - ETA)), (50000, ETA),
                           (150000, ETA), (300000, ETA), (600000, ETA), (600001, ETA),
                           (10 ** 7, ETA),
                           (50001, ETA + 0.5 * (BASE - ETA) * (1 + math.cos(math.pi / 1e5)))]:
        sched.step(step)
        assert sched() == pytest.approx(expected, rel=1e-12, abs=1e-18), step


def test_state_dict_round_trip_resumes_the_same_sequence():
    first = build_lr_scheduler(SMALL)
    for _ in range(7):
        first.step()
    state = first.state_dict()
    assert state['last_epoch'] == 7
    resumed = build_lr_scheduler(SMALL)
    resumed.set_state_dict(state)
    assert resumed() == first()
    assert _lrs(resumed, 12) == _lrs(first, 12)


def test_bad_schedules_raise_config_errors():
    with pytest.raises(ConfigError, match='restart_weights: needs one weight per period'):
        CosineAnnealingRestartLR(BASE, periods=[5, 10], restart_weights=[1])
    with pytest.raises(ConfigError, match='restart_weights'):
        build_lr_scheduler(dict(SMALL, restart_weights=[1, 0.5]))
    with pytest.raises(ConfigError, match='periods'):
        build_lr_scheduler(dict(SMALL, periods=[5, 0, 15]))
    with pytest.raises(ConfigError, match=r'lr_scheduler\.restart_weight: .*restart_weights'):
        build_lr_scheduler({k if k != 'restart_weights' else 'restart_weight': v
                            for k, v in SMALL.items()})
    # YAML reads 4e-4 (no dot) as a string; it still means the number.
    assert build_lr_scheduler(dict(SMALL, learning_rate='4e-4'))() == pytest.approx(BASE)
    with pytest.raises(ConfigError, match='eta_min'):
        build_lr_scheduler(dict(SMALL, eta_min='tiny'))


def test_multistep_decay_is_available():
    sched = build_lr_scheduler({'name': 'MultiStepDecay', 'learning_rate': 1.0,
                                'milestones': [2], 'gamma': 0.5})
    assert _lrs(sched, 3) == [1.0, 1.0, 0.5, 0.5]


PADDLEGAN_ADAM = {'name': 'Adam', 'net_names': ['generator'], 'beta1': 0.9, 'beta2': 0.99}


def test_adam_from_paddlegan_config_takes_a_step():
    paddle.seed(0)
    net = paddle.nn.Linear(4, 3)
    sched = build_lr_scheduler(SMALL)
    cfg = dict(PADDLEGAN_ADAM)
    opt = build_optimizer(cfg, sched, net.parameters())
    assert cfg == PADDLEGAN_ADAM                      # caller's dict untouched
    assert isinstance(opt, paddle.optimizer.Adam)
    assert (opt._beta1, opt._beta2) == (0.9, 0.99)
    before = net.weight.numpy().copy()
    loss = (net(paddle.ones([2, 4])) * paddle.to_tensor([1., -2., 3.])).sum()
    loss.backward()
    grad = net.weight.grad.numpy().copy()
    opt.step()
    # Adam's first step moves every weight by lr * g / (|g| + eps) ~ lr * sign(g).
    np.testing.assert_allclose(net.weight.numpy() - before, -BASE * np.sign(grad), atol=1e-8)
    sched.step()
    assert opt.get_lr() == pytest.approx(_expected_small(1), abs=1e-15)


def test_optimizer_options_and_errors():
    params = paddle.nn.Linear(2, 2).parameters()
    opt = build_optimizer(dict(PADDLEGAN_ADAM, grad_clip=1.0, weight_decay=0.0,
                               epsilon='1e-8'), 1e-3, params)
    assert isinstance(opt._grad_clip, paddle.nn.ClipGradByGlobalNorm)
    assert opt._grad_clip.clip_norm == 1.0 and opt._epsilon == 1e-8
    adamw = build_optimizer({'name': 'AdamW', 'weight_decay': 0.05}, 1e-3, params)
    assert isinstance(adamw, paddle.optimizer.AdamW) and adamw._weight_decay == 0.05
    with pytest.raises(ConfigError, match=r'optimizer\.beta_1: .*beta1'):
        build_optimizer(dict(PADDLEGAN_ADAM, beta_1=0.9), 1e-3, params)
    with pytest.raises(ConfigError, match=r'optimizer\.learning_rate'):
        build_optimizer(dict(PADDLEGAN_ADAM, learning_rate=0.1), 1e-3, params)
    with pytest.raises(ConfigError, match='unknown optimizer'):
        build_optimizer({'name': 'Adamm'}, 1e-3, params)
