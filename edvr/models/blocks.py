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

from edvr.models.kernel_choice import KernelChoice
from edvr.ops.column_conv import columns_available, conv2d_columns, wants_grad
from edvr.ops.fused_conv import conv2d_fused, fused_fits

CONV_KERNELS = ('auto', 'paddle', 'cpp', 'direct', 'columns')
_conv_choice = KernelChoice('conv kernel', 'EDVR_CONV_KERNEL', CONV_KERNELS)
LRELU_SLOPE = 0.1


def set_conv_kernel(name):
    """Choose the kernel of all `Conv2D` layers: one of `CONV_KERNELS`."""
    _conv_choice.set(name)


@paddle.jit.not_to_static
def get_conv_kernel():
    """The selected conv kernel; initially ``EDVR_CONV_KERNEL`` or 'auto'."""
    return _conv_choice.get()


class Conv2D(nn.Conv2D):
    """`paddle.nn.Conv2D` (same parameters and names) that can run on the C++ kernels
    of `edvr.ops` on CPU, and can apply an activation and a residual.

    ``kernel`` (None, the default, follows `set_conv_kernel`), for float32 dygraph calls
    on the CPU when the C++ kernels are built:
      'auto', 'cpp': stride-1 convs on the fused kernels (`edvr.ops.fused_conv`;
          Winograd for 3x3, direct otherwise), strided ones on the column kernels
          (`edvr.ops.column_conv`);
      'direct': the same without Winograd; 'columns': the column kernels for all;
      'paddle': Paddle's conv.
    Static graphs, GPUs, AMP and anything the C++ kernels do not cover use Paddle's conv.
    """
    kernel = None

    def forward(self, x, negative_slope=None, residual=None):
        """(n, c_in, h, w) -> (n, c_out, ho, wo).

        Args:
            negative_slope: if given, a leaky ReLU with this slope (0.0: ReLU) follows.
            residual: if given, (n, c_out, ho, wo) added after the activation.
        """
        route, padding = self._route(x, residual)
        if route == 'fused':
            return conv2d_fused(x, self.weight, self.bias, padding, negative_slope, residual,
                                winograd=self._kernel_name() != 'direct')
        if route == 'columns':
            y = conv2d_columns(x, self.weight, self.bias, self._stride, padding,
                               self._dilation)
        else:
            y = super().forward(x)
        if negative_slope is not None:
            y = F.leaky_relu(y, negative_slope) if negative_slope else F.relu(y)
        return y if residual is None else y + residual

    def forward_shared(self, x, shared, repeats, negative_slope=None):
        """``self(concat([x, repeat_frames(shared, repeats)], 1), negative_slope)``, with the
        part of the sum over ``shared``'s channels computed once per sample of ``shared``
        when the fused kernels run without gradients (the same sum, split in two).

        Args:
            x: (b*repeats, c1, h, w).
            shared: (b, c_in - c1, h, w), the same for ``repeats`` consecutive samples of x.
        """
        route, padding = self._route(x, shared)
        if repeats == 1 or route != 'fused' or wants_grad(x, shared, self.weight):
            return self(paddle.concat([x, repeat_frames(shared, repeats)], 1), negative_slope)
        c1, winograd = x.shape[1], self._kernel_name() != 'direct'
        weight_x, weight_shared = (self.weight[:, :c1].contiguous(),
                                   self.weight[:, c1:].contiguous())
        once = conv2d_fused(shared, weight_shared, self.bias, padding, winograd=winograd)
        return conv2d_fused(x, weight_x, None, padding, negative_slope,
                            repeat_frames(once, repeats), winograd, residual_first=True)

    @paddle.jit.not_to_static
    def _kernel_name(self):
        return self.kernel or get_conv_kernel()

    @paddle.jit.not_to_static
    def _route(self, *tensors):
        """('fused' | 'columns' | None, padding): which C++ kernels take this call, if any."""
        name = self._kernel_name()
        padding = getattr(self, '_updated_padding', None)
        if name == 'paddle' or self._groups != 1 or self._padding_mode != 'zeros' \
                or self._data_format != 'NCHW' or not isinstance(padding, (list, tuple)) \
                or len(padding) != 2 or not columns_available(*tensors, self.weight):
            return None, None
        if name != 'columns' and fused_fits(self.weight, self._stride, padding,
                                            self._dilation):
            return 'fused', padding
        return 'columns', padding


def conv2d(in_nf, out_nf, kernel_size=3, stride=1):
    """A ``kernel_size`` conv with 'same' padding and the default EDVR initialisation.

    Args:
        in_nf: input channels.
        out_nf: output channels.
        kernel_size: odd int.
        stride: int.
    """
    bound = 1.0 / math.sqrt(in_nf * kernel_size * kernel_size)
    init = nn.initializer.Uniform(-bound, bound)
    return Conv2D(in_nf, out_nf, kernel_size, stride=stride, padding=kernel_size // 2,
                  weight_attr=paddle.ParamAttr(initializer=init),
                  bias_attr=paddle.ParamAttr(initializer=init))


def scaled_kaiming_conv2d(in_nf, out_nf, kernel_size=3, scale=0.1):
    """A 'same' conv with Kaiming-normal weight times ``scale`` and zero bias."""
    std = scale * math.sqrt(2.0 / (in_nf * kernel_size * kernel_size))
    return Conv2D(in_nf, out_nf, kernel_size, padding=kernel_size // 2,
                  weight_attr=paddle.ParamAttr(initializer=nn.initializer.Normal(0.0, std)),
                  bias_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(0.0)))


def lrelu(x):
    """LeakyReLU with slope 0.1, the activation used throughout EDVR."""
    return F.leaky_relu(x, negative_slope=LRELU_SLOPE)


def upsample2x(x):
    """Bilinear 2x upsampling (half-pixel centres) of (n, c, h, w)."""
    return F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False, align_mode=0)


class ResidualBlockNoBN(nn.Layer):
    """``x + conv2(relu(conv1(x)))`` without normalisation.

    Paper: Enhanced Deep Residual Networks for Single Image Super-Resolution
    (Lim et al., CVPRW 2017).

    Args:
        nf: channels.
    """

    def __init__(self, nf=64):
        super().__init__()
        self.conv1 = scaled_kaiming_conv2d(nf, nf)
        self.conv2 = scaled_kaiming_conv2d(nf, nf)

    def forward(self, x):
        """(n, nf, h, w) -> (n, nf, h, w)."""
        return self.conv2(self.conv1(x, negative_slope=0.0), residual=x)


def make_residual_blocks(num_blocks, nf):
    """``num_blocks`` `ResidualBlockNoBN` in sequence, named ``block0``, ``block1``, ..."""
    blocks = nn.Sequential()
    for i in range(num_blocks):
        blocks.add_sublayer(f'block{i}', ResidualBlockNoBN(nf))
    return blocks


def repeat_frames(x, t):
    """(b, c, h, w) -> (b*t, c, h, w), each sample repeated t times in a row."""
    if t == 1:
        return x
    return x.unsqueeze(1).expand([-1, t, -1, -1, -1]).flatten(0, 1)


def unflatten_frames(x, t):
    """(b*t, c, h, w) -> (b, t, c, h, w); also in static graphs with unknown b, h, w."""
    if paddle.in_dynamic_mode():
        return x.reshape([-1, t] + list(x.shape[1:]))
    size = paddle.shape(x)
    return x.reshape([-1, t, x.shape[1], size[2], size[3]])
