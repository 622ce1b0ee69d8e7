# SPDX-License-Identifier: Apache-2.0
"""What a config that omits the optimizer's and the schedule's arguments gets: the
weights after three Adam/AdamW steps and the rates of a schedule, against the formulas
worked out here; and the refusals on one whole line."""
import math
import re

import numpy as np
import paddle
import pytest

from edvr.errors import ConfigError
from edvr.solver import CosineAnnealingRestartLR, build_lr_scheduler, build_optimizer

# Gradients of very different sizes (the two smallest are near epsilon) that change
# from step to step, so beta1, beta2, epsilon and the weight decay each show.
GRAD = np.array([1.0, -2.0, 1e-8, 3e-9])
SCALES = (1.0, 3.0, -2.0)


def exactly(message):
    return rf'^{re.escape(message)}$'


def adam_steps(cfg, lr=0.1):
    weights = paddle.create_parameter(
        [4], 'float32', default_initializer=paddle.nn.initializer.Assign(np.ones(4, np.float32)))
    opt = build_optimizer(cfg, lr, [weights])
    for scale in SCALES:
        (weights * paddle.to_tensor((GRAD * scale).astype(np.float32))).sum().backward()
        opt.step()
        opt.clear_grad()
    return weights.numpy()


def adam_by_hand(lr=0.1, beta1=0.9, beta2=0.999, epsilon=1e-8, decoupled_decay=0.0, l2=0.0):
    """Adam as Paddle computes it (epsilon scaled by the bias correction of beta2);
    Adam's weight_decay adds l2 * w to the gradient, AdamW first shrinks the weights
    by lr * decay."""
    w, m, v = np.ones(4), np.zeros(4), np.zeros(4)
    for t, scale in enumerate(SCALES, 1):
        g = GRAD * scale + l2 * w
        w = w * (1 - lr * decoupled_decay)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        w = w - lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * m / (
            np.sqrt(v) + epsilon * math.sqrt(1 - beta2 ** t))
    return w


def test_adam_defaults():
    np.testing.assert_allclose(adam_steps({'name': 'Adam'}), adam_by_hand(), rtol=0, atol=2e-6)
    # PaddleGAN's EDVR configs set only beta1 and beta2
    np.testing.assert_allclose(adam_steps({'name': 'Adam', 'net_names': ['generator'],
                                           'beta1': 0.9, 'beta2': 0.99}),
                               adam_by_hand(beta2=0.99), rtol=0, atol=2e-6)
    np.testing.assert_allclose(adam_steps({'name': 'Adam', 'weight_decay': 0.5}),
                               adam_by_hand(l2=0.5), rtol=0, atol=2e-6)


def test_adamw_defaults_decay_the_weights_by_one_percent_of_the_rate():
    np.testing.assert_allclose(adam_steps({'name': 'AdamW'}),
                               adam_by_hand(decoupled_decay=0.01), rtol=0, atol=2e-6)


def test_schedule_defaults_one_weight_and_eta_min_zero():
    sched = build_lr_scheduler({'name': 'CosineAnnealingRestartLR', 'learning_rate': 1.0,
                                'periods': [4]})
    rates = [sched()]
    for _ in range(5):
        sched.step()
        rates.append(sched())
    half = 0.5 * (1 + math.cos(math.pi / 4))
    assert rates == pytest.approx([1.0, half, 0.5, 1 - half, 0.0, 0.0], abs=1e-15)


def test_eta_min_equal_to_the_rate_keeps_it_constant():
    sched = CosineAnnealingRestartLR(0.25, periods=[3], eta_min=0.25)
    rates = [sched()]
    for _ in range(4):
        sched.step()
        rates.append(sched())
    assert rates == [0.25] * 5


def test_periods_of_one_step_and_a_given_last_epoch():
    sched = CosineAnnealingRestartLR(1.0, periods=[1, 2], restart_weights=[1, 0.5])
    rates = [sched()]
    for _ in range(3):
        sched.step()
        rates.append(sched())
    assert rates == pytest.approx([1.0, 0.0, 0.25, 0.0], abs=1e-15)
    # last_epoch = 1: built as after two steps
    assert CosineAnnealingRestartLR(1.0, [1, 2], [1, 0.5], last_epoch=1)() == \
        pytest.approx(0.25, abs=1e-15)


@pytest.mark.parametrize('kwargs, message', [
    (dict(periods=[5, 0]), 'lr_scheduler.periods: expected a list of positive integers, got [5, 0]'),
    (dict(periods=[]), 'lr_scheduler.periods: expected a list of positive integers, got []'),
    (dict(periods=[2.5]), 'lr_scheduler.periods: expected a list of positive integers, got [2.5]'),
    (dict(periods=[5], restart_weights=['x']),
     "lr_scheduler.restart_weights: expected a number, got 'x'"),
    (dict(periods=[5], restart_weights=[1, 1]),
     'lr_scheduler.restart_weights: needs one weight per period (1), got 2'),
    (dict(periods=[5], eta_min=None), 'lr_scheduler.eta_min: expected a number, got None'),
    (dict(periods=[5], eta_min=-1),
     'lr_scheduler.eta_min: -1; expected 0 <= eta_min <= learning_rate 1.0 (else the rate rises)'),
    (dict(periods=[5], eta_min=1.5),
     'lr_scheduler.eta_min: 1.5; expected 0 <= eta_min <= learning_rate 1.0 (else the rate rises)'),
    (dict(periods=[5], learning_rate='fast'),
     "lr_scheduler.learning_rate: expected a number, got 'fast'"),
])
def test_schedule_refusals(kwargs, message):
    with pytest.raises(ConfigError, match=exactly(message)):
        CosineAnnealingRestartLR(**dict(dict(learning_rate=1.0), **kwargs))


@pytest.mark.parametrize('cfg, message', [
    ({'name': 'Adam', 'grad_clip': 'big'}, "optimizer.grad_clip: expected a number, got 'big'"),
    ({'name': 'Adam', 'parameters': []},
     'optimizer.parameters: not set here; the rate comes from lr_scheduler and parameters '
     'from net_names'),
    ({'name': 'Adam', 'learning_rate': 0.1},
     'optimizer.learning_rate: not set here; the rate comes from lr_scheduler and parameters '
     'from net_names'),
])
def test_optimizer_refusals(cfg, message):
    with pytest.raises(ConfigError, match=exactly(message)):
        build_optimizer(cfg, 1e-3, paddle.nn.Linear(2, 2).parameters())


def test_refusals_name_the_key_path_given():
    with pytest.raises(ConfigError, match=exactly(
            "optimizers.generator.name: unknown optimizer 'Adamm'; did you mean Adam, AdamW?")):
        build_optimizer({'name': 'Adamm'}, 1e-3, [], where='optimizers.generator')
    with pytest.raises(ConfigError, match=exactly(
            "schedules.g.name: unknown lr_scheduler 'Cosine'; known: CosineAnnealingRestartLR, "
            'MultiStepDecay')):
        build_lr_scheduler({'name': 'Cosine'}, where='schedules.g')
