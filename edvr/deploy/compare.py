# SPDX-License-Identifier: Apache-2.0
"""Side-by-side comparison images: bicubic | model | GT, each labelled with its PSNR."""
import os

import cv2
import numpy as np

from edvr import components  # noqa: F401  (registers every component)
from edvr.datasets.image_io import write_image
from edvr.datasets.loader import build_dataset
from edvr.deploy.predictor import Predictor
from edvr.errors import ConfigError, DataError
from edvr.metrics import psnr, tensor2img
from edvr.utils.imresize import imresize

_BAR = 22  # label bar height in pixels


def _label(panel, text):
    """``panel`` (h, w, 3) uint8 RGB with a black bar and ``text`` on top."""
    bar = np.zeros((_BAR, panel.shape[1], 3), np.uint8)
    cv2.putText(bar, text, (4, _BAR - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                cv2.LINE_AA)
    return np.concatenate([bar, panel], axis=0)


def comparison_image(lq_center, output, gt=None, scale=4, crop=None, zoom=1):
    """Panels of the bicubic upscale, the model output and (if given) the GT.

    Args:
        lq_center: (h, w, 3) uint8 RGB centre input frame.
        output: (h*scale, w*scale, 3) uint8 RGB model output.
        gt: (h*scale, w*scale, 3) uint8 RGB ground truth, or None.
        scale: output size / input size.
        crop: (top, left, height, width) in output pixels, or None for the whole frame.
        zoom: nearest-neighbour enlargement of each panel (to see pixels).

    Returns:
        (H, W, 3) uint8 RGB image; PSNR labels are measured on the whole frame.
    """
    bicubic = imresize(lq_center, scale) if scale != 1 else lq_center
    if bicubic.shape != output.shape or (gt is not None and gt.shape != output.shape):
        raise ConfigError(f'comparison: sizes differ (bicubic {bicubic.shape}, output '
                          f'{output.shape}, gt {None if gt is None else gt.shape})')
    if crop:
        top, left, height, width = crop
        if top + height > output.shape[0] or left + width > output.shape[1]:
            raise ConfigError(f'--crop {",".join(map(str, crop))}: reaches row {top + height} and '
                              f'column {left + width}, outside the {output.shape[0]}x'
                              f'{output.shape[1]} output frame')
    panels = [('bicubic', bicubic), ('EDVR', output)]
    if gt is not None:
        panels.append(('GT', gt))
    out = []
    for name, img in panels:
        text = name if gt is None or name == 'GT' else f'{name} {psnr(img, gt):.2f} dB'
        if crop:
            top, left, height, width = crop
            img = img[top:top + height, left:left + width]
        if zoom > 1:
            img = cv2.resize(img, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
        out.append(_label(img, text))
    gap = np.full((out[0].shape[0], 4, 3), 255, np.uint8)
    row = [out[0]]
    for panel in out[1:]:
        row += [gap, panel]
    return np.concatenate(row, axis=1)


def write_comparison(cfg, key, path, weights=None, model_path=None, crop=None, zoom=1):
    """Restore test frame ``key`` of ``cfg``'s dataset.test and write its comparison PNG.

    Args:
        cfg: loaded config (network and dataset.test).
        key: 'clip/frame' of a test sample.
        path: PNG to write (its folder must exist).
        weights: weights for the config's network, or
        model_path: an exported model instead.
        crop, zoom: as in `comparison_image`.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DataError(f'{path}: output folder {folder} does not exist')
    if not (weights or model_path):
        raise ConfigError('comparison: give weights (--load) or an exported model (--model_path)')
    predictor = Predictor(model_path) if model_path else Predictor.from_config(cfg, weights)
    dataset = build_dataset(cfg.dataset.test, where='dataset.test')
    keys = [info['key'] for info in dataset.data_infos]
    if key not in keys:
        raise DataError(f'--key {key!r}: not a test frame (e.g. {", ".join(keys[:3])})')
    sample = dataset[keys.index(key)]
    lq = sample['lq'][None]
    output = tensor2img(predictor.restore(lq)[0], predictor.min_max)
    center = tensor2img(sample['lq'][lq.shape[1] // 2], predictor.min_max)
    gt = tensor2img(sample['gt'], predictor.min_max)
    write_image(path, comparison_image(center, output, gt, predictor.scale, crop, zoom))
