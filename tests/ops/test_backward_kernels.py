# SPDX-License-Identifier: Apache-2.0
"""The training kernels: the Winograd weight gradient of the fused convolutions, the
gradient through their activation and the DCN backward, against float64 sums and Paddle's
own kernels."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from edvr.ops import fused_conv


def _weight_grad_float64(x, grad_out, padding):
    """sum over samples and positions of grad_out[o] * shifted x[c], in float64."""
    ho, wo = grad_out.shape[2:]
    xp = np.pad(x.astype('float64'), ((0, 0), (0, 0), (padding,) * 2, (padding,) * 2))
    g = grad_out.astype('float64')
    out = np.zeros((g.shape[1], x.shape[1], 3, 3))
    for i in range(3):
        for j in range(3):
            out[:, :, i, j] = np.einsum('bohw,bchw->oc', g, xp[:, :, i:i + ho, j:j + wo])
    return out


@pytest.mark.parametrize('b,c,c_out,h,w,padding', [
    (2, 16, 3, 7, 11, 1),      # narrow output side (conv_last), partial tiles
    (3, 40, 37, 13, 6, 0),     # partial vector blocks on both sides, no padding
    (1, 17, 20, 5, 7, 2),      # more output than input channels, padding 2
    (2, 32, 64, 20, 38, 1),    # more tiles than one chunk (90)
])
def test_winograd_weight_grad_equals_the_float64_sum(cpp_ops, b, c, c_out, h, w, padding,
                                                     threads):
    rng = np.random.RandomState(0)
    x = rng.randn(b, c, h, w).astype('float32')
    g = rng.randn(b, c_out, h + 2 * padding - 2, w + 2 * padding - 2).astype('float32')
    got, bias = cpp_ops.edvr_conv_weight_winograd(paddle.to_tensor(x), paddle.to_tensor(g),
                                                  padding, padding, threads)
    ref = _weight_grad_float64(x, g, padding)
    assert tuple(got.shape) == ref.shape
    assert np.abs(got.numpy() - ref).max() <= 2e-5 * np.abs(ref).max()
    ref_bias = g.astype('float64').sum((0, 2, 3))
    assert np.abs(bias.numpy() - ref_bias).max() <= 1e-5 * np.abs(ref_bias).max()


@pytest.mark.parametrize('c,c_out,padding', [(16, 3, (1, 1)), (24, 40, (0, 1)), (20, 8, (2, 2))])
@pytest.mark.parametrize('slope', [None, 0.0, 0.1])
def test_fused_conv_gradients_on_the_winograd_weight_grad(cpp_ops, c, c_out, padding, slope,
                                                          threads, monkeypatch):
    """Through the layer's autograd, activation included: every gradient within 1e-4 of
    Paddle's conv and activation, and the weight gradient taken from the Winograd kernel
    (16 input channels or more)."""
    calls = []
    original = cpp_ops.edvr_conv_weight_winograd

    class Counting:
        def __getattr__(self, name):
            return getattr(cpp_ops, name)

        @staticmethod
        def edvr_conv_weight_winograd(*args):
            calls.append(args[2:4])
            return original(*args)
    monkeypatch.setattr(fused_conv, 'load_cpu_ops', Counting)
    rng = np.random.RandomState(1)
    t = {k: paddle.to_tensor((rng.randn(*s) * scale).astype('float32'), stop_gradient=False)
         for k, (s, scale) in dict(x=((2, c, 11, 14), 1.0), weight=((c_out, c, 3, 3), 0.3),
                                   bias=((c_out,), 0.1)).items()}
    probe = paddle.to_tensor(rng.randn(2, c_out, 11 + 2 * padding[0] - 2,
                                       14 + 2 * padding[1] - 2).astype('float32'))
    results = []
    def reference(x, weight, bias):
        y = F.conv2d(x, weight, bias, 1, padding)
        return y if slope is None else F.leaky_relu(y, slope) if slope else F.relu(y)
    for fn in (reference, lambda x, weight, bias: fused_conv.conv2d_fused(x, weight, bias,
                                                                          padding, slope)):
        (fn(**t) * probe).sum().backward()
        results.append({k: v.grad.numpy() for k, v in t.items()})
        for v in t.values():
            v.clear_gradient()
    ref, got = results
    for name in ref:
        assert np.abs(got[name] - ref[name]).max() <= 1e-4 * np.abs(ref[name]).max(), name
    assert calls == [padding]
    if slope is not None:
        assert (reference(**t).numpy() <= 0).mean() > 0.2   # the activation matters


@pytest.mark.parametrize('stride,padding,dilation,size', [(1, 1, 1, (13, 17)), (2, 1, 1, (9, 11)),
                                                          (1, 2, 2, (7, 9))])
@pytest.mark.parametrize('channels,groups,c_out', [(16, 2, 6), (32, 2, 40), (24, 3, 39)])
def test_dcn_backward_equals_paddle_dcn(cpp_ops, stride, padding, dilation, size, channels,
                                        groups, c_out, threads, monkeypatch):
    """The blocked backward (8 or 16 channels per group; output channels below and over
    one block; more output positions than one block of 96 or 48 in the first case):
    output and all five gradients within 1e-4 of Paddle's DCN, offsets reaching over the
    border, and the call taking the new kernel."""
    from paddle.vision.ops import deform_conv2d

    from edvr.ops import column_conv
    calls = []
    original = cpp_ops.edvr_dcn_backward

    class Counting:
        def __getattr__(self, name):
            return getattr(cpp_ops, name)

        @staticmethod
        def edvr_dcn_backward(*args):
            calls.append(args[-2])
            return original(*args)
    monkeypatch.setattr(column_conv, 'load_cpu_ops', Counting)
    rng, (h, w) = np.random.RandomState(4), size
    ho, wo = [(n + 2 * padding - 2 * dilation - 1) // stride + 1 for n in (h, w)]
    shapes = dict(x=((3, channels, h, w), 1.0), offset=((3, 2 * groups * 9, ho, wo), 2.5),
                  mask=((3, groups * 9, ho, wo), 1.0), weight=((c_out, channels, 3, 3), 0.1),
                  bias=((c_out,), 0.1))
    t = {k: paddle.to_tensor((rng.randn(*s) * scale).astype('float32'), stop_gradient=False)
         for k, (s, scale) in shapes.items()}
    probe = paddle.to_tensor(rng.randn(3, c_out, ho, wo).astype('float32'))
    results = []
    for fn in (lambda x, offset, mask, weight, bias: deform_conv2d(
                   x, offset, weight, bias, stride, padding, dilation,
                   deformable_groups=groups, mask=mask),
               lambda x, offset, mask, weight, bias: column_conv.deform_conv2d_columns(
                   x, offset, mask, weight, bias, stride, padding, dilation, groups)):
        out = fn(**t)
        (out * probe).sum().backward()
        results.append(dict({k: v.grad.numpy() for k, v in t.items()}, out=out.numpy()))
        for v in t.values():
            v.clear_gradient()
    ref, got = results
    for name in ref:
        assert np.abs(got[name] - ref[name]).max() <= 1e-4 * np.abs(ref[name]).max(), name
    assert np.abs(ref['offset']).max() > 1e-2
    assert calls == [groups]
