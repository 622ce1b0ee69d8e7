# SPDX-License-Identifier: Apache-2.0
"""Learning-rate schedules, optimizers and the two builders that read them.

Config shapes (as in the EDVR configs)::

    lr_scheduler: {name: CosineAnnealingRestartLR, learning_rate: 4e-4,
                   periods: [...], restart_weights: [...], eta_min: 1e-7}
    optimizer: {name: Adam, net_names: [generator], beta1: 0.9, beta2: 0.99}
"""
import bisect
import math

import paddle
from paddle.nn.clip import ClipGradBase
from paddle.optimizer.lr import LRScheduler, MultiStepDecay

from edvr.errors import ConfigError
from edvr.registry import LR_SCHEDULERS, OPTIMIZERS, build_from_config

LR_SCHEDULERS.register(MultiStepDecay)


def _as_float(where, value):
    """``value`` as float (YAML reads ``4e-4`` without a dot as a string)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f'{where}: expected a number, got {value!r}') from None


@LR_SCHEDULERS.register
class CosineAnnealingRestartLR(LRScheduler):
    """Cosine annealing with warm restarts, stepped once per iteration.

    With period i starting at ``s_i = sum(periods[:i])``, step k in
    ``(s_i, s_i + periods[i]]`` (period 0 also holds k = 0) has the rate
    ``eta_min + 0.5 * w_i * (learning_rate - eta_min) * (1 + cos(pi * (k - s_i)
    / periods[i]))``. So a period's last step is at ``eta_min`` and the next
    step restarts near ``eta_min + w_i * (learning_rate - eta_min)``. Past the
    last period the rate stays at ``eta_min``.

    Paper: SGDR: Stochastic Gradient Descent with Warm Restarts (ICLR 2017).

    Args:
        learning_rate: base rate.
        periods: length in steps of each cosine cycle.
        restart_weights: factor on the rate of each cycle; one per period.
        eta_min: lowest rate.
        last_epoch: index of the last step taken; -1 starts fresh.
    """

    def __init__(self, learning_rate, periods, restart_weights=(1,), eta_min=0,
                 last_epoch=-1):
        where = 'lr_scheduler'
        if not periods or any(not isinstance(p, int) or p <= 0 for p in periods):
            raise ConfigError(f'{where}.periods: expected a list of positive integers, '
                              f'got {periods!r}')
        if len(periods) != len(restart_weights):
            raise ConfigError(f'{where}.restart_weights: needs one weight per period '
                              f'({len(periods)}), got {len(restart_weights)}')
        self.periods = list(periods)
        self.restart_weights = [_as_float(f'{where}.restart_weights', w)
                                for w in restart_weights]
        self.eta_min = _as_float(f'{where}.eta_min', eta_min)
        if not 0 <= self.eta_min <= _as_float(f'{where}.learning_rate', learning_rate):
            raise ConfigError(f'{where}.eta_min: {eta_min!r}; expected 0 <= eta_min <= '
                              f'learning_rate {learning_rate!r} (else the rate rises)')
        self.period_ends = [sum(self.periods[:i + 1]) for i in range(len(self.periods))]
        super().__init__(_as_float(f'{where}.learning_rate', learning_rate), last_epoch)

    def get_lr(self):
        step = self.last_epoch
        i = bisect.bisect_left(self.period_ends, step)  # first period ending at or after step
        if i == len(self.periods):
            return self.eta_min
        start = self.period_ends[i] - self.periods[i]
        phase = math.pi * (step - start) / self.periods[i]
        return self.eta_min + 0.5 * self.restart_weights[i] * \
            (self.base_lr - self.eta_min) * (1 + math.cos(phase))


def _grad_clip(value):
    """A number clips the global gradient norm to it; a paddle clip object passes."""
    if value is None or isinstance(value, ClipGradBase):
        return value
    return paddle.nn.ClipGradByGlobalNorm(_as_float('optimizer.grad_clip', value))


@OPTIMIZERS.register
def Adam(learning_rate, parameters, beta1=0.9, beta2=0.999, epsilon=1e-8,
         weight_decay=None, grad_clip=None, multi_precision=False):
    """`paddle.optimizer.Adam`; ``weight_decay`` is L2 added to the gradient,
    ``grad_clip`` a max global gradient norm."""
    return paddle.optimizer.Adam(
        learning_rate=learning_rate, parameters=parameters, beta1=float(beta1),
        beta2=float(beta2), epsilon=float(epsilon),
        weight_decay=None if weight_decay is None else float(weight_decay),
        grad_clip=_grad_clip(grad_clip), multi_precision=multi_precision)


@OPTIMIZERS.register
def AdamW(learning_rate, parameters, beta1=0.9, beta2=0.999, epsilon=1e-8,
          weight_decay=0.01, grad_clip=None, multi_precision=False):
    """`paddle.optimizer.AdamW`: Adam with decoupled ``weight_decay``."""
    return paddle.optimizer.AdamW(
        learning_rate=learning_rate, parameters=parameters, beta1=float(beta1),
        beta2=float(beta2), epsilon=float(epsilon), weight_decay=float(weight_decay),
        grad_clip=_grad_clip(grad_clip), multi_precision=multi_precision)


def build_lr_scheduler(cfg, where='lr_scheduler'):
    """The scheduler named by ``cfg['name']`` (e.g. CosineAnnealingRestartLR)."""
    return build_from_config(cfg, LR_SCHEDULERS, where)


def build_optimizer(cfg, lr_scheduler, parameters, where='optimizer'):
    """The optimizer named by ``cfg['name']`` over ``parameters``.

    Args:
        cfg: optimizer config; ``net_names`` is ignored here (the model
            uses it to pick ``parameters``).
        lr_scheduler: an `LRScheduler` or a fixed float rate.
        parameters: list of parameters to optimize.
        where: key path of ``cfg`` for error messages.
    """
    if isinstance(cfg, dict):
        for key in ('learning_rate', 'parameters'):
            if key in cfg:
                raise ConfigError(f'{where}.{key}: not set here; the rate comes from '
                                  'lr_scheduler and parameters from net_names')
        cfg = {k: v for k, v in cfg.items() if k != 'net_names'}
    return build_from_config(cfg, OPTIMIZERS, where, learning_rate=lr_scheduler,
                             parameters=parameters)
