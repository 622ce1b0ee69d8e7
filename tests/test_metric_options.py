# SPDX-License-Identifier: Apache-2.0
"""PSNR/SSIM with the non-default options (crop_border > 0, test_y_channel, CHW), through
the metric objects a config builds, against values computed by hand."""
import math
import re

import numpy as np
import pytest

from edvr.errors import ConfigError
from edvr.metrics import PSNR, SSIM, psnr, ssim, tensor2img
from edvr.registry import METRICS, build_from_config

C1 = (0.01 * 255) ** 2
Y_R, Y_G, Y_B = 65.481 / 255, 128.553 / 255, 24.966 / 255   # BT.601 luma per unit of R, G, B


def exactly(message):
    return rf'^{re.escape(message)}$'


def damaged_pair():
    """gt: 12x14 RGB of 100. pred: rows 0-1 +60 on all channels (the 2-pixel border
    only), and R +10 on the interior rows 2-9, columns 2-11 (what crop_border=2 keeps)."""
    gt = np.full((12, 14, 3), 100, np.uint8)
    pred = gt.copy()
    pred[:2] += 60
    pred[2:10, 2:12, 0] += 10
    return pred, gt


def measured(metric, pred, gt):
    value = metric.update(pred, gt, 'clip/00000000')
    assert metric.accumulate() == value
    return value


def test_psnr_object_with_crop_border_and_y_channel():
    pred, gt = damaged_pair()
    cfg = {'name': 'PSNR', 'crop_border': 2, 'test_y_channel': True}
    metric = build_from_config(cfg, METRICS, 'validate.metrics.psnr')
    # only the interior's R offset counts: Y moves by 10 * 65.481 / 255 everywhere
    assert measured(metric, pred, gt) == pytest.approx(20 * math.log10(255 / (10 * Y_R)),
                                                       abs=1e-9)
    rgb = PSNR(crop_border=2)
    assert measured(rgb, pred, gt) == pytest.approx(10 * math.log10(255 ** 2 * 3 / 100), abs=1e-9)
    whole_y = PSNR(crop_border=0, test_y_channel=True)
    mse = (2 * 14 * (60 * (Y_R + Y_G + Y_B)) ** 2 + 8 * 10 * (10 * Y_R) ** 2) / (12 * 14)
    assert measured(whole_y, pred, gt) == pytest.approx(10 * math.log10(255 ** 2 / mse), abs=1e-9)
    chw = PSNR(crop_border=2, test_y_channel=True, input_order='CHW')
    assert measured(chw, pred.transpose(2, 0, 1), gt.transpose(2, 0, 1)) == \
        pytest.approx(20 * math.log10(255 / (10 * Y_R)), abs=1e-9)


def test_psnr_defaults_measure_every_pixel_of_every_channel():
    pred, gt = damaged_pair()
    mse = (2 * 14 * 3 * 60 ** 2 + 8 * 10 * 10 ** 2) / (12 * 14 * 3)
    assert psnr(pred, gt) == pytest.approx(10 * math.log10(255 ** 2 / mse), abs=1e-9)
    assert PSNR(crop_border=0).update(pred, gt) == psnr(pred, gt)


def test_psnr_of_a_mean_squared_error_of_one_is_finite():
    gt = np.random.default_rng(0).integers(0, 255, (8, 9, 3)).astype(np.uint8)
    assert psnr(gt + 1, gt) == pytest.approx(20 * math.log10(255), abs=1e-12)


def test_psnr_and_ssim_of_single_channel_frames():
    gt = np.random.default_rng(1).integers(0, 200, (12, 13)).astype(np.uint8)
    assert psnr(gt + 5, gt) == pytest.approx(20 * math.log10(255 / 5), abs=1e-12)
    assert psnr(gt + 5, gt, test_y_channel=True) == psnr(gt + 5, gt)   # no colour: no Y
    assert ssim(gt + 5, gt) == ssim((gt + 5)[..., None], gt[..., None])


def constant_pair(h, w):
    """gt: black; pred: RGB 10 inside, noise on a 3-pixel border."""
    gt = np.zeros((h, w, 3), np.uint8)
    pred = np.random.default_rng(2).integers(0, 255, (h, w, 3)).astype(np.uint8)
    pred[3:-3, 3:-3] = 10
    return pred, gt


def test_ssim_object_with_crop_border_and_y_channel():
    # Constant images: variances and covariance are 0, so SSIM = (2 m1 m2 + C1) / (m1^2 + m2^2 + C1).
    pred, gt = constant_pair(17, 17)        # cropping 3 leaves 11x11, the smallest allowed
    y_pred, y_gt = 16 + 10 * 219 / 255, 16.
    expected_y = (2 * y_pred * y_gt + C1) / (y_pred ** 2 + y_gt ** 2 + C1)
    metric = SSIM(crop_border=3, test_y_channel=True)
    assert measured(metric, pred, gt) == pytest.approx(expected_y, abs=1e-9)
    assert measured(SSIM(crop_border=3), pred, gt) == pytest.approx(C1 / (100 + C1), abs=1e-9)
    chw = SSIM(crop_border=3, test_y_channel=True, input_order='CHW')
    assert measured(chw, pred.transpose(2, 0, 1), gt.transpose(2, 0, 1)) == \
        pytest.approx(expected_y, abs=1e-9)
    assert ssim(pred, gt) < 0.5              # default: the noisy border counts


def test_ssim_refuses_less_than_11_pixels_after_cropping():
    pred, gt = constant_pair(16, 17)
    with pytest.raises(ValueError, match=exactly(
            'SSIM needs at least 11x11 pixels after cropping, got (10, 11)')):
        SSIM(crop_border=3).update(pred, gt)


def test_refusals_name_the_metric_and_value():
    with pytest.raises(ConfigError, match=exactly(
            'PSNR.crop_border: expected an integer >= 0, got -1')):
        PSNR(crop_border=-1)
    with pytest.raises(ConfigError, match=exactly(
            "SSIM.crop_border: expected an integer >= 0, got '2'")):
        SSIM(crop_border='2')
    with pytest.raises(ConfigError, match=exactly(
            "SSIM.input_order: expected one of ('HWC', 'CHW'), got 'NHWC'")):
        SSIM(crop_border=0, input_order='NHWC')
    with pytest.raises(ValueError, match=exactly(
            "input_order must be one of ('HWC', 'CHW'), got 'HW'")):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)), input_order='HW')
    with pytest.raises(ValueError, match=exactly(
            'image shapes differ: (4, 4, 3) vs (4, 5, 3)')):
        ssim(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))


def test_tensor2img_batch_of_one_and_gray():
    chw = np.linspace(0, 1, 3 * 2 * 4, dtype=np.float32).reshape(3, 2, 4)
    np.testing.assert_array_equal(tensor2img(chw[None]), tensor2img(chw))
    assert tensor2img(chw[None]).shape == (2, 4, 3)
    gray = tensor2img(chw[:1])
    assert gray.shape == (2, 4, 3)
    np.testing.assert_array_equal(gray[..., 2], np.round(chw[0] * 255).astype(np.uint8))
    with pytest.raises(ValueError, match=exactly(
            'tensor2img expects (c, h, w), got shape (2, 3, 2, 4)')):
        tensor2img(np.stack([chw, chw]))


def test_frames_without_keys_are_averaged_and_merged():
    gt = np.full((11, 11, 3), 50, np.uint8)
    values = [20 * math.log10(255 / d) for d in (1, 2, 4)]
    metric = PSNR(crop_border=0)
    assert [metric.update(gt + d, gt) for d in (1, 2, 4)] == pytest.approx(values, abs=1e-12)
    assert [key for key, _ in metric.state()] == [None] * 3
    assert [value for _, value in metric.state()] == pytest.approx(values, abs=1e-12)
    assert metric.accumulate() == pytest.approx(np.mean(values), abs=1e-12)
    other = PSNR(crop_border=0)
    other.merge([metric.state(), metric.state()])     # unkeyed frames are never deduplicated
    assert other.accumulate() == pytest.approx(np.mean(values), abs=1e-12)
    assert len(other.state()) == 6 and other.per_clip() == {}
