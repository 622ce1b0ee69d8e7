# SPDX-License-Identifier: Apache-2.0
"""The bfloat16 narrow kernel (at most 4 output channels, EDVR's 64 -> 3 last conv): the op
against a float64 sum of the bfloat16-rounded operands, at widths that leave partial pixel
vectors, kernel sizes 1, 3 and 5, odd channel counts, with the residual, on 1 and 2 threads."""
import numpy as np
import paddle
import pytest

from edvr.ops import bf16
from edvr.utils.device import cpu_threads, set_cpu_threads
from tests.ops.test_bf16 import conv64, rel_rms, to_bf16


@pytest.mark.parametrize('b, c, h, w, c_out, k, pad', [(2, 64, 11, 70, 3, 3, 1),
                                                       (1, 7, 5, 9, 1, 3, 1),
                                                       (3, 16, 9, 130, 4, 5, 2),
                                                       (1, 5, 6, 17, 2, 1, 0)])
@pytest.mark.parametrize('threads', [1, 2])
def test_narrow_equals_rounded_operands(bf16_ops, b, c, h, w, c_out, k, pad, threads):
    rng = np.random.default_rng(c + k)
    x = rng.standard_normal((b, c, h, w)).astype('float32')
    wt = (rng.standard_normal((c_out, c, k, k)) / np.sqrt(c * k * k)).astype('float32')
    bias = rng.standard_normal(c_out).astype('float32')
    res = rng.standard_normal((b, c_out, h + 2 * pad - k + 1, w + 2 * pad - k + 1))
    res = res.astype('float32')
    before = cpu_threads()
    set_cpu_threads(threads)
    try:
        got = bf16.conv2d_bf16(paddle.to_tensor(x), paddle.to_tensor(wt), paddle.to_tensor(bias),
                               (pad, pad), residual=paddle.to_tensor(res)).numpy()
    finally:
        set_cpu_threads(before)
    want = conv64(to_bf16(x), to_bf16(wt), bias.astype('float64'), pad) + res
    exact = conv64(x.astype('float64'), wt.astype('float64'), bias.astype('float64'), pad) + res
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-5 * np.abs(want).max()   # float32 sums of bf16 products
    assert 1e-5 < rel_rms(got, exact) < 1e-2
