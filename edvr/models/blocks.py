# SPDX-License-Identifier: Apache-2.0
"""Small building blocks shared by the EDVR parts, and their initialisation.

Initialisation follows the EDVR recipe: plain convolutions start as PyTorch's
default (weight and bias uniform in +-1/sqrt(fan_in)), residual-block
convolutions as Kaiming-normal scaled by 0.1 with zero bias, so that a fresh
network is close to identity per block.
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from edvr.ops import Conv2D, ModulatedDeformConv2D, upsample2x  # noqa: F401  (re-exported)

LRELU_SLOPE = 0.1


def conv2d(in_nf, out_nf, kernel_size=3, stride=1, act=None):
    """A ``kernel_size`` conv with 'same' padding and the default EDVR initialisation.

    Args:
        in_nf: input channels.
        out_nf: output channels.
        kernel_size: odd int.
        stride: int.
        act: activation after the conv: None, 'relu' or a leaky-ReLU slope.
    """
    bound = 1.0 / math.sqrt(in_nf * kernel_size * kernel_size)
    init = nn.initializer.Uniform(-bound, bound)
    return Conv2D(in_nf, out_nf, kernel_size, stride=stride, padding=kernel_size // 2,
                  weight_attr=paddle.ParamAttr(initializer=init),
                  bias_attr=paddle.ParamAttr(initializer=init), act=act)


def scaled_kaiming_conv2d(in_nf, out_nf, kernel_size=3, scale=0.1, act=None):
    """A 'same' conv with Kaiming-normal weight times ``scale`` and zero bias."""
    std = scale * math.sqrt(2.0 / (in_nf * kernel_size * kernel_size))
    return Conv2D(in_nf, out_nf, kernel_size, padding=kernel_size // 2,
                  weight_attr=paddle.ParamAttr(initializer=nn.initializer.Normal(0.0, std)),
                  bias_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(0.0)),
                  act=act)


def lrelu(x):
    """LeakyReLU with slope 0.1, the activation used throughout EDVR."""
    return F.leaky_relu(x, negative_slope=LRELU_SLOPE)


class ResidualBlockNoBN(nn.Layer):
    """``x + conv2(relu(conv1(x)))`` without normalisation.

    Paper: Enhanced Deep Residual Networks for Single Image Super-Resolution
    (Lim et al., CVPRW 2017).

    Args:
        nf: channels.
    """

    def __init__(self, nf=64):
        super().__init__()
        self.conv1 = scaled_kaiming_conv2d(nf, nf, act='relu')
        self.conv2 = scaled_kaiming_conv2d(nf, nf)

    def forward(self, x):
        """(n, nf, h, w) -> (n, nf, h, w)."""
        return self.conv2.forward_residual(self.conv1(x), x)   # x + conv2(conv1(x))


def make_residual_blocks(num_blocks, nf):
    """``num_blocks`` `ResidualBlockNoBN` in sequence, named ``block0``, ``block1``, ..."""
    blocks = nn.Sequential()
    for i in range(num_blocks):
        blocks.add_sublayer(f'block{i}', ResidualBlockNoBN(nf))
    return blocks


class DCNPack(nn.Layer):
    """DCNv2 whose offsets and mask are predicted from a separate feature.

    A 3x3 conv ``conv_offset_mask`` maps the feature to ``3 * G * K`` channels
    (``K = kernel_size ** 2`` taps): the first ``2 * G * K`` are the offsets, the
    last ``G * K`` pass through a sigmoid to give the mask. That conv starts at zero
    (zero offsets, mask 0.5). In training mode the layer keeps ``last_offset_abs_mean``,
    the detached mean absolute offset of its latest call, for logging.

    Paper: EDVR: Video Restoration with Enhanced Deformable Convolutional Networks
    (Wang et al., CVPRW 2019).

    Args:
        num_filters: input and output channels.
        kernel_size: int.
        stride, padding, dilation: int.
        deformable_groups: G.
    """

    def __init__(self, num_filters=64, kernel_size=3, stride=1, padding=1, dilation=1,
                 deformable_groups=8):
        super().__init__()
        taps = kernel_size * kernel_size
        self.num_offsets = 2 * deformable_groups * taps
        zero = nn.initializer.Constant(0.0)
        self.conv_offset_mask = Conv2D(
            num_filters, 3 * deformable_groups * taps, kernel_size, stride=stride,
            padding=padding, weight_attr=paddle.ParamAttr(initializer=zero),
            bias_attr=paddle.ParamAttr(initializer=zero))
        self.dcn = ModulatedDeformConv2D(num_filters, num_filters, kernel_size, stride=stride,
                                         padding=padding, dilation=dilation,
                                         deformable_groups=deformable_groups)
        self.last_offset_abs_mean = None

    def forward(self, x, feat):
        """Deform-convolve ``x`` with offsets and mask predicted from ``feat``.

        Args:
            x: features to sample (b, c, h, w).
            feat: features the offsets are predicted from (b, c, h, w).

        Returns:
            Tensor (b, c, h, w).
        """
        offset, mask = self.conv_offset_mask.forward_split_sigmoid(feat, self.num_offsets)
        if self.training:
            self.last_offset_abs_mean = offset.detach().abs().mean()
        return self.dcn(x, offset, mask)


def unflatten_frames(x, t):
    """(b*t, c, h, w) -> (b, t, c, h, w); also in static graphs with unknown b, h, w."""
    if paddle.in_dynamic_mode():
        return x.reshape([-1, t] + list(x.shape[1:]))
    size = paddle.shape(x)
    return x.reshape([-1, t, x.shape[1], size[2], size[3]])
