# SPDX-License-Identifier: Apache-2.0
"""Validation scores with a config ``min_max`` other than (0, 1): output and GT map alike."""
import math

import numpy as np
import paddle
import pytest

from edvr.evaluation import build_metrics, evaluate

PSNR = {'psnr': {'name': 'PSNR', 'crop_border': 0, 'test_y_channel': False}}


def constant_batch(gt_value, lq_value, min_max):
    """One 3-frame window of 12x12 frames: GT all ``gt_value``, LQ all ``lq_value``."""
    gt = np.full((1, 3, 12, 12), gt_value, 'float32')
    lq = np.full((1, 3, 3, 12, 12), lq_value, 'float32')
    return [{'lq': paddle.to_tensor(lq), 'gt': paddle.to_tensor(gt), 'key': ['000/00000000']}]


def restore_center(lq):
    return lq[:, lq.shape[1] // 2]


@pytest.mark.parametrize('min_max', [(-1., 1.), (0., 255.)])
def test_psnr_with_another_value_range_maps_gt_and_output_alike(min_max):
    low, high = min_max
    # GT at the middle of the range (127.5 -> 128), output at three quarters (191.25 -> 191)
    gt_value, out_value = low + 0.5 * (high - low), low + 0.75 * (high - low)
    result = evaluate(restore_center, constant_batch(gt_value, out_value, min_max),
                      build_metrics(PSNR), min_max)
    assert result['psnr'] == pytest.approx(20 * math.log10(255. / 63.), abs=1e-9)
    same = evaluate(restore_center, constant_batch(gt_value, gt_value, min_max),
                    build_metrics(PSNR), min_max)
    assert same['psnr'] == float('inf')
