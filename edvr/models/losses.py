# SPDX-License-Identifier: Apache-2.0
"""Pixel losses, configured by name as in PaddleGAN (``pixel_criterion``)."""
import paddle
import paddle.nn as nn

from edvr.errors import ConfigError
from edvr.registry import LOSSES


def _check_reduction(name, reduction, allowed):
    if reduction not in allowed:
        raise ConfigError(f'{name}.reduction: {reduction!r} is not one of '
                          f'{", ".join(repr(a) for a in allowed)}')


def _reduce(values, reduction):
    if reduction == 'sum':
        return values.sum()
    if reduction == 'mean':
        return values.mean()
    return values


@LOSSES.register
class CharbonnierLoss(nn.Layer):
    """Charbonnier loss, a differentiable L1: reduce(sqrt((pred - target)^2 + eps)).

    Paper: EDVR: Video Restoration with Enhanced Deformable Convolutional Networks
    (Wang et al., CVPRW 2019).

    Args:
        eps: added under the square root.
        reduction: 'sum' (EDVR's choice) or 'mean'.
    """

    def __init__(self, eps=1e-12, reduction='sum'):
        super().__init__()
        _check_reduction('CharbonnierLoss', reduction, ('sum', 'mean'))
        self.eps = eps
        self.reduction = reduction

    def forward(self, pred, target):
        """Loss of pred vs target, both (b, c, h, w); a scalar tensor."""
        return _reduce(paddle.sqrt((pred - target) ** 2 + self.eps), self.reduction)


class _WeightedLoss(nn.Layer):
    """loss_weight * reduce(error(pred, target)); subclasses define `error`.

    Args:
        reduction: 'mean', 'sum' or 'none'.
        loss_weight: factor applied to the loss.
    """

    def __init__(self, reduction='mean', loss_weight=1.0):
        super().__init__()
        _check_reduction(type(self).__name__, reduction, ('mean', 'sum', 'none'))
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred, target):
        """Loss of pred vs target, both (b, c, h, w)."""
        return self.loss_weight * _reduce(self.error(pred, target), self.reduction)


@LOSSES.register
class L1Loss(_WeightedLoss):
    """Weighted mean absolute error: loss_weight * reduce(|pred - target|)."""

    def error(self, pred, target):
        return (pred - target).abs()


@LOSSES.register
class MSELoss(_WeightedLoss):
    """Weighted mean squared error: loss_weight * reduce((pred - target)^2)."""

    def error(self, pred, target):
        return (pred - target) ** 2
