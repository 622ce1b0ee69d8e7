# SPDX-License-Identifier: Apache-2.0
"""Frames unflattened inside a full static program (the export path). Kept out of the
mutation runs: Paddle's AST conversion cannot convert mutmut's trampolines."""
import numpy as np
import paddle
from paddle.static import InputSpec

from edvr.models.blocks import unflatten_frames


def test_frames_unflatten_in_a_static_graph_with_unknown_sizes():
    class Unflatten(paddle.nn.Layer):
        def forward(self, x):
            return unflatten_frames(x, 3)
    static = paddle.jit.to_static(Unflatten(), input_spec=[InputSpec([None, 2, None, None])],
                                  full_graph=True)   # a program, as export builds (not SOT)
    x = paddle.arange(6 * 2 * 4 * 5, dtype='float32').reshape([6, 2, 4, 5])
    np.testing.assert_array_equal(static(x).numpy(), x.numpy().reshape(2, 3, 2, 4, 5))
