# SPDX-License-Identifier: Apache-2.0
"""Validation: run the model over an evaluation loader, score PSNR/SSIM, save frames.

Each rank scores its strided share of the frames; the per-frame scores are
gathered and merged by key, so N processes report exactly what one would.
"""
import os

import numpy as np
import paddle
import paddle.distributed as dist
from tqdm import tqdm

from edvr.datasets.image_io import write_image
from edvr.metrics import tensor2img
from edvr.registry import METRICS, build_from_config
from edvr.utils.imresize import imresize
from edvr.utils.logger import get_logger
from edvr.utils.output_paths import written_unless_disk_full


def build_metrics(metrics_cfg):
    """``validate.metrics`` mapping -> {name: metric object}."""
    return {name: build_from_config(cfg, METRICS, where=f'validate.metrics.{name}')
            for name, cfg in (metrics_cfg or {}).items()}


def _merge_across_ranks(metrics, world_size):
    if world_size > 1:
        for metric in metrics.values():
            states = []
            dist.all_gather_object(states, metric.state())
            metric.merge(states)


def _frame_name(key, suffix):
    clip, _, frame = key.rpartition('/')
    return clip or 'images', f'{frame}{suffix}.png'


def evaluate(restore, loader, metrics, min_max=(0., 1.), save_dir=None, suffix='',
             rank=0, world_size=1, desc='validate'):
    """Score ``restore(lq)`` against GT over ``loader``.

    Args:
        restore: callable (b, t, c, h, w) tensor -> (b, c, H, W) tensor.
        loader: evaluation loader yielding dicts with 'lq', 'gt', 'key'.
        metrics: {name: metric}; reset here, filled, merged across ranks.
        min_max: value range of the tensors (config ``min_max``).
        save_dir: when set, restored frames are written to save_dir/<clip>/<frame><suffix>.png;
            they are not needed for the scores, so a full disk warns once and stops the saving.

    Returns:
        {name: mean over all frames} and, under 'per_clip', {name: {clip: mean}}.
    """
    for metric in metrics.values():
        metric.reset()
    for batch in tqdm(loader, desc=desc, disable=rank != 0, leave=False):
        output = restore(batch['lq'])
        for i, key in enumerate(batch['key']):
            pred = tensor2img(output[i], min_max)
            gt = tensor2img(batch['gt'][i], min_max)
            for metric in metrics.values():
                metric.update(pred, gt, key=key)
            if save_dir:
                path = os.path.join(save_dir, *_frame_name(key, suffix))
                if not written_unless_disk_full(write_image, path, pred):
                    get_logger().warning(f'{path}: no space left on device; the restored frames '
                                         f'of this evaluation are not saved, the scores are')
                    save_dir = None
    _merge_across_ranks(metrics, world_size)
    result = {name: metric.accumulate() for name, metric in metrics.items()}
    result['per_clip'] = {name: metric.per_clip() for name, metric in metrics.items()}
    return result


def upscale_center(scale, min_max=(0., 1.)):
    """A restore function: MATLAB-style bicubic upscale of the centre LQ frame (the baseline)."""
    low, high = min_max

    def restore(lq):
        frames = lq[:, lq.shape[1] // 2].numpy()
        out = []
        for frame in frames:
            img = tensor2img(frame, min_max)
            up = imresize(img, scale) if scale != 1 else img
            out.append(up.transpose(2, 0, 1).astype(np.float32) / 255. * (high - low) + low)
        return paddle.to_tensor(np.stack(out))
    return restore
