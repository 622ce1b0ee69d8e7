# SPDX-License-Identifier: Apache-2.0
"""PSNR/SSIM on pairs with known values, tensor2img rounding, keyed merging."""
import math

import numpy as np
import paddle
import pytest
from skimage.metrics import structural_similarity

from edvr.evaluation import evaluate
from edvr.errors import ConfigError
from edvr.metrics import PSNR, SSIM, psnr, ssim, tensor2img, to_y_channel
from edvr.registry import METRICS, build_from_config


def _smooth_rgb(seed, h=40, w=48):
    """A uint8 RGB image with structure (smooth ramps plus noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([100 + 80 * np.sin(xx / 5.), 120 + 60 * np.cos(yy / 7.),
                     60 + xx + yy], axis=-1)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).round().astype(np.uint8)


def test_psnr_constant_offset_known_value():
    img = np.random.default_rng(0).integers(0, 246, (32, 40, 3)).astype(np.uint8)
    assert psnr(img + 10, img) == pytest.approx(20 * math.log10(255 / 10), abs=1e-12)
    # Y channel: an offset of 10 on R, G, B moves Y by 10 * 219 / 255.
    expected_y = 20 * math.log10(255 / (10 * 219 / 255))
    assert psnr(img + 10, img, test_y_channel=True) == pytest.approx(expected_y, abs=1e-9)


def test_psnr_identical_is_inf_and_mean_is_inf():
    img = _smooth_rgb(1)
    assert psnr(img, img) == math.inf
    metric = PSNR(crop_border=0)
    metric.update(img, img, 'a/0')
    metric.update(img, img.astype(np.float64) + 1, 'a/1')
    assert metric.accumulate() == math.inf


def test_y_channel_matches_matlab_rgb2ycbcr():
    pixels = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]],
                      np.uint8)
    y = to_y_channel(pixels)[0, :, 0]
    np.testing.assert_allclose(y, [235., 16., 81.481, 144.553, 40.966], atol=1e-9)


def test_crop_border_drops_edge_pixels():
    gt = _smooth_rgb(2).astype(np.float64)
    pred = gt.copy()
    pred[:3] += 50.          # damage only the top 3 rows
    assert psnr(pred, gt, crop_border=3) == math.inf
    assert psnr(pred, gt, crop_border=2) == pytest.approx(
        10 * math.log10(255 ** 2 / (50 ** 2 * 44 / (36 * 44))), abs=1e-9)
    assert ssim(pred, gt, crop_border=3) == pytest.approx(1.0, abs=1e-12)
    assert ssim(pred, gt, crop_border=0) < 0.99


def test_chw_order_equals_hwc():
    a, b = _smooth_rgb(3), _smooth_rgb(4)
    chw = dict(input_order='CHW')
    assert psnr(a.transpose(2, 0, 1), b.transpose(2, 0, 1), **chw) == psnr(a, b)
    assert ssim(a.transpose(2, 0, 1), b.transpose(2, 0, 1), **chw) == pytest.approx(ssim(a, b))


def test_ssim_identical_is_one():
    img = _smooth_rgb(5)
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-12)
    assert ssim(img, img, test_y_channel=True) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize('crop', [0, 4])
def test_ssim_matches_skimage_gaussian(crop):
    # skimage with these options filters with the same 11x11 (truncate 3.5 ->
    # radius 5) sigma 1.5 Gaussian, the same C1/C2 for data_range 255, and
    # averages over the interior 5 pixels away from each edge: the 'valid'
    # region. Channels are averaged with channel_axis.
    a, b = _smooth_rgb(6), _smooth_rgb(7)
    sk = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    c = slice(crop, a.shape[0] - crop), slice(crop, a.shape[1] - crop)
    a64, b64 = a.astype(np.float64)[c], b.astype(np.float64)[c]
    ref_rgb = structural_similarity(a64, b64, channel_axis=-1, **sk)
    ref_y = structural_similarity(to_y_channel(a64)[..., 0], to_y_channel(b64)[..., 0], **sk)
    assert 0.2 < ref_rgb < 0.95
    assert ssim(a, b, crop_border=crop) == pytest.approx(ref_rgb, abs=1e-4)
    assert ssim(a, b, crop_border=crop, test_y_channel=True) == pytest.approx(ref_y, abs=1e-4)
    assert abs(ssim(a, b, crop_border=crop) - ref_rgb) < 1e-8  # in fact equal


def test_tensor2img_clips_scales_and_rounds_half_to_even():
    chw = np.array([[[0., 0.4 / 255, 0.6 / 255, 0.5, -0.2, 1.3, 1.0]]], np.float32)
    out = tensor2img(np.repeat(chw, 3, axis=0))
    assert out.dtype == np.uint8 and out.shape == (1, 7, 3)
    np.testing.assert_array_equal(out[0, :, 0], [0, 0, 1, 128, 0, 255, 255])
    # A paddle tensor, a one-channel image (repeated to RGB) and min_max (-1, 1).
    gray = paddle.to_tensor([[[-1., 0., 1.]]])
    np.testing.assert_array_equal(tensor2img(gray, (-1., 1.))[0], [[0] * 3, [128] * 3, [255] * 3])


def test_tensor2img_keeps_channel_order_and_float32_arithmetic():
    rng = np.random.default_rng(8)
    chw = rng.uniform(-0.1, 1.1, (3, 5, 6)).astype(np.float32)
    expected = np.round((np.clip(chw, 0, 1) - np.float32(0)) / np.float32(1) * np.float32(255))
    np.testing.assert_array_equal(tensor2img(paddle.to_tensor(chw)),
                                  expected.transpose(1, 2, 0).astype(np.uint8))


def _filled_metric(cls, frames):
    metric = cls(crop_border=0)
    for key, pred, gt in frames:
        metric.update(pred, gt, key)
    return metric


def _frames():
    gt = _smooth_rgb(9)
    out = []
    for clip, offsets in (('000', (2, 4, 8)), ('011', (16, 32))):
        for i, off in enumerate(offsets):
            out.append((f'{clip}/{i:08d}', np.clip(gt.astype(int) + off, 0, 255), gt))
    return out


def test_per_clip_and_overall_mean():
    frames = _frames()
    metric = _filled_metric(PSNR, frames)
    values = [psnr(p, g) for _, p, g in frames]
    assert metric.accumulate() == pytest.approx(np.mean(values), abs=1e-12)
    per_clip = metric.per_clip()
    assert list(per_clip) == ['000', '011']
    assert per_clip['000'] == pytest.approx(np.mean(values[:3]), abs=1e-12)
    assert per_clip['011'] == pytest.approx(np.mean(values[3:]), abs=1e-12)
    metric.reset()
    assert metric.accumulate() == 0.0 and metric.per_clip() == {}


@pytest.mark.parametrize('cls', [PSNR, SSIM])
def test_merge_of_rank_halves_equals_single_process(cls):
    frames = _frames()
    whole = _filled_metric(cls, frames)
    # Strided split as a distributed sampler does, with rank 1 padded by a
    # repeat of frame 0 (a duplicate that must count once).
    rank0 = _filled_metric(cls, frames[0::2])
    rank1 = _filled_metric(cls, frames[1::2] + frames[:1])
    for metric in (rank0, rank1):
        metric.merge([rank0.state(), rank1.state()])
        assert metric.accumulate() == whole.accumulate()      # exactly
        assert metric.per_clip() == whole.per_clip()
    assert len(rank0.state()) == len(frames)


def test_built_from_paddlegan_config_and_bad_args():
    metric = build_from_config({'name': 'SSIM', 'crop_border': 0, 'test_y_channel': False},
                               METRICS, 'validate.metrics.ssim')
    assert isinstance(metric, SSIM) and 'PSNR' in METRICS
    with pytest.raises(ConfigError, match='crop_border'):
        PSNR(crop_border=-1)
    with pytest.raises(ConfigError, match='input_order'):
        PSNR(crop_border=0, input_order='NHWC')
    with pytest.raises(ConfigError, match='validate.metrics.psnr.crop_bordr'):
        build_from_config({'name': 'PSNR', 'crop_bordr': 0}, METRICS, 'validate.metrics.psnr')
    with pytest.raises(ValueError, match='shapes differ'):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))


def test_vimeo_clips_sharing_a_first_folder_stay_apart():
    """Vimeo keys 'seq/sub/imN': '00001/0001' and '00001/0002' are two clips in evaluate()."""
    keys = ['00001/0001/im4', '00001/0002/im4', '00002/0001/im4']
    offsets = [2, 5, 9]   # a constant error per clip: PSNR = 20 log10(255 / offset)
    lq = np.full((3, 3, 3, 4, 6), 100 / 255., np.float32)
    gt = np.stack([np.full((3, 4, 6), (100 + o) / 255., np.float32) for o in offsets])
    loader = [{'lq': paddle.to_tensor(lq[:2]), 'gt': paddle.to_tensor(gt[:2]), 'key': keys[:2]},
              {'lq': paddle.to_tensor(lq[2:]), 'gt': paddle.to_tensor(gt[2:]), 'key': keys[2:]}]
    result = evaluate(lambda frames: frames[:, 1], loader, {'psnr': PSNR(crop_border=0)})
    expected = [20 * math.log10(255. / o) for o in offsets]
    assert result['per_clip']['psnr'] == {
        '00001/0001': pytest.approx(expected[0], abs=1e-9),
        '00001/0002': pytest.approx(expected[1], abs=1e-9),
        '00002/0001': pytest.approx(expected[2], abs=1e-9)}
    assert result['psnr'] == pytest.approx(np.mean(expected), abs=1e-9)
