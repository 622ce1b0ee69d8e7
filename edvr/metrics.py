# SPDX-License-Identifier: Apache-2.0
"""PSNR and SSIM as the super-resolution field reports them.

Images reach the metrics as RGB arrays in the 0-255 range: uint8, or float
holding 0-255 values, laid out (h, w, c) ('HWC') or (c, h, w) ('CHW'). Use
`tensor2img` to turn a network output in ``min_max`` into such an array.

The metric objects accumulate one value per frame. Give each frame a key
``'clip/frame'`` and results from several ranks merge exactly: duplicates
(frames a padded sampler evaluated twice) count once, and the mean does not
depend on the order or split of the frames.
"""
import math

import cv2
import numpy as np

from edvr.errors import ConfigError
from edvr.registry import METRICS

# ITU-R BT.601 luma as MATLAB's rgb2ycbcr: Y = 16 + (65.481 R + 128.553 G
# + 24.966 B) / 255 for R, G, B in 0-255; white -> 235, black -> 16.
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255.
_INPUT_ORDERS = ('HWC', 'CHW')


def tensor2img(tensor, min_max=(0., 1.)):
    """Turn a float image in ``min_max`` into a uint8 RGB image.

    Values are clipped to ``min_max``, scaled to 0-255 and rounded to the
    nearest integer (halves to even, as ``np.round``), in the input's own
    float precision. A one-channel image is repeated to three channels.

    Args:
        tensor: paddle Tensor or ndarray, (c, h, w) or (1, c, h, w), RGB.
        min_max: the value range that maps to 0 and 255.

    Returns:
        ndarray: uint8 (h, w, 3).
    """
    img = tensor.numpy() if hasattr(tensor, 'numpy') else np.asarray(tensor)
    if img.ndim == 4 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 3:
        raise ValueError(f'tensor2img expects (c, h, w), got shape {img.shape}')
    if img.shape[0] == 1:
        img = np.tile(img, (3, 1, 1))
    low, high = min_max
    img = (img.clip(low, high) - low) / (high - low) * 255.0
    return img.transpose(1, 2, 0).round().astype(np.uint8)


def to_y_channel(img):
    """Y of YCbCr (BT.601, MATLAB convention) of an RGB (h, w, 3) 0-255 image.

    Returns:
        ndarray: float64 (h, w, 1) in 16-235, not rounded.
    """
    return (np.asarray(img, np.float64) @ _Y_WEIGHTS + 16.)[..., None]


def _prepare(img1, img2, crop_border, test_y_channel, input_order):
    """Both images as float64 (h, w, c), border cropped, optionally Y only."""
    if input_order not in _INPUT_ORDERS:
        raise ValueError(f'input_order must be one of {_INPUT_ORDERS}, got {input_order!r}')
    img1 = np.asarray(img1, np.float64)
    img2 = np.asarray(img2, np.float64)
    if img1.shape != img2.shape:
        raise ValueError(f'image shapes differ: {img1.shape} vs {img2.shape}')
    pair = []
    for img in (img1, img2):
        if img.ndim == 2:
            img = img[..., None]
        elif input_order == 'CHW':
            img = img.transpose(1, 2, 0)
        if crop_border:
            img = img[crop_border:-crop_border, crop_border:-crop_border]
        if test_y_channel and img.shape[2] == 3:
            img = to_y_channel(img)
        pair.append(img)
    return pair


def psnr(img1, img2, crop_border=0, test_y_channel=False, input_order='HWC'):
    """Peak signal-to-noise ratio in dB, peak 255.

    Args:
        img1, img2: RGB images in 0-255 of equal shape (see module docstring).
        crop_border: pixels dropped on each side before measuring.
        test_y_channel: measure the BT.601 Y channel instead of RGB.
        input_order: 'HWC' or 'CHW'.

    Returns:
        float: PSNR; ``inf`` for identical images, as the field reports it.
    """
    img1, img2 = _prepare(img1, img2, crop_border, test_y_channel, input_order)
    mse = np.mean((img1 - img2) ** 2)
    if mse == 0:
        return float('inf')
    return float(10. * np.log10(255. ** 2 / mse))


def _ssim_channel(img1, img2):
    """SSIM of two (h, w) float64 images over the 'valid' filter region."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = cv2.getGaussianKernel(11, 1.5)
    window = g @ g.T

    def local_mean(x):  # 11x11 Gaussian mean; cropping 5 keeps the valid part
        return cv2.filter2D(x, -1, window)[5:-5, 5:-5]

    mu1, mu2 = local_mean(img1), local_mean(img2)
    var1 = local_mean(img1 * img1) - mu1 ** 2
    var2 = local_mean(img2 * img2) - mu2 ** 2
    cov = local_mean(img1 * img2) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * cov + c2)) / \
        ((mu1 ** 2 + mu2 ** 2 + c1) * (var1 + var2 + c2))
    return ssim_map.mean()


def ssim(img1, img2, crop_border=0, test_y_channel=False, input_order='HWC'):
    """Structural similarity, Wang et al. 2004, as the field reports it.

    An 11x11 Gaussian window (sigma 1.5), C1 = (0.01 * 255)^2, C2 = (0.03 *
    255)^2, averaged over the positions where the window fits entirely
    ('valid'), then over channels.

    Args:
        img1, img2: RGB images in 0-255 of equal shape (see module docstring).
        crop_border: pixels dropped on each side before measuring.
        test_y_channel: measure the BT.601 Y channel instead of RGB.
        input_order: 'HWC' or 'CHW'.

    Returns:
        float: SSIM, 1.0 for identical images.
    """
    img1, img2 = _prepare(img1, img2, crop_border, test_y_channel, input_order)
    if min(img1.shape[:2]) < 11:
        raise ValueError(f'SSIM needs at least 11x11 pixels after cropping, got {img1.shape[:2]}')
    return float(np.mean([_ssim_channel(img1[..., c], img2[..., c])
                          for c in range(img1.shape[2])]))


class _FrameMetric:
    """Per-frame values with keyed, duplicate-free accumulation."""

    _measure = None

    def __init__(self, crop_border, input_order='HWC', test_y_channel=False):
        name = type(self).__name__
        if not isinstance(crop_border, int) or crop_border < 0:
            raise ConfigError(f'{name}.crop_border: expected an integer >= 0, got {crop_border!r}')
        if input_order not in _INPUT_ORDERS:
            raise ConfigError(f'{name}.input_order: expected one of {_INPUT_ORDERS}, '
                              f'got {input_order!r}')
        self.crop_border = crop_border
        self.input_order = input_order
        self.test_y_channel = bool(test_y_channel)
        self.reset()

    def reset(self):
        """Forget all frames."""
        self._keyed = {}
        self._unkeyed = []

    def update(self, pred, gt, key=None):
        """Measure one frame pair and record it.

        Args:
            pred, gt: RGB images in 0-255 (see module docstring).
            key: frame id such as ``'000/00000099'`` (clip, then frame).
                A key seen before is overwritten, so it counts once.
                Frames without a key are never deduplicated.

        Returns:
            float: the frame's value.
        """
        value = self._measure(pred, gt, self.crop_border, self.test_y_channel,
                              self.input_order)
        if key is None:
            self._unkeyed.append(value)
        else:
            self._keyed[str(key)] = value
        return value

    def state(self):
        """Recorded frames as a picklable list of (key or None, value)."""
        return list(self._keyed.items()) + [(None, v) for v in self._unkeyed]

    def merge(self, states):
        """Replace the recorded frames by the union of ``states``.

        Args:
            states: list of `state()` results, one per rank (own included),
                e.g. from ``paddle.distributed.all_gather_object``.
        """
        self.reset()
        for state in states:
            for key, value in state:
                if key is None:
                    self._unkeyed.append(value)
                else:
                    self._keyed[key] = value

    def accumulate(self):
        """Mean over all recorded frames (0.0 when there are none).

        The sum is exact (``math.fsum``), so the mean does not depend on frame
        order or on how frames were split over ranks.
        """
        values = list(self._keyed.values()) + self._unkeyed
        return math.fsum(values) / len(values) if values else 0.0

    def per_clip(self):
        """Mean per clip, {clip: mean}; the clip is a key's part before the
        last '/'. Frames without a key are left out."""
        clips = {}
        for key, value in self._keyed.items():
            clips.setdefault(key.rsplit('/', 1)[0], []).append(value)
        return {clip: math.fsum(v) / len(v) for clip, v in sorted(clips.items())}


@METRICS.register
class PSNR(_FrameMetric):
    """PSNR in dB over frames; see `psnr`. Identical frames give ``inf``,
    and so does any mean that includes one.

    Args:
        crop_border: pixels dropped on each side before measuring.
        input_order: 'HWC' or 'CHW' layout of the arrays given to `update`.
        test_y_channel: measure the BT.601 Y channel instead of RGB.
    """

    _measure = staticmethod(psnr)


@METRICS.register
class SSIM(_FrameMetric):
    """SSIM over frames; see `ssim`.

    Args:
        crop_border: pixels dropped on each side before measuring.
        input_order: 'HWC' or 'CHW' layout of the arrays given to `update`.
        test_y_channel: measure the BT.601 Y channel instead of RGB.
    """

    _measure = staticmethod(ssim)
