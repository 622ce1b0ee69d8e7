# SPDX-License-Identifier: Apache-2.0
"""The no-gradient shortcuts of the video path equal the Paddle ops they replace.

Bilinear 2x upsampling (`edvr.ops.upsample2x`), a convolution of two inputs read in place
(`Conv2D.forward_pair`), a residual added as the output is stored
(`Conv2D.forward_residual`), the pixel shuffle stored by the convolution
(`Conv2D.forward_shuffled`) and a DCN's offsets and sigmoid mask stored apart
(`Conv2D.forward_split_sigmoid`): the same bits as the Paddle ops where the arithmetic is
the same (all but the sigmoid, which agrees to float rounding); with gradients the layers
run the Paddle ops, so values and gradients are those of the composition.
"""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from edvr.ops import Conv2D, upsample2x
from edvr.ops.conv import set_conv_kernel, get_conv_kernel


@pytest.fixture(params=['cpp', 'direct'])
def conv_kernel(request):
    before = get_conv_kernel()
    set_conv_kernel(request.param)
    yield request.param
    set_conv_kernel(before)


def _tensor(rng, *shape, scale=1.0):
    return paddle.to_tensor((rng.standard_normal(shape) * scale).astype('float32'))


def _conv(rng, c_in, c_out, act=0.1):
    paddle.seed(int(rng.integers(1 << 30)))
    layer = Conv2D(c_in, c_out, 3, padding=1, act=act)
    layer.bias.set_value(_tensor(rng, c_out))
    return layer


@pytest.mark.parametrize('shape', [(2, 3, 5, 7), (5, 16, 12, 20), (1, 1, 1, 1), (1, 2, 1, 6),
                                   (3, 4, 9, 2)])
@pytest.mark.parametrize('scale', [1.0, 2.0])
def test_upsample2x_is_paddles_bilinear_bit_for_bit(cpp_ops, threads, shape, scale):
    x = _tensor(np.random.default_rng(0), *shape)
    with paddle.no_grad():
        got = upsample2x(x, scale).numpy()
    ref = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False,
                        align_mode=0).numpy() * scale
    assert got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)


def test_upsample2x_with_gradients_runs_paddle(cpp_ops):
    x = _tensor(np.random.default_rng(1), 2, 3, 4, 5)
    x.stop_gradient = False
    upsample2x(x, 2.0).sum().backward()
    # each input pixel spreads weights summing to 4 over the output, times the scale 2
    np.testing.assert_allclose(x.grad.numpy(), 8.0, rtol=1e-6)


@pytest.mark.parametrize('c1, c2, c_out, h, w', [(5, 7, 24, 11, 13), (16, 16, 16, 9, 30),
                                                 (3, 5, 4, 7, 9), (8, 8, 40, 4, 4)])
def test_conv_of_two_inputs_equals_the_conv_of_their_concatenation(cpp_ops, threads,
                                                                    conv_kernel, c1, c2, c_out,
                                                                    h, w):
    rng = np.random.default_rng(2)
    layer = _conv(rng, c1 + c2, c_out)
    x, x2 = _tensor(rng, 2, c1, h, w), _tensor(rng, 2, c2, h, w)
    with paddle.no_grad():
        got = layer.forward_pair(x, x2).numpy()
        ref = layer(paddle.concat([x, x2], 1)).numpy()
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize('c_in, c_out, act', [(8, 24, None), (16, 16, 0.1), (6, 3, None)])
def test_residual_added_in_the_store_equals_the_sum(cpp_ops, threads, conv_kernel, c_in, c_out,
                                                    act):
    rng = np.random.default_rng(7)
    layer = _conv(rng, c_in, c_out, act=act)
    x, residual = _tensor(rng, 2, c_in, 9, 14), _tensor(rng, 2, c_out, 9, 14)
    with paddle.no_grad():
        got = layer.forward_residual(x, residual).numpy()
        ref = (residual + layer(x)).numpy()
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize('c_in, c_out, h, w', [(8, 64, 8, 12), (6, 36, 9, 9), (5, 4, 7, 9),
                                               (16, 32, 5, 17)])
def test_shuffled_store_equals_pixel_shuffle(cpp_ops, threads, conv_kernel, c_in, c_out, h, w):
    rng = np.random.default_rng(3)
    layer = _conv(rng, c_in, c_out)
    x = _tensor(rng, 2, c_in, h, w)
    with paddle.no_grad():
        got = layer.forward_shuffled(x).numpy()
        ref = F.pixel_shuffle(layer(x), 2).numpy()
    assert got.shape == (2, c_out // 4, 2 * h, 2 * w)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize('act', [None, 0.1, 'relu'])
@pytest.mark.parametrize('c_in, c_out, split, h, w', [(16, 216, 144, 12, 20), (8, 48, 32, 5, 7),
                                                      (4, 40, 16, 9, 4)])
def test_split_sigmoid_equals_split_and_sigmoid(cpp_ops, threads, c_in, c_out, split, h, w, act):
    rng = np.random.default_rng(4)
    layer = _conv(rng, c_in, c_out, act=act)
    layer.weight.set_value(_tensor(rng, c_out, c_in, 3, 3, scale=3.0))  # sums up to ~+-100
    x = _tensor(rng, 2, c_in, h, w)
    with paddle.no_grad():
        offset, mask = layer.forward_split_sigmoid(x, split)
        y = layer(x)
    ref_offset, ref_mask = y[:, :split].numpy(), F.sigmoid(y[:, split:]).numpy()
    assert tuple(offset.shape) == ref_offset.shape and tuple(mask.shape) == ref_mask.shape
    np.testing.assert_array_equal(offset.numpy(), ref_offset)
    np.testing.assert_allclose(mask.numpy(), ref_mask, rtol=1e-6, atol=1e-7)
    assert np.abs(y[:, split:].numpy()).max() > 30     # the saturated ends were exercised


def _grads(fn, x, layer):
    """Value of ``fn(x)`` and the gradients of its sum (times a probe) to x and the weight."""
    out = fn(x)
    probe = paddle.to_tensor(np.random.default_rng(6).standard_normal(out.shape).astype('float32'))
    (out * probe).sum().backward()
    result = [out.numpy(), x.grad.numpy(), layer.weight.grad.numpy()]
    x.clear_gradient()
    layer.clear_gradients()
    return result


def test_with_gradients_the_layers_run_the_paddle_composition(cpp_ops):
    rng = np.random.default_rng(5)
    pair, shuffled, split = _conv(rng, 8, 16), _conv(rng, 4, 16), _conv(rng, 4, 48, act=None)
    summed = _conv(rng, 4, 4)
    x = _tensor(rng, 2, 4, 6, 7)
    x.stop_gradient = False
    cases = [(pair, lambda t: pair.forward_pair(t, t * 2),
              lambda t: pair(paddle.concat([t, t * 2], 1))),
             (shuffled, shuffled.forward_shuffled, lambda t: F.pixel_shuffle(shuffled(t), 2)),
             (split, lambda t: split.forward_split_sigmoid(t, 32)[0], lambda t: split(t)[:, :32]),
             (split, lambda t: split.forward_split_sigmoid(t, 32)[1],
              lambda t: F.sigmoid(split(t)[:, 32:])),
             (summed, lambda t: summed.forward_residual(t, t * 3), lambda t: t * 3 + summed(t))]
    for layer, fn, ref_fn in cases:
        for got, ref in zip(_grads(fn, x, layer), _grads(ref_fn, x, layer)):
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
