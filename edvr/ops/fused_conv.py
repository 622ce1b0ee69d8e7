# SPDX-License-Identifier: Apache-2.0
"""Stride-1 convolution on the C++ fused kernels (CPU): direct or Winograd, with the
bias, a leaky ReLU and a residual applied as the output is stored.

``y = act(conv(x, weight) + bias) + residual`` (or ``act(conv + bias + residual)``) in one
pass, without a column buffer
(``csrc/cpu_direct_conv.cc``, ``csrc/cpu_winograd_conv.cc``). Winograd F(4x4, 3x3)
serves 3x3 kernels with 4x fewer multiplications; its float32 rounding differs from
the direct sum by ~1e-6 of the output's scale per layer (tested within 1e-4 over the
network). Backward (training): the gradient through the activation comes from the
saved output (``csrc/cpu_activation_backward.cc``); the input gradient is the same kernel
applied to the output gradient with the weight transposed and flipped (padding
``k - 1 - p``); the weight and bias gradients of 3x3 Winograd convs with 16 input
channels or more come from Winograd as well (``edvr_conv_weight_winograd``), the others
from the column kernels (`edvr.ops.column_conv`). When gradients are needed, a residual
runs as a Paddle op after the conv (and with ``residual_first``, the activation too).
"""
import paddle.nn.functional as F
from paddle.autograd import PyLayer

from edvr.ops.column_conv import Columns, contiguous, needs_grad, wants_grad
from edvr.ops.cpu_ops import load_cpu_ops
from edvr.utils.device import cpu_threads


def fused_fits(weight, stride, padding, dilation):
    """Whether the fused kernels cover this convolution: stride 1, dilation 1 and a
    padding below the kernel size on each side (one group is the caller's check).

    Args:
        weight: (c_out, c, kh, kw); stride, padding, dilation: (vertical, horizontal).
    """
    kh, kw = int(weight.shape[2]), int(weight.shape[3])
    return tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) \
        and 0 <= padding[0] < kh and 0 <= padding[1] < kw


def _fused(x, weight, bias, residual, padding, negative_slope, winograd, residual_first=False,
           x2=None, shuffle=False):
    winograd = int(bool(winograd) and tuple(weight.shape[2:]) == (3, 3))
    return load_cpu_ops().edvr_conv_fused(
        x, weight, bias, residual, x2, int(padding[0]), int(padding[1]),
        int(negative_slope is not None), float(negative_slope or 0.0), int(residual_first),
        winograd, cpu_threads(), int(shuffle))


class _FusedConvFunction(PyLayer):
    """Autograd of the fused convolution with its activation (no residual)."""

    @staticmethod
    def forward(ctx, x, weight, bias, padding, negative_slope, winograd):
        ctx.padding, ctx.winograd, ctx.slope = padding, winograd, negative_slope
        ctx.needs = needs_grad(x, weight, bias)
        y = _fused(x, weight, bias, None, padding, negative_slope, winograd)
        ctx.save_for_backward(x, weight, y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, y = ctx.saved_tensor()
        grad_out = contiguous(grad_out)
        if ctx.slope is not None:      # through the activation, from its output
            grad_out = load_cpu_ops().edvr_activation_backward(y, grad_out, ctx.slope,
                                                               cpu_threads())
        kh, kw = int(weight.shape[2]), int(weight.shape[3])
        grads = [None] * len(ctx.needs)
        if ctx.winograd and (kh, kw) == (3, 3) and x.shape[1] >= 16 and ctx.needs[1]:
            grads[1], grad_bias = load_cpu_ops().edvr_conv_weight_winograd(
                x, grad_out, int(ctx.padding[0]), int(ctx.padding[1]), cpu_threads())
            if len(ctx.needs) > 2 and ctx.needs[2]:
                grads[2] = grad_bias
        elif any(ctx.needs[1:]):       # weight (and bias): from the input's columns
            geom = (kh, kw, 1, 1, ctx.padding[0], ctx.padding[1], 1, 1)
            grads = list(Columns(x, None, None, weight, geom, 1).backward(
                weight, grad_out, (False,) + ctx.needs[1:]))
        if ctx.needs[0]:
            flipped = contiguous(weight.transpose([1, 0, 2, 3]).flip([2, 3]))
            grads[0] = _fused(grad_out, flipped, None, None,
                              (kh - 1 - ctx.padding[0], kw - 1 - ctx.padding[1]), None,
                              ctx.winograd)
        return tuple(grads)


def conv2d_fused(x, weight, bias=None, padding=(1, 1), negative_slope=None, residual=None,
                 winograd=True, residual_first=False):
    """``act(conv2d(x, weight, bias, padding)) + residual`` on the fused C++ kernels.

    Args:
        x: (b, c, h, w) float32 on the CPU.
        weight: (c_out, c, kh, kw), stride 1, dilation 1, one group.
        bias: (c_out,) or None.
        padding: (vertical, horizontal), each below the kernel size.
        negative_slope: leaky-ReLU slope (0.0: ReLU), or None for no activation.
        residual: (b, c_out, ho, wo) added last, or None.
        winograd: use Winograd for 3x3 kernels (else the direct kernel).
        residual_first: add the residual before the activation instead.

    Returns:
        Tensor (b, c_out, ho, wo).
    """
    x = contiguous(x)
    if not wants_grad(x, weight, bias, residual):
        return _fused(x, weight, bias, None if residual is None else contiguous(residual),
                      padding, negative_slope, winograd, residual_first)
    if residual is not None and residual_first:   # the activation comes after the residual
        y = _FusedConvFunction.apply(x, weight, bias, tuple(padding), None, bool(winograd))
        y = y + residual
        if negative_slope is not None:
            y = F.leaky_relu(y, negative_slope) if negative_slope else F.relu(y)
        return y
    y = _FusedConvFunction.apply(x, weight, bias, tuple(padding), negative_slope,
                                 bool(winograd))
    return y if residual is None else y + residual


def conv2d_fused_pair(x, x2, weight, bias=None, padding=(1, 1), negative_slope=None,
                      winograd=True, shuffle=False):
    """``act(conv2d(concat([x, x2], 1), weight, bias))``, optionally pixel-shuffled by 2,
    without gradients: the concatenation is read in place and the shuffle done as the
    output is stored (`conv2d_fused` for the rest of the arguments).

    Args:
        x: (b, c1, h, w) float32 on the CPU.
        x2: (b, c - c1, h, w) or None.
        shuffle: return ``pixel_shuffle(out, 2)``, (b, c_out / 4, 2 ho, 2 wo).

    Returns:
        Tensor (b, c_out, ho, wo), or (b, c_out / 4, 2 ho, 2 wo) with ``shuffle``.
    """
    return _fused(contiguous(x), weight, bias, None, padding, negative_slope, winograd,
                  x2=None if x2 is None else contiguous(x2), shuffle=shuffle)


def conv2d_split_sigmoid(x, weight, bias, padding, split):
    """``(y[:, :split], sigmoid(y[:, split:]))`` of ``y = conv2d(x, weight, bias)`` on
    Winograd without gradients, the two parts stored apart (a DCN's offsets and mask;
    the sigmoid to float rounding of Paddle's).

    Args:
        x: (b, c, h, w) float32 on the CPU; weight: (c_out, c, 3, 3); bias: (c_out,) or None.
        split: channels of the first part, a multiple of 16, below c_out.

    Returns:
        (Tensor (b, split, ho, wo), Tensor (b, c_out - split, ho, wo)).
    """
    return tuple(load_cpu_ops().edvr_conv_split_sigmoid(
        contiguous(x), weight, bias, int(padding[0]), int(padding[1]), int(split),
        cpu_threads()))
