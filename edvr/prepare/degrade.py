# SPDX-License-Identifier: Apache-2.0
"""The two x4 degradations of the video SR benchmarks, and writing LQ trees with them.

BI: MATLAB's bicubic ``imresize(gt, 1/scale)`` (antialiased), see `edvr.utils.imresize`.
BD: a 13x13 Gaussian blur with sigma 1.6 (0.4 * scale), edges mirrored
without repeating the border pixel, then every ``scale``-th pixel starting at
the first: LQ pixel (i, j) is the blurred GT pixel (scale*i, scale*j). This is
the degradation of the DUF paper as used by the EDVR/BasicVSR literature for
Vimeo-90K BD, Vid4 BDx4 and UDM10.
"""
import os

import cv2
import numpy as np

from edvr.datasets.image_io import read_image, write_image
from edvr.errors import ConfigError, DataError
from edvr.prepare.common import Problems, parallel_map
from edvr.utils.imresize import imresize

DEGRADATIONS = ('BI', 'BD')
BD_KERNEL_SIZE = 13
BD_SIGMA_PER_SCALE = 0.4


def gaussian_kernel_1d(size, sigma):
    """Normalised 1-D Gaussian weights (size,), centred, float64."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def bd_downscale(img, scale=4, sigma=None, kernel_size=BD_KERNEL_SIZE):
    """BD degradation of an (h, w[, c]) uint8 image: Gaussian blur, then keep every scale-th pixel.

    Returns:
        uint8 (ceil(h / scale), ceil(w / scale)[, c]), rounded to nearest.
    """
    sigma = BD_SIGMA_PER_SCALE * scale if sigma is None else sigma
    k = gaussian_kernel_1d(kernel_size, sigma)
    blurred = cv2.sepFilter2D(img.astype(np.float64), cv2.CV_64F, k, k,
                              borderType=cv2.BORDER_REFLECT_101)
    if blurred.ndim == 2 and img.ndim == 3:
        blurred = blurred[:, :, None]
    small = blurred[::scale, ::scale]
    return np.clip(np.floor(small + 0.5), 0, 255).astype(np.uint8)


def bi_downscale(img, scale=4):
    """BI degradation: MATLAB bicubic downscale by ``scale`` (uint8 in, uint8 out)."""
    return imresize(img, 1 / scale)


def degrade(img, degradation, scale=4):
    """Apply 'BI' or 'BD' to an (h, w, c) uint8 image."""
    if degradation == 'BI':
        return bi_downscale(img, scale)
    if degradation == 'BD':
        return bd_downscale(img, scale)
    raise ConfigError(f'degradation: expected one of {", ".join(DEGRADATIONS)}, '
                      f'got {degradation!r}')


def crop_to_multiple(img, scale):
    """Crop the bottom/right so both sides are multiples of ``scale``."""
    h, w = img.shape[:2]
    return img[:h - h % scale, :w - w % scale]


def degrade_file(job):
    """Worker: read GT ``src``, degrade it, write ``dst`` atomically; skip a finished ``dst``.

    Args:
        job: (src, dst, degradation, scale).

    Returns:
        (dst, written: bool, error message or None).
    """
    src, dst, degradation, scale = job
    if os.path.isfile(dst):
        return dst, False, None
    try:
        gt = read_image(src)
        if gt.shape[0] % scale or gt.shape[1] % scale:
            raise DataError(f'{src}: size {gt.shape[0]}x{gt.shape[1]} is not divisible by '
                            f'scale {scale}')
        write_image(dst, degrade(gt, degradation, scale))
    except DataError as exc:
        return dst, False, str(exc)
    return dst, True, None


def run_degrade_jobs(jobs, workers, desc):
    """Run `degrade_file` jobs; raise one DataError listing failures. Returns frames written."""
    problems, written = Problems(), 0
    for _, done, error in parallel_map(degrade_file, jobs, workers, desc):
        if error:
            problems.add(error)
        written += bool(done)
    problems.raise_if_any(desc, nothing_written=False)
    return written
