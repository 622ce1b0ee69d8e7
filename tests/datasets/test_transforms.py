# SPDX-License-Identifier: Apache-2.0
import numpy as np
import pytest

from edvr.datasets.transforms import (NormalizeSequence, PairedRandomHorizontalFlip,
                                      PairedRandomTransposeHW, PairedRandomVerticalFlip,
                                      SRPairedRandomCrop, Transforms, TransposeSequence)
from edvr.errors import ConfigError, DataError

TRAIN_PIPELINE = [
    {'name': 'SRPairedRandomCrop', 'gt_patch_size': 16, 'scale': 4, 'keys': ['image', 'image']},
    {'name': 'PairedRandomHorizontalFlip', 'keys': ['image', 'image']},
    {'name': 'PairedRandomVerticalFlip', 'keys': ['image', 'image']},
    {'name': 'PairedRandomTransposeHW', 'keys': ['image', 'image']},
    {'name': 'TransposeSequence', 'keys': ['image', 'image']},
    {'name': 'NormalizeSequence', 'mean': [0., 0., 0.], 'std': [255., 255., 255.],
     'keys': ['image', 'image']},
]


def random_gt(seed, t=3, h=40, w=48):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(t)]


def block_mean(frame, s=4):
    h, w, c = frame.shape
    return frame.reshape(h // s, s, w // s, s, c).astype(np.float64).mean(axis=(1, 3))


def test_crop_lines_up_lq_and_gt_pixel_for_pixel():
    gt = random_gt(0)
    lq = [f[::4, ::4] for f in gt]  # exact 4x nearest decimation
    crop = SRPairedRandomCrop(scale=4, gt_patch_size=16)
    corners = set()
    for seed in range(40):
        lq_c, gt_c = crop((lq, gt), np.random.default_rng(seed))
        assert all(l.shape == (4, 4, 3) for l in lq_c) and all(g.shape == (16, 16, 3) for g in gt_c)
        for l, g in zip(lq_c, gt_c):
            np.testing.assert_array_equal(l, g[::4, ::4])
        corners.add(gt_c[0][0, 0].tobytes())
    assert len(corners) > 10


def test_crop_single_frames_and_positions():
    gt = np.arange(32 * 32 * 3, dtype=np.int64).reshape(32, 32, 3)
    lq = gt[::4, ::4]
    crop = SRPairedRandomCrop(scale=4, gt_patch_size=8)
    seen = set()
    for seed in range(60):
        lq_c, gt_c = crop((lq, gt), np.random.default_rng(seed))
        top, left = divmod(int(gt_c[0, 0, 0]) // 3, 32)
        assert top % 4 == 0 and left % 4 == 0
        np.testing.assert_array_equal(gt_c, gt[top:top + 8, left:left + 8])
        np.testing.assert_array_equal(lq_c, lq[top // 4:top // 4 + 2, left // 4:left // 4 + 2])
        seen.add((top, left))
    positions = set(range(0, 25, 4))
    assert {t for t, _ in seen} == positions and {x for _, x in seen} == positions


def test_full_pipeline_keeps_lq_and_gt_aligned():
    """Block-mean LQ commutes with aligned crops, flips and transposes."""
    transforms = Transforms(TRAIN_PIPELINE, input_keys=['lq', 'gt'])
    for seed in range(32):
        gt = random_gt(seed, t=5)
        lq = [block_mean(f) for f in gt]
        res = transforms({'lq': lq, 'gt': gt, 'rng': np.random.default_rng(seed)})
        assert res['lq'].shape == (5, 3, 4, 4) and res['gt'].shape == (5, 3, 16, 16)
        assert res['lq'].dtype == np.float32 and res['gt'].dtype == np.float32
        for lq_t, gt_t in zip(res['lq'], res['gt']):
            expected = block_mean(gt_t.transpose(1, 2, 0).astype(np.float64) * 255)
            np.testing.assert_allclose(lq_t.transpose(1, 2, 0) * 255, expected, atol=1e-3)


def test_pipeline_produces_exactly_the_eight_flip_transpose_variants():
    gt = random_gt(9, t=1, h=16, w=16)[0]
    variants = set()
    for f in (gt, gt.transpose(1, 0, 2)):
        for g in (f, f[::-1]):
            variants.update({g.tobytes(), g[:, ::-1].tobytes()})
    assert len(variants) == 8
    transforms = Transforms(TRAIN_PIPELINE[:4], input_keys=['lq', 'gt'])
    seen = set()
    for seed in range(64):
        res = transforms({'lq': [block_mean(gt)], 'gt': [gt], 'rng': np.random.default_rng(seed)})
        seen.add(np.ascontiguousarray(res['gt'][0]).tobytes())
    assert seen == variants


@pytest.mark.parametrize('cls,expected', [
    (PairedRandomHorizontalFlip, lambda f: f[:, ::-1]),
    (PairedRandomVerticalFlip, lambda f: f[::-1]),
    (PairedRandomTransposeHW, lambda f: f.transpose(1, 0, 2)),
])
def test_flips_are_applied_identically(cls, expected):
    frames = random_gt(3, t=2, h=6, w=6)
    gt = random_gt(4, t=1, h=6, w=6)[0]
    applied = 0
    for seed in range(40):
        lq_out, gt_out = cls(prob=0.5)((frames, gt), np.random.default_rng(seed))
        did = not np.array_equal(gt_out, gt)
        if did:
            applied += 1
            np.testing.assert_array_equal(gt_out, expected(gt))
        for f, o in zip(frames, lq_out):
            np.testing.assert_array_equal(o, expected(f) if did else f)
    assert 8 < applied < 32
    always = cls(prob=1.0)((frames, gt), np.random.default_rng(0))
    np.testing.assert_array_equal(always[1], expected(gt))
    never = cls(prob=0.0)((frames, gt), np.random.default_rng(0))
    np.testing.assert_array_equal(never[1], gt)


def test_transpose_and_normalize_sequence_values():
    frames = [np.full((2, 3, 3), [10, 20, 30], np.uint8),
              np.full((2, 3, 3), [40, 50, 60], np.uint8)]
    (seq,) = TransposeSequence()((frames,), None)
    assert seq.shape == (2, 3, 2, 3) and seq.dtype == np.uint8
    assert seq[1, :, 0, 0].tolist() == [40, 50, 60]
    (norm,) = NormalizeSequence(mean=[10., 20., 30.], std=[2., 4., 5.])((seq,), None)
    assert norm.dtype == np.float32
    np.testing.assert_allclose(norm[0, :, 1, 2], [0, 0, 0])
    np.testing.assert_allclose(norm[1, :, 0, 0], [15, 7.5, 6])
    (hwc,) = NormalizeSequence(mean=1., std=2., data_format='HWC')((frames,), None)
    assert hwc.shape == (2, 2, 3, 3) and hwc[0, 0, 0].tolist() == [4.5, 9.5, 14.5]
    (single,) = TransposeSequence()((np.zeros((4, 5)),), None)
    assert single.shape == (1, 4, 5)


def test_normalize_to_rgb_reverses_the_channel_axis_only():
    """to_rgb=True: channel k of the output is normalised input channel 2-k; t, h, w untouched."""
    t, c, h, w = np.indices((2, 3, 4, 5))
    chw = (50 * c + 7 * t + 3 * h + w).astype(np.float32)            # every value distinct
    mean, std = np.array([1., 2., 3.]), np.array([1., 2., 4.])
    normalised = (chw - mean[:, None, None]) / std[:, None, None]
    (out,) = NormalizeSequence(mean=mean, std=std, to_rgb=True)((chw,), None)
    assert out.shape == (2, 3, 4, 5)
    for k in range(3):
        np.testing.assert_array_equal(out[:, k], normalised[:, 2 - k])
    (one,) = NormalizeSequence(mean=mean, std=std, to_rgb=True)((chw[1],), None)
    np.testing.assert_array_equal(one, normalised[1, ::-1])
    hwc = list(chw.transpose(0, 2, 3, 1))                           # two (h, w, c) frames
    (out,) = NormalizeSequence(mean=mean, std=std, data_format='HWC', to_rgb=True)((hwc,), None)
    assert out.shape == (2, 4, 5, 3)
    np.testing.assert_array_equal(out, normalised.transpose(0, 2, 3, 1)[..., ::-1])


def test_transforms_output_keys_and_builder_errors():
    res = Transforms([{'name': 'TransposeSequence'}], input_keys=['lq'], output_keys=['lq_chw'])(
        {'lq': [np.zeros((2, 3, 3))], 'rng': np.random.default_rng(0)})
    assert res['lq_chw'].shape == (1, 3, 2, 3) and isinstance(res['lq'], list)
    with pytest.raises(ConfigError, match='did you mean SRPairedRandomCrop'):
        Transforms([{'name': 'SRPairedRandomCropp', 'scale': 4, 'gt_patch_size': 8}], ['lq', 'gt'])
    with pytest.raises(ConfigError, match='divisible'):
        SRPairedRandomCrop(scale=4, gt_patch_size=10)


def test_crop_size_mismatch_names_the_file_and_sizes():
    transforms = Transforms([TRAIN_PIPELINE[0]], input_keys=['lq', 'gt'])
    results = {'lq': [np.zeros((8, 8, 3))] * 3, 'gt': [np.zeros((30, 32, 3))],
               'lq_path': ['a/0.png', 'a/1.png', 'a/2.png'], 'gt_path': ['g/1.png'],
               'rng': np.random.default_rng(0)}
    with pytest.raises(DataError, match=r'a/1\.png.*g/1\.png.*8x8.*32x32.*30x32'):
        transforms(results)
    results.update(lq=[np.zeros((3, 3, 3))] * 3, gt=[np.zeros((12, 12, 3))])
    with pytest.raises(DataError, match='smaller than the 4x4 patch'):
        transforms(results)
