# SPDX-License-Identifier: Apache-2.0
"""Bilinear 2x upsampling, on the C++ CPU kernel where it applies.

`upsample2x` is ``scale * F.interpolate(x, scale_factor=2, mode='bilinear',
align_corners=False, align_mode=0)``. For float32 dygraph calls on the CPU without
gradients it runs ``edvr_upsample2x`` (``csrc/cpu_upsample.cc``: Paddle's arithmetic,
the same bits, multithreaded, ``scale`` applied in the same pass); everything else
(gradients, static graphs and export, GPUs, AMP, no C++ build) runs Paddle's ops.
"""
import paddle.nn.functional as F

from edvr.ops.column_conv import columns_available, contiguous, wants_grad
from edvr.ops.cpu_ops import load_cpu_ops
from edvr.utils.device import cpu_threads


def upsample2x(x, scale=1.0):
    """``scale`` times the bilinear 2x upsampling (half-pixel centres) of x.

    Args:
        x: (n, c, h, w).
        scale: a factor applied to the result (exact for powers of 2).

    Returns:
        Tensor (n, c, 2h, 2w).
    """
    if columns_available(x) and not wants_grad(x):
        return load_cpu_ops().edvr_upsample2x(contiguous(x), float(scale), cpu_threads())
    y = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False, align_mode=0)
    return y if scale == 1 else y * scale
