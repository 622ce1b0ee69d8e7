# SPDX-License-Identifier: Apache-2.0
"""DCNPack: parameter names, initialisation and the offset statistic."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from edvr.models.blocks import DCNPack


def test_dcnpack_names_init_and_offset_statistic():
    paddle.seed(3)
    layer = DCNPack(num_filters=8, kernel_size=3, deformable_groups=2)
    shapes = {k: list(v.shape) for k, v in layer.state_dict().items()}
    assert shapes == {'conv_offset_mask.weight': [54, 8, 3, 3], 'conv_offset_mask.bias': [54],
                      'dcn.weight': [8, 8, 3, 3], 'dcn.bias': [8]}
    assert not layer.conv_offset_mask.weight.numpy().any()
    assert not layer.conv_offset_mask.bias.numpy().any()
    bound = 1 / np.sqrt(8 * 9)
    assert np.abs(layer.dcn.weight.numpy()).max() <= bound

    x, feat = paddle.rand([2, 8, 6, 6]), paddle.rand([2, 8, 6, 6])
    layer.eval()
    out = layer(x, feat)
    assert layer.last_offset_abs_mean is None  # only recorded in training mode
    # Zero offsets and a 0.5 mask: half a plain conv plus the bias.
    conv = F.conv2d(x, layer.dcn.weight, padding=1) * 0.5 + layer.dcn.bias.reshape([1, 8, 1, 1])
    np.testing.assert_allclose(out.numpy(), conv.numpy(), rtol=1e-5, atol=1e-5)

    layer.train()
    layer.conv_offset_mask.bias.set_value(paddle.full([54], 0.25))
    layer(x, feat)
    assert float(layer.last_offset_abs_mean) == pytest.approx(0.25, abs=1e-6)
    assert layer.last_offset_abs_mean.stop_gradient
