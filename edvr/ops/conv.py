# SPDX-License-Identifier: Apache-2.0
"""`Conv2D`: Paddle's convolution layer with its activation declared when it is built,
run on the C++ CPU kernels where they apply and on Paddle's conv everywhere else.

Kernels (``conv_kernel`` config key, `set_conv_kernel`, ``EDVR_CONV_KERNEL``), for
float32 dygraph calls on the CPU when the C++ kernels are built:

* ``'auto'``, ``'cpp'``: stride-1 convs on the fused kernels (`edvr.ops.fused_conv`;
  Winograd for 3x3, direct otherwise), strided ones on the column kernels
  (`edvr.ops.column_conv`);
* ``'direct'``: the same without Winograd; ``'columns'``: the column kernels for all;
* ``'paddle'``: Paddle's conv.

Static graphs, GPUs, AMP and anything the C++ kernels do not cover use Paddle's conv.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from edvr.ops.column_conv import columns_available, conv2d_columns, wants_grad
from edvr.ops.fused_conv import (conv2d_fused, conv2d_fused_pair, conv2d_split_sigmoid,
                                 fused_fits)
from edvr.ops.kernel_choice import KernelChoice

CONV_KERNELS = ('auto', 'paddle', 'cpp', 'direct', 'columns')
_conv_choice = KernelChoice('conv kernel', 'EDVR_CONV_KERNEL', CONV_KERNELS)
set_conv_kernel = _conv_choice.set   # the kernel of every Conv2D layer: one of CONV_KERNELS
get_conv_kernel = _conv_choice.get   # initially EDVR_CONV_KERNEL or 'auto'


def _negative_slope(act):
    """None (no activation), 'relu' or a leaky-ReLU slope -> None or the slope."""
    if act is None or act == 'relu':
        return None if act is None else 0.0
    if isinstance(act, (int, float)) and not isinstance(act, bool) and act >= 0:
        return float(act)
    raise ValueError(f"Conv2D act={act!r}: expected None, 'relu' or a leaky-ReLU slope >= 0")


def repeat_frames(x, t):
    """(b, c, h, w) -> (b*t, c, h, w), each sample repeated t times in a row."""
    if t == 1:
        return x
    return x.unsqueeze(1).expand([-1, t, -1, -1, -1]).flatten(0, 1)


class Conv2D(nn.Conv2D):
    """`paddle.nn.Conv2D` (same arguments, parameters and names) followed by ``act``.

    Args:
        *args, **kwargs: as `paddle.nn.Conv2D`.
        act: None, 'relu', or the negative slope of a leaky ReLU applied to the output.

    ``kernel`` (None, the default, follows `set_conv_kernel`) pins this layer's kernel.
    """
    kernel = None

    def __init__(self, *args, act=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.negative_slope = _negative_slope(act)

    def forward(self, x):
        """(n, c_in, h, w) -> (n, c_out, ho, wo)."""
        route, padding = self._route(x)
        if route == 'fused':
            return conv2d_fused(x, self.weight, self.bias, padding, self.negative_slope,
                                winograd=self._kernel_name() != 'direct')
        if route == 'columns':
            y = conv2d_columns(x, self.weight, self.bias, self._stride, padding,
                               self._dilation)
        else:
            y = nn.Conv2D.forward(self, x)  # no zero-argument super(): Paddle 2.6's to_static
        if self.negative_slope is None:
            return y
        return F.leaky_relu(y, self.negative_slope) if self.negative_slope else F.relu(y)

    def forward_concat(self, x, shared, repeats):
        """``self(concat([x, repeat_frames(shared, repeats)], 1))``.

        Without gradients on the fused kernels, the part of the sum over ``shared``'s
        channels is computed once per sample of ``shared`` (the same sum, split in two).

        Args:
            x: (b*repeats, c1, h, w).
            shared: (b, c_in - c1, h, w), the same for ``repeats`` consecutive samples of x.
        """
        route, padding = self._route(x, shared)
        if repeats == 1 or route != 'fused' or wants_grad(x, shared, self.weight):
            return self(paddle.concat([x, repeat_frames(shared, repeats)], 1))
        c1, winograd = x.shape[1], self._kernel_name() != 'direct'
        weight_x, weight_shared = (self.weight[:, :c1].contiguous(),
                                   self.weight[:, c1:].contiguous())
        once = conv2d_fused(shared, weight_shared, self.bias, padding, winograd=winograd)
        return conv2d_fused(x, weight_x, None, padding, self.negative_slope,
                            repeat_frames(once, repeats), winograd, residual_first=True)

    def forward_pair(self, x, x2):
        """``self(concat([x, x2], 1))``; without gradients on the fused kernels the two
        inputs are read in place (no concatenated copy; the same sums).

        Args:
            x: (n, c1, h, w); x2: (n, c_in - c1, h, w).
        """
        route, padding = self._route(x, x2)
        if route != 'fused' or wants_grad(x, x2, self.weight, self.bias):
            return self(paddle.concat([x, x2], 1))
        return conv2d_fused_pair(x, x2, self.weight, self.bias, padding, self.negative_slope,
                                 self._kernel_name() != 'direct')

    def forward_residual(self, x, residual):
        """``self(x) + residual``; without gradients on the fused kernels the residual is
        added as the output is stored (the same sums).

        Args:
            x: (n, c_in, h, w); residual: the output's shape.
        """
        route, padding = self._route(x, residual)
        if route != 'fused' or wants_grad(x, residual, self.weight, self.bias):
            return self(x) + residual
        return conv2d_fused(x, self.weight, self.bias, padding, self.negative_slope, residual,
                            self._kernel_name() != 'direct')

    def forward_shuffled(self, x):
        """``F.pixel_shuffle(self(x), 2)``; without gradients on the fused kernels the
        output is stored shuffled (no second pass).

        Args:
            x: (n, c_in, h, w); c_out divisible by 4.

        Returns:
            Tensor (n, c_out / 4, 2 ho, 2 wo).
        """
        route, padding = self._route(x)
        if route != 'fused' or self._out_channels % 4 or wants_grad(x, self.weight, self.bias):
            return F.pixel_shuffle(self(x), 2)
        return conv2d_fused_pair(x, None, self.weight, self.bias, padding, self.negative_slope,
                                 self._kernel_name() != 'direct', shuffle=True)

    def forward_split_sigmoid(self, x, split):
        """``(y[:, :split], sigmoid(y[:, split:]))`` of ``y = self(x)`` (a DCN's offsets
        and mask); without gradients, on Winograd and without an activation, the two parts
        are stored apart as they are computed (the sigmoid to float rounding of Paddle's).

        Args:
            x: (n, c_in, h, w).
            split: channels of the first part.
        """
        route, padding = self._route(x)
        if route != 'fused' or self._kernel_name() == 'direct' or split % 16 \
                or not 0 < split < self._out_channels or tuple(self.weight.shape[2:]) != (3, 3) \
                or self.negative_slope is not None or wants_grad(x, self.weight, self.bias):
            first, second = paddle.split(self(x), [split, self._out_channels - split], axis=1)
            return first, F.sigmoid(second)
        return conv2d_split_sigmoid(x, self.weight, self.bias, padding, split)

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
