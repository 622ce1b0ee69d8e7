# SPDX-License-Identifier: Apache-2.0
"""The training preview image: LQ (nearest-upscaled), output and GT side by side."""
import cv2
import numpy as np

from edvr.datasets.image_io import write_image
from edvr.metrics import tensor2img
from edvr.utils.output_paths import written_unless_disk_full


def save_train_visual(visuals, min_max, path, logger):
    """Write ``visuals`` ('lq', 'output', 'gt' batches) as one PNG at ``path``.

    A full disk only warns: the preview is not needed to continue training.

    Args:
        visuals: dict of (b, c, h, w) tensors (lq: (b, t, c, h, w) centre frame taken by the model).
        min_max: value range of the tensors.
        path: destination PNG (written atomically; its folder is created).
        logger: where the full-disk warning goes.

    Returns:
        the (h, 3 * w, 3) uint8 RGB image.
    """
    row = [tensor2img(visuals[k][0], min_max) for k in ('lq', 'output', 'gt')]
    row[0] = cv2.resize(row[0], row[1].shape[1::-1], interpolation=cv2.INTER_NEAREST)
    image = np.concatenate(row, axis=1)
    if not written_unless_disk_full(write_image, path, image):
        logger.warning(f'{path}: no space left on device; training image skipped, training goes on')
    return image
