# SPDX-License-Identifier: Apache-2.0
"""Pixel losses: known values, reductions, registry names."""
import numpy as np
import paddle
import pytest

from edvr.errors import ConfigError
from edvr.models.losses import CharbonnierLoss, L1Loss, MSELoss
from edvr.registry import LOSSES, build_from_config


def _pair():
    pred = paddle.to_tensor([[0.0, 1.0], [-3.0, 2.0]], stop_gradient=False)
    target = paddle.to_tensor([[0.0, 0.0], [0.0, 2.5]])
    return pred, target   # differences 0, 1, -3, -0.5


def test_charbonnier_known_values_and_gradient():
    pred, target = _pair()
    roots = np.sqrt(np.array([0.0, 1.0, 9.0, 0.25]) + 0.01)
    loss = CharbonnierLoss(eps=0.01)(pred, target)
    assert float(loss) == pytest.approx(roots.sum(), rel=1e-6)
    loss.backward()
    np.testing.assert_allclose(pred.grad.numpy().ravel(),
                               np.array([0.0, 1.0, -3.0, -0.5]) / roots, rtol=1e-5)
    mean = CharbonnierLoss(eps=0.01, reduction='mean')(pred, target)
    assert float(mean) == pytest.approx(roots.mean(), rel=1e-6)


def test_charbonnier_defaults_match_paddlegan_config():
    loss = build_from_config({'name': 'CharbonnierLoss'}, LOSSES, where='model.pixel_criterion')
    assert (loss.eps, loss.reduction) == (1e-12, 'sum')
    pred, target = _pair()
    assert float(loss(pred, target)) == pytest.approx(4.5 + 1e-6, rel=1e-6)


def test_charbonnier_rejects_unknown_reduction():
    with pytest.raises(ConfigError, match="CharbonnierLoss.reduction: 'none'"):
        CharbonnierLoss(reduction='none')


def test_l1_and_mse_reductions_and_weight():
    pred, target = _pair()
    assert float(L1Loss()(pred, target)) == pytest.approx(4.5 / 4)
    assert float(L1Loss('sum', loss_weight=2.0)(pred, target)) == pytest.approx(9.0)
    np.testing.assert_allclose(L1Loss('none')(pred, target).numpy(), [[0, 1], [3, 0.5]])
    assert float(MSELoss()(pred, target)) == pytest.approx(10.25 / 4)
    assert float(MSELoss('sum', loss_weight=0.5)(pred, target)) == pytest.approx(5.125)
    np.testing.assert_allclose(MSELoss('none')(pred, target).numpy(), [[0, 1], [9, 0.25]])
    with pytest.raises(ConfigError, match='MSELoss.reduction'):
        MSELoss(reduction='max')
    assert {'CharbonnierLoss', 'L1Loss', 'MSELoss'} <= set(LOSSES.names())


@pytest.mark.parametrize('loss, reduction, allowed', [
    (CharbonnierLoss, 'none', "'sum', 'mean'"), (MSELoss, 'max', "'mean', 'sum', 'none'"),
    (L1Loss, None, "'mean', 'sum', 'none'")])
def test_an_unknown_reduction_is_refused_with_the_choices(loss, reduction, allowed):
    with pytest.raises(ConfigError) as info:
        loss(reduction=reduction)
    assert str(info.value) == f'{loss.__name__}.reduction: {reduction!r} is not one of {allowed}'
