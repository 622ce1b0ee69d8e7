# SPDX-License-Identifier: Apache-2.0
"""Modulated deformable convolution (DCNv2): the layer and its interchangeable kernels.

Layouts shared by all kernels, for ``G`` deformable groups and a ``kh x kw``
kernel (``K = kh * kw`` taps, tap ``k = ky * kw + kx``):

* ``offset``: (b, 2 * G * K, ho, wo), channel ``(g * K + k) * 2`` holds the
  vertical shift ``dy`` and channel ``(g * K + k) * 2 + 1`` the horizontal ``dx``;
* ``mask``: (b, G * K, ho, wo), channel ``g * K + k``.

Kernels:

* ``'paddle'``: `paddle.vision.ops.deform_conv2d`.
* ``'sampling'``: plain Paddle ops. Every tap of every group is bilinearly
  sampled with one `grid_sample` call, scaled by the mask, and the
  (channels x taps) axis is contracted against the weight with one matmul.
  On CPU its forward plus backward is faster than ``'paddle'``.
* ``'cpp'``: C++ CPU kernels built on first use (`edvr.ops.column_conv`): the
  mask-weighted bilinear samples are written into a column buffer that one
  matmul contracts; the backward scatters the column gradient in C++. Fastest
  on CPU, forward and backward (float32, dygraph).

``'auto'`` (the default) picks ``'cpp'`` on CPU when it is built; if the build
failed, ``'sampling'`` when a backward pass will run through the layer and
``'paddle'`` otherwise (its forward alone is faster). GPUs, AMP and static
graphs (export) use ``'paddle'``; ``'cpp'`` where it cannot run acts as ``'auto'``.
Choose with `set_dcn_kernel`, the ``EDVR_DCN_KERNEL`` environment variable or
the generator's ``dcn_kernel`` config key.

Workaround: Paddle's CPU backward of ``deform_conv2d`` crashes when the mask takes no
gradient while another input does; such calls of ``'paddle'`` run on ``'sampling'``.

Paper: Deformable ConvNets v2: More Deformable, Better Results (Zhu et al., CVPR 2019).
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle.vision.ops import deform_conv2d

from edvr.errors import ConfigError
from edvr.ops.column_conv import columns_available, deform_conv2d_columns, pair, wants_grad
from edvr.ops.kernel_choice import KernelChoice

DCN_KERNELS = ('auto', 'paddle', 'sampling', 'cpp')
_dcn_choice = KernelChoice('DCN kernel', 'EDVR_DCN_KERNEL', DCN_KERNELS)
set_dcn_kernel = _dcn_choice.set   # the kernel of every DCN layer: one of DCN_KERNELS
get_dcn_kernel = _dcn_choice.get   # initially EDVR_DCN_KERNEL or 'auto'


@paddle.jit.not_to_static
def resolve_kernel(backward, kernel=None, tensors=()):
    """The concrete kernel ('paddle', 'sampling' or 'cpp') for one call.

    Args:
        backward: whether gradients will flow through this call.
        kernel: 'auto', 'paddle', 'sampling', 'cpp' or None for the global choice.
        tensors: the call's tensors, to check that 'cpp' can take them
            (float32 on the CPU, no AMP); empty: judge by the current device.
    """
    name = kernel or get_dcn_kernel()
    if not paddle.in_dynamic_mode():
        return 'paddle'  # static graphs (export) have unknown sizes the other kernels need
    on_gpu = 'gpu' in paddle.device.get_device()
    if name in ('auto', 'cpp'):   # 'cpp' where it cannot run: as 'auto' without it
        if not on_gpu and columns_available(*tensors):
            return 'cpp'
        return 'sampling' if backward and not on_gpu else 'paddle'
    return name


def deform_conv2d_sampling(x, offset, mask, weight, bias=None, stride=1, padding=0,
                           dilation=1, deformable_groups=1):
    """Modulated deformable convolution written with `grid_sample` and one matmul.

    Out-of-image samples read zero, as in `paddle.vision.ops.deform_conv2d`.

    Args:
        x: input (b, c, h, w).
        offset: (b, 2 * G * K, ho, wo), (dy, dx) pairs per group and tap.
        mask: (b, G * K, ho, wo) modulation per group and tap.
        weight: (c_out, c, kh, kw).
        bias: (c_out,) or None.
        stride, padding, dilation: int or (vertical, horizontal) pair.
        deformable_groups: G; ``c`` must be divisible by it.

    Returns:
        Tensor (b, c_out, ho, wo).
    """
    b, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    ho, wo = offset.shape[2], offset.shape[3]
    g, taps = deformable_groups, kh * kw
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    dh, dw = pair(dilation)

    # Sample positions in grid_sample's [-1, 1] coordinates of the input with a
    # one-pixel zero border added (which also keeps 1-pixel inputs finite).
    scale_y, scale_x = 2.0 / (h + 1), 2.0 / (w + 1)
    rows = (paddle.arange(ho, dtype=x.dtype) * sh - ph + 1).reshape([1, ho, 1])
    cols = (paddle.arange(wo, dtype=x.dtype) * sw - pw + 1).reshape([1, 1, wo])
    tap_y = (paddle.arange(kh, dtype=x.dtype) * dh).reshape([kh, 1]).expand([kh, kw])
    tap_x = (paddle.arange(kw, dtype=x.dtype) * dw).reshape([1, kw]).expand([kh, kw])
    base_y = (tap_y.reshape([taps, 1, 1]) + rows) * scale_y - 1.0    # (K, ho, 1)
    base_x = (tap_x.reshape([taps, 1, 1]) + cols) * scale_x - 1.0    # (K, 1, wo)

    # unbind and expand have much cheaper gradients than slicing and broadcasting.
    off_y, off_x = paddle.unbind(offset.reshape([b, g, taps, 2, ho, wo]), axis=3)
    grid = paddle.stack([off_x * scale_x + base_x, off_y * scale_y + base_y], axis=-1)
    grid = grid.reshape([b * g, taps * ho, wo, 2])

    x_pad = F.pad(x, [1, 1, 1, 1]).reshape([b * g, c // g, h + 2, w + 2])
    if x_pad.stop_gradient and not grid.stop_gradient:
        x_pad.stop_gradient = False  # Paddle's CPU grid_sample backward crashes otherwise
    samples = F.grid_sample(x_pad, grid, mode='bilinear', padding_mode='zeros',
                            align_corners=True)                        # (b*G, c/G, K*ho, wo)
    size = [b * g, c // g, taps * ho * wo]
    samples = samples.reshape(size) * mask.reshape([b * g, 1, taps * ho * wo]).expand(size)
    samples = samples.reshape([b, c * taps, ho * wo])                 # (c, K) order = weight's
    out = paddle.matmul(weight.reshape([c_out, c * taps]), samples)   # (b, c_out, ho*wo)
    if bias is not None:
        out = out + bias.reshape([1, c_out, 1])
    return out.reshape([b, c_out, ho, wo])


def modulated_deform_conv2d(x, offset, mask, weight, bias=None, stride=1, padding=0,
                            dilation=1, deformable_groups=1, kernel='paddle'):
    """Modulated deformable convolution with the named kernel.

    Args:
        x, offset, mask, weight, bias, stride, padding, dilation,
            deformable_groups: as in `deform_conv2d_sampling`.
        kernel: 'paddle', 'sampling' or 'cpp'.

    Returns:
        Tensor (b, c_out, ho, wo).
    """
    if kernel == 'cpp':
        return deform_conv2d_columns(x, offset, mask, weight, bias, stride, padding, dilation,
                                     deformable_groups)
    if kernel == 'paddle' and mask.stop_gradient and wants_grad(x, offset, weight, bias):
        # Paddle's CPU backward crashes for a constant mask; this kernel does not.
        kernel = 'sampling'
    if kernel == 'sampling':
        return deform_conv2d_sampling(x, offset, mask, weight, bias, stride, padding,
                                      dilation, deformable_groups)
    if kernel != 'paddle':
        raise ConfigError(f'DCN kernel {kernel!r}: expected paddle, sampling or cpp')
    return deform_conv2d(x, offset, weight, bias=bias, stride=stride, padding=padding,
                         dilation=dilation, deformable_groups=deformable_groups,
                         mask=mask)


class ModulatedDeformConv2D(nn.Layer):
    """The weight and bias of a DCNv2 layer, applied with the selected kernel.

    Parameter names and shapes equal `paddle.vision.ops.DeformConv2D`'s
    (``weight`` (c_out, c_in, k, k), ``bias`` (c_out,)). Initialised as in EDVR:
    weight uniform in +-1/sqrt(c_in * k * k), bias zero.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: int or pair.
        stride, padding, dilation: int or pair.
        deformable_groups: offset/mask groups over the input channels.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=1,
                 dilation=1, deformable_groups=1):
        super().__init__()
        kh, kw = pair(kernel_size)
        if in_channels % deformable_groups:
            raise ConfigError(f'DCN: in_channels {in_channels} is not divisible by '
                              f'deformable_groups {deformable_groups}')
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.deformable_groups = deformable_groups
        bound = 1.0 / math.sqrt(in_channels * kh * kw)
        self.weight = self.create_parameter(
            [out_channels, in_channels, kh, kw],
            default_initializer=nn.initializer.Uniform(-bound, bound))
        self.bias = self.create_parameter(
            [out_channels], is_bias=True, default_initializer=nn.initializer.Constant(0.0))
        self.kernel = None  # None: the global choice (`set_dcn_kernel`)

    def forward(self, x, offset, mask, kernel=None):
        """Apply DCNv2.

        Args:
            x: (b, c_in, h, w).
            offset: (b, 2 * G * K, ho, wo).
            mask: (b, G * K, ho, wo), usually in [0, 1].
            kernel: 'auto', 'paddle', 'sampling', 'cpp' or None for the layer's
                ``kernel`` attribute (None there: the global choice).

        Returns:
            Tensor (b, c_out, ho, wo).
        """
        backward = wants_grad(x, offset, mask, self.weight, self.bias)
        kernel = resolve_kernel(backward, kernel or self.kernel, (x, offset, mask, self.weight))
        return modulated_deform_conv2d(
            x, offset, mask, self.weight, self.bias, self.stride, self.padding,
            self.dilation, self.deformable_groups, kernel)
