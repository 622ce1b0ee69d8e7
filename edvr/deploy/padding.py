# SPDX-License-Identifier: Apache-2.0
"""Padding frames of any size to the size EDVR's pyramid needs, and cropping back.

EDVR halves the LR frames twice (four times with ``HR_in``), so their height
and width must be divisible by ``net.size_multiple``. Real footage seldom is
(1080p at x4 is 270x480 LR). `pad_to_multiple` reflect-pads the frames to the
next multiple, splitting the padding between both sides so neither border sees
more synthetic content than needed, and returns the box that cuts the network
output back to the true size.
"""
from typing import NamedTuple

import numpy as np

from edvr.utils.padding import padding_for


class CropBox(NamedTuple):
    """Where the real image lies in a padded network output, in output pixels."""

    top: int
    left: int
    height: int
    width: int

    def crop(self, output):
        """Cut ``output`` (..., H, W), an array or tensor, back to the real image."""
        return output[..., self.top:self.top + self.height, self.left:self.left + self.width]


def pad_to_multiple(frames, multiple, scale=1):
    """Reflect-pad frames so height and width are divisible by ``multiple``.

    Args:
        frames: ndarray (..., h, w), e.g. (b, t, c, h, w); not modified.
        multiple: the divisor the padded height and width must have.
        scale: output size / input size of the network the frames go through.

    Returns:
        (padded, box): ``padded`` of shape (..., h', w') with h' and w' the
        next multiples (``frames`` itself when nothing is needed), and the
        `CropBox` of the real image in the network's output of ``padded``.
    """
    frames = np.asarray(frames)
    h, w = frames.shape[-2:]
    top, bottom = padding_for(h, multiple)
    left, right = padding_for(w, multiple)
    box = CropBox(top * scale, left * scale, h * scale, w * scale)
    if not (top or bottom or left or right):
        return frames, box
    pad = [(0, 0)] * (frames.ndim - 2) + [(top, bottom), (left, right)]
    # Reflection needs at least 2 pixels; a 1-pixel side can only be repeated.
    mode = 'reflect' if min(h, w) > 1 else 'edge'
    return np.pad(frames, pad, mode=mode), box
