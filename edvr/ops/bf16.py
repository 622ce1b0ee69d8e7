# SPDX-License-Identifier: Apache-2.0
"""The bfloat16 inference mode: convolutions whose products take bfloat16 inputs and weights,
summed in float32 (AVX-512 BF16 ``vdpbf16ps``), on CPUs that have it.

`set_precision(net, 'bf16')` turns a network's `Conv2D` and `ModulatedDeformConv2D` layers
into `Bf16Conv2D` and `Bf16ModulatedDeformConv2D` (same parameters, same state dict). Without
gradients on the C++ kernels, a 3x3 convolution then runs Winograd F(4x4, 3x3) with its
transformed input and weights rounded to bfloat16 (``csrc/cpu_bf16_winograd.cc``), another
kernel size the direct sum on bfloat16 inputs and weights (``csrc/cpu_bf16_conv.cc``), and a
deformable convolution its float32 bilinear samples and weights rounded to bfloat16 for the
products (``csrc/cpu_bf16_dcn.cc``); a stride-2 convolution runs the direct sum as well.
On Winograd the data movement around a convolution is done by its store, as on the float32
kernels (``csrc/winograd_store.h``, the same code): the conv of two concatenated inputs reads
both in place (`forward_pair`), the pixel shuffle (`forward_shuffled`), the DCN offsets /
sigmoid mask split (`forward_split_sigmoid`) and the residual add happen as the output is
stored. A convolution with at most 4 outputs (EDVR's last, 64 -> 3) keeps the float32
narrow kernel's layout with bfloat16 products. Everything else keeps its float32 path: other
strides and dilations, anything that needs gradients (training stays float32), and every
call on a GPU or under Paddle's kernels. `set_precision(net, 'fp32')` turns them back;
float32 is the default and its numbers never change.

`resolve_precision` decides what runs: 'bf16' where this CPU and this build have AVX-512 BF16,
else 'fp32' with one warning line saying why. ``EDVR_BF16=0`` makes it answer as on a CPU
without BF16 (to try the fallback).
"""
import logging
import os

import paddle
import paddle.nn.functional as F

from edvr.errors import ConfigError
from edvr.ops.column_conv import contiguous, pair, wants_grad
from edvr.ops.conv import Conv2D, repeat_frames
from edvr.ops.cpu_ops import cpu_ops_status, load_cpu_ops
from edvr.ops.dcn import ModulatedDeformConv2D, resolve_kernel
from edvr.utils.device import cpu_threads

logger = logging.getLogger(__name__)

PRECISIONS = ('fp32', 'bf16')
CPU_FLAG = 'avx512_bf16'      # the /proc/cpuinfo flag of the AVX-512 BF16 dot products
_warned = set()


def cpu_has_bf16(cpuinfo='/proc/cpuinfo'):
    """Whether this CPU reports AVX-512 BF16 (its ``flags`` line in ``cpuinfo``)."""
    try:
        with open(cpuinfo, encoding='utf-8', errors='replace') as f:
            for line in f:
                if line.startswith('flags'):
                    return CPU_FLAG in line.split(':', 1)[-1].split()
    except OSError:
        return False
    return False


def bf16_unavailable_reason():
    """None when the bfloat16 kernels can run here, else why not (a short phrase)."""
    if os.environ.get('EDVR_BF16', '1').strip().lower() in ('0', 'false', 'no', 'off'):
        return 'turned off by EDVR_BF16=0'
    if not cpu_has_bf16():
        return f'this CPU has no AVX-512 BF16 ({CPU_FLAG})'
    ops = load_cpu_ops()
    if ops is None:
        return f'the C++ CPU kernels are not available ({cpu_ops_status()["error"]})'
    if int(ops.edvr_bf16_probe(paddle.zeros([1]))[0]) != 1:
        return 'the C++ CPU kernels were built without AVX-512 BF16'
    return None


def check_precision(precision, where='precision'):
    """Raise ConfigError unless ``precision`` is one of `PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ConfigError(f'{where}={precision!r}: expected one of {", ".join(PRECISIONS)}')


def resolve_precision(precision):
    """The precision that will run for the asked one: 'bf16' only where it can; otherwise
    'fp32', after one warning line (once per reason and process) saying why."""
    check_precision(precision)
    if precision == 'fp32':
        return 'fp32'
    reason = bf16_unavailable_reason()
    if reason is None:
        return 'bf16'
    if reason not in _warned:
        _warned.add(reason)
        logger.warning('precision bf16: %s; running float32', reason)
    return 'fp32'


def set_precision(net, precision):
    """Run ``net``'s `Conv2D` layers in ``precision`` ('fp32' or 'bf16'; see the module).

    Call `resolve_precision` first: this does not check the CPU. Returns ``net``.
    """
    check_precision(precision)
    for layer in net.sublayers(include_self=True):
        if isinstance(layer, Conv2D):
            layer.__class__ = Bf16Conv2D if precision == 'bf16' else Conv2D
        elif isinstance(layer, ModulatedDeformConv2D):
            layer.__class__ = (Bf16ModulatedDeformConv2D if precision == 'bf16'
                               else ModulatedDeformConv2D)
    return net


def network_precision(net):
    """'bf16' if any of ``net``'s layers runs in bfloat16, else 'fp32'."""
    return 'bf16' if any(isinstance(layer, (Bf16Conv2D, Bf16ModulatedDeformConv2D))
                         for layer in net.sublayers(include_self=True)) else 'fp32'


def conv2d_bf16(x, weight, bias=None, padding=(1, 1), negative_slope=None, residual=None,
                winograd=True, residual_first=False, x2=None, shuffle=False, split=0, stride=1):
    """`edvr.ops.fused_conv.conv2d_fused` (same arguments and result, no gradients) with
    bfloat16 products and float32 sums; needs AVX-512 BF16 (`bf16_unavailable_reason`).

    On Winograd (3x3, more than 4 outputs; `stores_fit`) the output can also be stored as the
    float32 fused kernels store it, in the same pass:

    Args:
        x2: (b, c - c1, h, w) or None: the conv of ``concat([x, x2], 1)``, read in place.
        shuffle: return ``pixel_shuffle(out, 2)``, (b, c_out / 4, 2 ho, 2 wo) (no residual).
        split: > 0 (a multiple of 16, below c_out; no residual): return
            ``(out[:, :split], sigmoid(out[:, split:]))`` (a DCN's offsets and mask).
        stride: 1, or 2 (both directions) on the direct kernel (``winograd`` False) with more
            than 4 output channels.

    Returns:
        Tensor (b, c_out, ho, wo) (see ``shuffle``), or two with ``split``.
    """
    winograd = int(bool(winograd) and tuple(weight.shape[2:]) == (3, 3))
    out, out2 = load_cpu_ops().edvr_conv_bf16(
        contiguous(x), weight, bias, None if residual is None else contiguous(residual),
        None if x2 is None else contiguous(x2), int(padding[0]), int(padding[1]),
        int(negative_slope is not None), float(negative_slope or 0.0), int(residual_first),
        winograd, cpu_threads(), int(shuffle), int(split), int(stride))
    return (out, out2) if split else out


def stores_fit(weight, winograd=True):
    """Whether `conv2d_bf16` takes ``x2``, ``shuffle`` and ``split`` for ``weight``
    (c_out, c, kh, kw): on Winograd, 3x3 with more than 4 output channels."""
    return bool(winograd) and tuple(weight.shape[2:]) == (3, 3) and int(weight.shape[0]) > 4


class Bf16Conv2D(Conv2D):
    """`Conv2D` whose no-gradient calls on the fused kernels run in bfloat16 (see the module);
    made by `set_precision`, never built directly."""

    def _bf16_route(self, *tensors):
        """The padding when this call runs in bfloat16, else None."""
        route, padding = self._route(*tensors)
        if route != 'fused' or wants_grad(*tensors, self.weight, self.bias):
            return None
        return padding

    def _strided_route(self, x):
        """The padding when this call is a stride-2 conv that runs on the bfloat16 direct
        kernel (the column kernels' calls in float32, more than 4 outputs), else None."""
        route, padding = self._route(x)
        if route != 'columns' or self._kernel_name() == 'columns' \
                or tuple(self._stride) != (2, 2) or tuple(self._dilation) != (1, 1) \
                or self._out_channels <= 4 or wants_grad(x, self.weight, self.bias) \
                or not all(0 <= p < k for p, k in zip(padding, self.weight.shape[2:])):
            return None
        return padding

    def forward(self, x):
        """(n, c_in, h, w) -> (n, c_out, ho, wo)."""
        padding = self._bf16_route(x)
        if padding is None:
            padding = self._strided_route(x)
            if padding is not None:
                return conv2d_bf16(x, self.weight, self.bias, padding, self.negative_slope,
                                   winograd=False, stride=2)
            return Conv2D.forward(self, x)
        return conv2d_bf16(x, self.weight, self.bias, padding, self.negative_slope,
                           winograd=self._kernel_name() != 'direct')

    def forward_concat(self, x, shared, repeats):
        """`Conv2D.forward_concat`, the shared half once per sample, both halves in bfloat16."""
        padding = self._bf16_route(x, shared)
        if repeats == 1 or padding is None:
            return Conv2D.forward_concat(self, x, shared, repeats)
        c1, winograd = x.shape[1], self._kernel_name() != 'direct'
        weight_x, weight_shared = (self.weight[:, :c1].contiguous(),
                                   self.weight[:, c1:].contiguous())
        once = conv2d_bf16(shared, weight_shared, self.bias, padding, winograd=winograd)
        return conv2d_bf16(x, weight_x, None, padding, self.negative_slope,
                           repeat_frames(once, repeats), winograd, residual_first=True)

    def forward_residual(self, x, residual):
        """`Conv2D.forward_residual` (``self(x) + residual``), the sum stored in bfloat16's
        products' float32 output."""
        padding = self._bf16_route(x, residual)
        if padding is None:
            return Conv2D.forward_residual(self, x, residual)
        return conv2d_bf16(x, self.weight, self.bias, padding, self.negative_slope, residual,
                           winograd=self._kernel_name() != 'direct')

    def forward_pair(self, x, x2):
        """`Conv2D.forward_pair` (``self(concat([x, x2], 1))``) in bfloat16, the two inputs
        read in place on Winograd."""
        padding = self._bf16_route(x, x2)
        if padding is None:
            return Conv2D.forward_pair(self, x, x2)
        winograd = self._kernel_name() != 'direct'
        if not stores_fit(self.weight, winograd):
            return self.forward(paddle.concat([x, x2], 1))
        return conv2d_bf16(x, self.weight, self.bias, padding, self.negative_slope,
                           winograd=winograd, x2=x2)

    def forward_shuffled(self, x):
        """`Conv2D.forward_shuffled` (``pixel_shuffle(self(x), 2)``) in bfloat16, stored
        shuffled on Winograd."""
        padding = self._bf16_route(x)
        if padding is None:
            return Conv2D.forward_shuffled(self, x)
        winograd = self._kernel_name() != 'direct'
        if not stores_fit(self.weight, winograd) or self._out_channels % 4:
            return F.pixel_shuffle(self.forward(x), 2)
        return conv2d_bf16(x, self.weight, self.bias, padding, self.negative_slope,
                           winograd=winograd, shuffle=True)

    def forward_split_sigmoid(self, x, split):
        """`Conv2D.forward_split_sigmoid` (a DCN's offsets and sigmoid mask) in bfloat16, the
        two parts stored apart on Winograd (split a multiple of 16)."""
        padding = self._bf16_route(x)
        if padding is None:
            return Conv2D.forward_split_sigmoid(self, x, split)
        winograd = self._kernel_name() != 'direct'
        if not stores_fit(self.weight, winograd) or split % 16 \
                or not 0 < split < self._out_channels:
            first, second = paddle.split(self.forward(x),
                                         [split, self._out_channels - split], 1)
            return first, F.sigmoid(second)
        return conv2d_bf16(x, self.weight, self.bias, padding, self.negative_slope,
                           winograd=winograd, split=split)


def deform_conv2d_bf16(x, offset, mask, weight, bias=None, stride=1, padding=0, dilation=1,
                       deformable_groups=1):
    """`edvr.ops.dcn.modulated_deform_conv2d` on the C++ kernels (same arguments and result,
    no gradients) with bfloat16 products and float32 sums; needs AVX-512 BF16."""
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    return load_cpu_ops().edvr_dcn_bf16(contiguous(x), contiguous(offset), contiguous(mask),
                                        contiguous(weight), bias, sh, sw, ph, pw, dh, dw,
                                        int(deformable_groups), cpu_threads())


class Bf16ModulatedDeformConv2D(ModulatedDeformConv2D):
    """`ModulatedDeformConv2D` whose no-gradient calls on the C++ kernels run in bfloat16;
    made by `set_precision`, never built directly."""

    def forward(self, x, offset, mask, kernel=None):
        """x (b, c_in, h, w), offset (b, 2*G*K, ho, wo), mask (b, G*K, ho, wo)
        -> (b, c_out, ho, wo)."""
        backward = wants_grad(x, offset, mask, self.weight, self.bias)
        name = resolve_kernel(backward, kernel or self.kernel, (x, offset, mask, self.weight))
        if backward or name != 'cpp':
            return ModulatedDeformConv2D.forward(self, x, offset, mask, kernel)
        return deform_conv2d_bf16(x, offset, mask, self.weight, self.bias, self.stride,
                                  self.padding, self.dilation, self.deformable_groups)
