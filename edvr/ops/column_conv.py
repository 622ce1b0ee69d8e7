# SPDX-License-Identifier: Apache-2.0
"""Convolution and DCNv2 as C++ column kernels plus one Paddle matmul (CPU).

``out = weight (c_out, c*K) @ cols (b, c*K, ho*wo) + bias``, where ``cols`` is built
by `edvr.ops.cpu_ops` (plain im2col, or bilinear sampling times the modulation
mask for DCNv2). Backward: ``grad_weight = grad_out @ cols^T``, ``grad_cols =
weight^T @ grad_out`` and a C++ scatter (col2im) for the input (and, for DCNv2,
the offset and mask) gradients.

The batch is processed in chunks of samples whose column buffer stays under
`CHUNK_BYTES` (without gradients, a plain conv whose one-sample buffer is larger
runs in bands of output rows), and ``cols`` is recomputed in the backward pass
rather than kept (it is 9x the input), so memory stays bounded. The DCNv2 forward
(with or without gradients) runs on ``edvr_dcn_forward`` instead, which builds its
columns in cache-sized blocks of output positions; with a multiple of 8 channels per
deformable group its backward runs on ``edvr_dcn_backward`` (blocks of positions per
group, no column buffer). All tensors are float32 on the CPU.
"""
import paddle
from paddle.autograd import PyLayer

from edvr.ops.cpu_ops import load_cpu_ops
from edvr.utils.device import cpu_threads
from edvr.utils.paddle_compat import autocast_enabled

CHUNK_BYTES = 32 << 20


def pair(v):
    """An int or a pair -> (vertical, horizontal) ints."""
    return (int(v), int(v)) if isinstance(v, int) else tuple(int(i) for i in v)


def _geometry(weight, stride, padding, dilation):
    kh, kw = int(weight.shape[2]), int(weight.shape[3])
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    return (kh, kw, sh, sw, ph, pw, dh, dw)


def _out_size(size, k, s, p, d):
    return (size + 2 * p - (d * (k - 1) + 1)) // s + 1


def contiguous(t):
    """``t``, copied into contiguous memory if it is a strided view."""
    return t if t.is_contiguous() else t.contiguous()


def _project(weight, cols, bias, ho, wo):
    """(c_out, c, kh, kw) @ (b, c*K, ho*wo) + bias -> (b, c_out, ho, wo)."""
    c_out = weight.shape[0]
    out = paddle.matmul(weight.reshape([c_out, -1]), cols)
    if bias is not None:
        out = out + bias.reshape([1, c_out, 1])
    return out.reshape([cols.shape[0], c_out, ho, wo])


def _is_pointwise(geom):
    return geom == (1, 1, 1, 1, 0, 0, 1, 1)


def _chunks(b, bytes_per_sample):
    """Sample ranges [i, j) whose column buffer stays under `CHUNK_BYTES`."""
    step = max(1, min(b, CHUNK_BYTES // max(bytes_per_sample, 1)))
    return [(i, min(i + step, b)) for i in range(0, b, step)]


def _cat(parts):
    return parts[0] if len(parts) == 1 else paddle.concat(parts, 0)


class Columns:
    """im2col / col2im of one convolution call, for a range of samples.

    Args:
        x: (b, c, h, w).
        offset, mask: DCNv2 offsets and mask, or None for a plain convolution.
        weight: (c_out, c, kh, kw); geom: (kh, kw, sh, sw, ph, pw, dh, dw); groups: G.
    """

    def __init__(self, x, offset, mask, weight, geom, groups):
        self.x, self.offset, self.mask, self.geom, self.groups = x, offset, mask, geom, groups
        b, c, h, w = x.shape
        kh, kw, sh, sw, ph, pw, dh, dw = geom
        self.ho, self.wo = _out_size(h, kh, sh, ph, dh), _out_size(w, kw, sw, pw, dw)
        self.pointwise = offset is None and _is_pointwise(geom)
        self.chunks = _chunks(b, 4 * c * kh * kw * self.ho * self.wo)

    def im2col(self, i, j):
        """Columns of samples [i, j): (j - i, c*K, ho*wo)."""
        x = self.x[i:j]
        if self.pointwise:
            return x.reshape([j - i, x.shape[1], -1])
        if self.offset is None:
            return load_cpu_ops().edvr_im2col(x, *self.geom, cpu_threads())
        return load_cpu_ops().edvr_dcn_im2col(x, self.offset[i:j], self.mask[i:j], *self.geom,
                                              self.groups, cpu_threads())

    def col2im(self, grad_cols, i, j):
        """Input gradient(s) of samples [i, j) from their column gradient."""
        x = self.x[i:j]
        if self.pointwise:
            return [grad_cols.reshape(x.shape)]
        if self.offset is None:
            return [load_cpu_ops().edvr_col2im(grad_cols, x.shape[2], x.shape[3], *self.geom,
                                               cpu_threads())]
        return list(load_cpu_ops().edvr_dcn_col2im(grad_cols, x, self.offset[i:j],
                                                   self.mask[i:j], *self.geom, self.groups,
                                                   cpu_threads()))

    def forward(self, weight, bias):
        """(b, c_out, ho, wo), computed chunk by chunk (plain convs whose one-sample
        column buffer exceeds `CHUNK_BYTES` also in bands of output rows)."""
        c, (kh, kw) = self.x.shape[1], self.geom[:2]
        row_bytes = 4 * c * kh * kw * self.wo
        if self.offset is None and not self.pointwise and row_bytes * self.ho > CHUNK_BYTES:
            return _cat([self._forward_in_bands(weight, bias, i, max(1, CHUNK_BYTES // row_bytes))
                         for i in range(self.x.shape[0])])
        return _cat([_project(weight, self.im2col(i, j), bias, self.ho, self.wo)
                     for i, j in self.chunks])

    def _forward_in_bands(self, weight, bias, i, rows):
        """Sample i in bands of ``rows`` output rows: (1, c_out, ho, wo)."""
        kh, kw, sh, sw, ph, pw, dh, dw = self.geom
        x = paddle.nn.functional.pad(self.x[i:i + 1], [pw, pw, ph, ph])
        band_geom = (kh, kw, sh, sw, 0, 0, dh, dw)
        parts = []
        for r0 in range(0, self.ho, rows):
            r1 = min(r0 + rows, self.ho)
            band = x[:, :, r0 * sh:(r1 - 1) * sh + (kh - 1) * dh + 1]
            cols = load_cpu_ops().edvr_im2col(contiguous(band), *band_geom, cpu_threads())
            parts.append(_project(weight, cols, bias, r1 - r0, self.wo))
        return parts[0] if len(parts) == 1 else paddle.concat(parts, 2)

    def backward(self, weight, grad_out, needs):
        """Gradients of (x[, offset, mask], weight[, bias]); None where ``needs`` is False.

        Args:
            needs: one bool per forward tensor input, in that order.
        """
        c_out = weight.shape[0]
        w2 = weight.reshape([c_out, -1])
        grad_out = contiguous(grad_out).reshape([grad_out.shape[0], c_out, -1])
        n_inputs = 1 if self.offset is None else 3
        want_inputs, want_w = any(needs[:n_inputs]), needs[n_inputs]
        grad_w, inputs = None, []
        for i, j in self.chunks:
            g = grad_out[i:j]
            if want_w:
                part = paddle.matmul(g, self.im2col(i, j), transpose_y=True).sum(0)
                grad_w = part if grad_w is None else grad_w + part
            if want_inputs:
                inputs.append(self.col2im(paddle.matmul(w2, g, transpose_x=True), i, j))
        grads = [_cat(list(parts)) for parts in zip(*inputs)] if want_inputs \
            else [None] * n_inputs
        grads.append(grad_w.reshape(weight.shape) if want_w else None)
        if len(needs) > n_inputs + 1:
            grads.append(grad_out.sum([0, 2]) if needs[-1] else None)
        return tuple(g if need else None for g, need in zip(grads, needs))


def needs_grad(*tensors):
    """One bool per tensor that is not None: whether it takes a gradient."""
    return tuple(not t.stop_gradient for t in tensors if t is not None)


class _ColumnsFunction(PyLayer):
    """Backward shared by the column autograd functions: `Columns.backward` with the
    weight saved by forward (columns recomputed, not kept)."""

    @staticmethod
    def backward(ctx, grad_out):
        (weight,) = ctx.saved_tensor()
        return ctx.columns.backward(weight, grad_out, ctx.needs)


class _ConvFunction(_ColumnsFunction):
    """Autograd of a plain convolution over `Columns`."""

    @staticmethod
    def forward(ctx, x, weight, bias, geom):
        ctx.columns = Columns(x, None, None, weight, geom, 1)
        ctx.needs = needs_grad(x, weight, bias)
        ctx.save_for_backward(weight)
        return ctx.columns.forward(weight, bias)


class _DeformConvFunction(_ColumnsFunction):
    """Autograd of DCNv2 over `Columns`."""

    @staticmethod
    def forward(ctx, x, offset, mask, weight, bias, geom, groups):
        ctx.columns = Columns(x, offset, mask, weight, geom, groups)
        ctx.needs = needs_grad(x, offset, mask, weight, bias)
        ctx.octets = x.shape[1] % (8 * groups) == 0
        if ctx.octets:
            ctx.geom, ctx.groups = geom, groups
            ctx.save_for_backward(x, offset, mask, weight)
        else:
            ctx.save_for_backward(weight)
        # the output as without gradients (column blocks in cache); backward rebuilds columns
        return load_cpu_ops().edvr_dcn_forward(x, offset, mask, contiguous(weight), bias,
                                               *geom[2:], groups, cpu_threads())

    @staticmethod
    def backward(ctx, grad_out):
        if not ctx.octets:
            return _ColumnsFunction.backward(ctx, grad_out)
        # 8 channels per group or a multiple: blocked, channels-last (csrc/cpu_dcn_backward.cc)
        x, offset, mask, weight = ctx.saved_tensor()
        grad_out = contiguous(grad_out)
        grads = list(load_cpu_ops().edvr_dcn_backward(
            x, offset, mask, contiguous(weight), grad_out, *ctx.geom[2:], ctx.groups,
            cpu_threads()))
        if len(ctx.needs) > 4:
            grads.append(grad_out.sum([0, 2, 3]) if ctx.needs[4] else None)
        return tuple(g if need else None for g, need in zip(grads, ctx.needs))


@paddle.jit.not_to_static
def columns_available(*tensors):
    """Whether the column kernels can take these tensors: a dygraph call on the CPU,
    float32, outside AMP autocast, with the C++ ops built (building them on first use)."""
    if not paddle.in_dynamic_mode() or autocast_enabled():
        return False
    for t in tensors:
        if t is not None and (t.dtype != paddle.float32 or not t.place.is_cpu_place()):
            return False
    return load_cpu_ops() is not None


def wants_grad(*tensors):
    """Whether autograd is on and any of the tensors (None allowed) takes a gradient."""
    return paddle.is_grad_enabled() and any(t is not None and not t.stop_gradient
                                            for t in tensors)


def conv2d_columns(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """`paddle.nn.functional.conv2d` (one group) through the C++ column kernels.

    Args:
        x: (b, c, h, w) float32 on the CPU.
        weight: (c_out, c, kh, kw).
        bias: (c_out,) or None.
        stride, padding, dilation: int or (vertical, horizontal) pair.

    Returns:
        Tensor (b, c_out, ho, wo).
    """
    geom = _geometry(weight, stride, padding, dilation)
    x = contiguous(x)
    if wants_grad(x, weight, bias):
        return _ConvFunction.apply(x, weight, bias, geom)
    return Columns(x, None, None, weight, geom, 1).forward(weight, bias)


def deform_conv2d_columns(x, offset, mask, weight, bias=None, stride=1, padding=0, dilation=1,
                          deformable_groups=1):
    """Modulated deformable convolution through the C++ column kernels.

    Args: as `edvr.ops.dcn.deform_conv2d_sampling` (offset (b, 2*G*K, ho, wo) in
    (dy, dx) pairs per group and tap, mask (b, G*K, ho, wo)).

    Returns:
        Tensor (b, c_out, ho, wo).
    """
    geom = _geometry(weight, stride, padding, dilation)
    x, offset, mask = contiguous(x), contiguous(offset), contiguous(mask)
    if wants_grad(x, offset, mask, weight, bias):
        return _DeformConvFunction.apply(x, offset, mask, weight, bias, geom,
                                         int(deformable_groups))
    # without gradients: columns built block by block in cache (csrc/cpu_dcn_forward.cc)
    return load_cpu_ops().edvr_dcn_forward(x, offset, mask, contiguous(weight), bias,
                                           *geom[2:], int(deformable_groups), cpu_threads())
