# SPDX-License-Identifier: Apache-2.0
"""Stride-2 convolutions in the bfloat16 mode (`edvr.ops.bf16`): the direct kernel with
stride 2 against a float64 sum of the bfloat16-rounded operands and against float32, at
sizes that leave partial register tiles and odd borders, on 1 and 2 threads; which calls
take it."""
import numpy as np
import paddle
import pytest

from edvr.ops import bf16
from edvr.ops.conv import Conv2D
from edvr.utils.device import cpu_threads, set_cpu_threads
from tests.ops.test_bf16 import rel_rms, to_bf16


def conv64_strided(x, w, b, padding):
    out = paddle.nn.functional.conv2d(paddle.to_tensor(x), paddle.to_tensor(w),
                                      paddle.to_tensor(b), stride=2, padding=padding)
    return out.numpy()


@pytest.mark.parametrize('b, c, h, w, c_out, k, pad', [(2, 9, 13, 30, 20, 3, 1),
                                                       (1, 64, 21, 50, 64, 3, 1),
                                                       (1, 5, 8, 27, 33, 3, 0),
                                                       (1, 6, 11, 9, 7, 1, 0)])
@pytest.mark.parametrize('threads', [1, 2])
def test_stride2_equals_rounded_operands(bf16_ops, b, c, h, w, c_out, k, pad, threads):
    rng = np.random.default_rng(c)
    x = rng.standard_normal((b, c, h, w)).astype('float32')
    wt = (rng.standard_normal((c_out, c, k, k)) / np.sqrt(c * k * k)).astype('float32')
    bias = rng.standard_normal(c_out).astype('float32')
    before = cpu_threads()
    set_cpu_threads(threads)
    try:
        got = bf16.conv2d_bf16(paddle.to_tensor(x), paddle.to_tensor(wt), paddle.to_tensor(bias),
                               (pad, pad), winograd=False, stride=2).numpy()
    finally:
        set_cpu_threads(before)
    want = conv64_strided(to_bf16(x), to_bf16(wt), bias.astype('float64'), pad)
    exact = conv64_strided(x.astype('float64'), wt.astype('float64'), bias.astype('float64'), pad)
    assert got.shape == want.shape == ((b, c_out, (h + 2 * pad - k) // 2 + 1,
                                        (w + 2 * pad - k) // 2 + 1))
    assert np.abs(got - want).max() < 1e-5 * np.abs(want).max()   # float32 sums of bf16 products
    assert 1e-4 < rel_rms(got, exact) < 1e-2


def test_the_layer_runs_stride2_in_bf16_where_it_can(bf16_ops, monkeypatch):
    paddle.seed(3)
    layer = Conv2D(8, 16, 3, stride=2, padding=1, act=0.1)
    x = paddle.randn([2, 8, 17, 22])
    with paddle.no_grad():
        want = layer(x).numpy()
        bf16.set_precision(layer, 'bf16')
        got = layer(x).numpy()
        strides = []
        real = bf16.conv2d_bf16
        monkeypatch.setattr(bf16, 'conv2d_bf16',
                            lambda *a, **k: strides.append(k.get('stride')) or real(*a, **k))
        layer(x)
        layer.kernel = 'columns'          # pinned to the float32 column kernels: kept there
        np.testing.assert_array_equal(layer(x).numpy(), want)
        narrow = bf16.set_precision(Conv2D(8, 4, 3, stride=2, padding=1), 'bf16')
        narrow(x)                         # 4 outputs: float32
    assert strides == [2]
    assert got.shape == want.shape == (2, 16, 9, 11)
    assert 1e-4 < rel_rms(got, want) < 1e-2
    x.stop_gradient = False               # with gradients: float32, the same numbers
    layer.kernel = None
    np.testing.assert_array_equal(layer(x).numpy(), want)


def test_the_op_refuses_stride2_on_winograd(bf16_ops):
    x, w = paddle.randn([1, 4, 8, 8]), paddle.randn([8, 4, 3, 3])
    with pytest.raises(Exception, match='stride 2 runs on the direct kernel'):
        bf16.conv2d_bf16(x, w, None, (1, 1), stride=2)
    with pytest.raises(Exception, match='stride must be 1 or 2'):
        bf16.conv2d_bf16(x, w, None, (1, 1), winograd=False, stride=3)
