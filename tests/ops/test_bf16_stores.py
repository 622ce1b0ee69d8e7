# SPDX-License-Identifier: Apache-2.0
"""The bfloat16 Winograd kernel's fused stores (`edvr.ops.bf16`): two inputs read in place,
the pixel-shuffled store and the offsets / sigmoid-mask split, against the separate passes
they replace (the same bfloat16 conv, then concat / pixel_shuffle / split + sigmoid) and
against float32, at sizes that cut tiles, chunks and vectors, on 1 and 2 threads."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from edvr.ops import bf16
from edvr.ops.conv import Conv2D


def rel_rms(a, b):
    return float(np.sqrt(((a - b) ** 2).mean() / (b ** 2).mean()))


def layer(c_in, c_out, act=None, seed=0):
    paddle.seed(seed)
    conv = Conv2D(c_in, c_out, 3, padding=1, act=act)
    with paddle.no_grad():   # a bias of the outputs' scale, so its store counts
        conv.bias.set_value(paddle.randn([c_out]) * 0.5)
    return conv


def as_bf16(conv):
    return bf16.set_precision(conv, 'bf16')


def randn(*shape, seed=1):
    return paddle.to_tensor(np.random.default_rng(seed).standard_normal(shape).astype('float32'))


# (c1, c2, h, w, c_out): c1 odd puts a channel pair across x and x2; widths cross the
# 24-tile chunk and leave partial tiles and vectors; c_out not a multiple of 16
PAIRS = [(5, 4, 13, 101, 20), (16, 16, 9, 30, 64), (1, 8, 6, 7, 5)]


@pytest.mark.parametrize('c1, c2, h, w, c_out', PAIRS)
def test_pair_reads_both_inputs_in_place(bf16_ops, threads, c1, c2, h, w, c_out):
    conv = layer(c1 + c2, c_out, act=0.1)
    x, x2 = randn(2, c1, h, w), randn(2, c2, h, w, seed=2)
    with paddle.no_grad():
        want32 = conv.forward_pair(x, x2).numpy()
        as_bf16(conv)
        got = conv.forward_pair(x, x2).numpy()
        apart = bf16.conv2d_bf16(paddle.concat([x, x2], 1), conv.weight, conv.bias, (1, 1),
                                 0.1).numpy()
    np.testing.assert_array_equal(got, apart)   # the same sums, only read in place
    assert 1e-4 < rel_rms(got, want32) < 4e-2


@pytest.mark.parametrize('c_in, h, w, c_out', [(7, 11, 37, 20), (64, 8, 100, 64),
                                               (3, 5, 6, 8)])
def test_shuffled_store_equals_pixel_shuffle(bf16_ops, threads, c_in, h, w, c_out):
    conv = layer(c_in, c_out, act=0.1, seed=3)
    x = randn(1, c_in, h, w, seed=4)
    with paddle.no_grad():
        want32 = conv.forward_shuffled(x).numpy()
        as_bf16(conv)
        got = conv.forward_shuffled(x).numpy()
        apart = F.pixel_shuffle(conv(x), 2).numpy()
    assert got.shape == (1, c_out // 4, 2 * h, 2 * w)
    np.testing.assert_array_equal(got, apart)
    assert 1e-4 < rel_rms(got, want32) < 4e-2


@pytest.mark.parametrize('c_in, h, w, c_out, split', [(9, 10, 29, 27, 16), (64, 7, 98, 216, 144),
                                                      (4, 4, 4, 40, 32)])
def test_split_store_equals_split_and_sigmoid(bf16_ops, threads, c_in, h, w, c_out, split):
    conv = layer(c_in, c_out, seed=5)
    x = randn(2, c_in, h, w, seed=6)
    with paddle.no_grad():
        want32 = [t.numpy() for t in conv.forward_split_sigmoid(x, split)]
        as_bf16(conv)
        got = [t.numpy() for t in conv.forward_split_sigmoid(x, split)]
        first, second = paddle.split(conv(x), [split, c_out - split], 1)
        apart = [first.numpy(), F.sigmoid(second).numpy()]
    assert got[0].shape == (2, split, h, w) and got[1].shape == (2, c_out - split, h, w)
    np.testing.assert_array_equal(got[0], apart[0])
    np.testing.assert_allclose(got[1], apart[1], rtol=0, atol=3e-7)   # the kernels' sigmoid
    assert 1e-4 < rel_rms(got[0], want32[0]) < 4e-2
    assert 0 < rel_rms(got[1], want32[1]) < 4e-2


def test_activation_before_the_split_sigmoid(bf16_ops):
    conv = layer(8, 20, act=0.2, seed=7)
    x = randn(1, 8, 9, 9, seed=8)
    with paddle.no_grad():
        as_bf16(conv)
        offsets, mask = conv.forward_split_sigmoid(x, 16)
        first, second = paddle.split(conv(x), [16, 4], 1)
    np.testing.assert_array_equal(offsets.numpy(), first.numpy())
    np.testing.assert_allclose(mask.numpy(), F.sigmoid(second).numpy(), rtol=0, atol=3e-7)


def test_one_pass_where_it_fits_and_the_separate_passes_elsewhere(bf16_ops, monkeypatch):
    calls = []
    real = bf16.conv2d_bf16

    def recording(*args, **kwargs):
        calls.append({k: kwargs.get(k) for k in ('x2', 'shuffle', 'split')})
        return real(*args, **kwargs)

    monkeypatch.setattr(bf16, 'conv2d_bf16', recording)
    x, x2 = randn(1, 6, 8, 9), randn(1, 2, 8, 9, seed=2)
    with paddle.no_grad():
        as_bf16(layer(8, 24)).forward_pair(x, x2)
        as_bf16(layer(6, 24)).forward_shuffled(x)
        as_bf16(layer(6, 24)).forward_split_sigmoid(x, 16)
        assert [c['x2'] is not None for c in calls] == [True, False, False]
        assert [bool(c['shuffle']) for c in calls] == [False, True, False]
        assert [c['split'] for c in calls] == [None, None, 16]
        calls.clear()
        as_bf16(layer(6, 4)).forward_shuffled(x)             # 4 outputs: the narrow kernel
        as_bf16(layer(6, 24)).forward_split_sigmoid(x, 12)   # split not a multiple of 16
        conv = as_bf16(layer(8, 24))
        conv.kernel = 'direct'                               # no Winograd: no fused stores
        conv.forward_pair(x, x2)
    assert calls and all(c == {'x2': None, 'shuffle': None, 'split': None} for c in calls)


def test_with_gradients_every_store_stays_float32(bf16_ops):
    conv = layer(6, 32, act=0.1, seed=9)
    x = randn(1, 4, 7, 10)
    x2 = randn(1, 2, 7, 10, seed=3)
    x.stop_gradient = False
    want = [conv.forward_pair(x, x2), conv.forward_shuffled(paddle.concat([x, x2], 1)),
            conv.forward_split_sigmoid(paddle.concat([x, x2], 1), 16)[1]]
    as_bf16(conv)
    got = [conv.forward_pair(x, x2), conv.forward_shuffled(paddle.concat([x, x2], 1)),
           conv.forward_split_sigmoid(paddle.concat([x, x2], 1), 16)[1]]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    sum(t.sum() for t in got).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_the_op_refuses_stores_it_cannot_do(bf16_ops):
    x, w = randn(1, 4, 6, 6), randn(8, 4, 3, 3, seed=2)
    with pytest.raises(Exception, match='need Winograd'):
        bf16.conv2d_bf16(x, w, None, (1, 1), winograd=False, shuffle=True)
    with pytest.raises(Exception, match='split must lie inside'):
        bf16.conv2d_bf16(x, randn(40, 4, 3, 3), None, (1, 1), split=20)
    with pytest.raises(Exception, match='shuffle needs'):
        bf16.conv2d_bf16(x, w, None, (1, 1), residual=randn(1, 8, 6, 6), shuffle=True)
