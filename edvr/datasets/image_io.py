# SPDX-License-Identifier: Apache-2.0
"""Reading and writing frames with OpenCV, and the `ReadImageSequence` op.

Frames are read the way PaddleGAN reads them: ``cv2.imread`` with flag -1
(unchanged depth and channels), then converted from OpenCV's BGR to RGB.
"""
import os

import cv2
import numpy as np

from edvr.datasets.packed import read_frame
from edvr.errors import ConfigError, DataError
from edvr.registry import PREPROCESS
from edvr.utils.output_paths import write_atomic
from edvr.utils.writer import make_folders


def read_image(path, flag=-1, to_rgb=True):
    """Read one image as an (h, w, c) array.

    Args:
        path: image file.
        flag: ``cv2.imread`` flag (-1 keeps depth and channels as stored).
        to_rgb: convert OpenCV's BGR(A) order to RGB(A).

    Raises:
        DataError: the file is missing or cannot be decoded (names the file).
    """
    path = str(path)
    if not os.path.isfile(path):
        raise DataError(f'{path}: frame not found')
    img = cv2.imread(path, flag)
    if img is None:
        raise DataError(f'{path}: cannot decode image (corrupt or unsupported format)')
    if img.ndim == 2:
        img = img[:, :, None]
    if to_rgb and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif to_rgb and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    return img


def write_image(path, img, from_rgb=True):
    """Write an (h, w[, c]) uint8 image, creating folders; atomic (temp file + rename).

    On an OSError (e.g. a full disk) ``path`` keeps its previous content and
    no temporary file is left.

    Args:
        path: destination file; its extension picks the format.
        img: the image.
        from_rgb: the image is RGB and is converted to OpenCV's BGR first.
    """
    path = str(path)
    make_folders(os.path.dirname(path) or '.')
    if from_rgb and img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ext = os.path.splitext(path)[1]
    ok, data = cv2.imencode(ext, img)
    if not ok:
        raise DataError(f'{path}: cannot encode image of shape {img.shape}')
    write_atomic(path, data.tobytes())


@PREPROCESS.register
class ReadImageSequence:
    """Read the frames listed in ``results[f'{key}_path']``.

    Reads: ``{key}_path`` (list of frame files), ``io_backend`` (optional:
    'lmdb' reads the frames from packed stores, see `edvr.datasets.packed`).
    Adds: ``{key}`` (list of (h, w, c) arrays, RGB by default).
    Changes: ``{key}_path`` (to a list of str).

    Args:
        key: which sequence to read (``lq`` or ``gt``).
        flag: ``cv2.imread`` flag (-1: as stored, as in PaddleGAN).
        to_rgb: convert BGR to RGB (PaddleGAN's default).
        backend: accepted for config compatibility; only OpenCV (None) exists.

    Raises:
        DataError: a frame is missing or corrupt, not 8-bit, or frames differ in size.
    """

    def __init__(self, key='gt', flag=-1, to_rgb=True, backend=None):
        if backend not in (None, 'cv2'):
            raise ConfigError(f'ReadImageSequence.backend: only OpenCV is supported, '
                              f'got {backend!r}')
        self.key = key
        self.flag = flag
        self.to_rgb = to_rgb

    def __call__(self, results):
        paths = results[f'{self.key}_path']
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        paths = [str(p) for p in paths]
        read = read_frame if results.get('io_backend') == 'lmdb' else read_image
        frames = [read(p, self.flag, self.to_rgb) for p in paths]
        for path, frame in zip(paths, frames):
            if frame.dtype != np.uint8:  # 16-bit PNGs would be scaled as if 8-bit
                raise DataError(f'{path}: a {frame.dtype.itemsize * 8}-bit frame; expected '
                                f'8-bit frames like the rest of the dataset')
        for path, frame in zip(paths[1:], frames[1:]):
            if frame.shape != frames[0].shape:
                raise DataError(f'{path}: frame of shape {frame.shape} differs from '
                                f'{paths[0]} of shape {frames[0].shape}')
        results[self.key] = frames
        results[f'{self.key}_path'] = paths
        return results

    def __repr__(self):
        return f'ReadImageSequence(key={self.key!r})'
