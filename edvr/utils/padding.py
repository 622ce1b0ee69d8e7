# SPDX-License-Identifier: Apache-2.0
"""Padding frames of any size to the size EDVR's pyramid needs, and cropping the output back.

EDVR halves the LR frames twice (four times with ``HR_in``), so their height
and width must be divisible by ``net.size_multiple``. Real footage seldom is
(1080p at x4 is 270x480 LR). `pad_to_multiple` reflect-pads the frames to the
next multiple, splitting the padding between both sides so neither border sees
more synthetic content than needed, and returns the box that cuts the network
output back to the true size; `run_padded` does both around one call. The same
rule serves training-time validation (tensors) and inference (arrays).
"""
from typing import NamedTuple

import numpy as np


class CropBox(NamedTuple):
    """Where the real image lies in a padded network output, in output pixels."""

    top: int
    left: int
    height: int
    width: int

    def crop(self, output):
        """Cut ``output`` (..., H, W), an array or tensor, back to the real image."""
        return output[..., self.top:self.top + self.height, self.left:self.left + self.width]


def padding_for(size, multiple):
    """(before, after) padding bringing ``size`` to the next multiple of ``multiple``."""
    total = -size % multiple
    return total // 2, total - total // 2


def _pad_tensor(frames, top, bottom, left, right, mode):
    import paddle.nn.functional as F
    lead, (h, w) = list(frames.shape[:-2]), frames.shape[-2:]
    channels = lead[-1] if lead else 1
    padded = F.pad(frames.reshape([-1, channels, h, w]), [left, right, top, bottom],
                   mode='reflect' if mode == 'reflect' else 'replicate')
    return padded.reshape(lead + [h + top + bottom, w + left + right])


def pad_to_multiple(frames, multiple, scale=1):
    """Reflect-pad frames so height and width are divisible by ``multiple``.

    Args:
        frames: ndarray or paddle Tensor (..., h, w), e.g. (b, t, c, h, w); not modified.
        multiple: the divisor the padded height and width must have.
        scale: output size / input size of the network the frames go through.

    Returns:
        (padded, box): ``padded`` of shape (..., h', w'), of the input's type, with h'
        and w' the next multiples (``frames`` itself when nothing is needed), and the
        `CropBox` of the real image in the network's output of ``padded``.
    """
    if not hasattr(frames, 'place'):  # not a paddle Tensor
        frames = np.asarray(frames)
    h, w = frames.shape[-2:]
    top, bottom = padding_for(h, multiple)
    left, right = padding_for(w, multiple)
    box = CropBox(top * scale, left * scale, h * scale, w * scale)
    if not (top or bottom or left or right):
        return frames, box
    # Reflection needs at least 2 pixels; a 1-pixel side can only be repeated.
    mode = 'reflect' if min(h, w) > 1 else 'edge'
    if hasattr(frames, 'place'):
        return _pad_tensor(frames, top, bottom, left, right, mode), box
    pad = [(0, 0)] * (frames.ndim - 2) + [(top, bottom), (left, right)]
    return np.pad(frames, pad, mode=mode), box


def run_padded(run, frames, multiple):
    """``run`` on ``frames`` padded to ``multiple``, its output cropped back to the real image.

    Args:
        run: callable (b, t, c, h', w') -> (b, c, h' * s, w' * s) for some scale s.
        frames: ndarray or paddle Tensor (b, t, c, h, w).
        multiple: the size multiple ``run`` needs.

    Returns:
        (output (b, c, h * s, w * s), s).
    """
    padded, box = pad_to_multiple(frames, multiple)
    output = run(padded)
    scale = output.shape[-1] // padded.shape[-1]
    return CropBox(*(v * scale for v in box)).crop(output), scale
