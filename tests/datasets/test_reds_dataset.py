# SPDX-License-Identifier: Apache-2.0
import os

import numpy as np
import pytest
from tests.datasets.vsr_fixtures import make_reds_tree, write_meta

from edvr.datasets.reds import VSRREDSDataset, read_meta_info
from edvr.datasets.repeat import RepeatDataset
from edvr.errors import ConfigError, DataError
from edvr.registry import DATASETS, build_from_config

TEST_OPS = [
    {'name': 'GetFrameIdxwithPadding', 'padding': 'reflection_circle'},
    {'name': 'ReadImageSequence', 'key': 'lq'},
    {'name': 'ReadImageSequence', 'key': 'gt'},
    {'name': 'Transforms', 'input_keys': ['lq', 'gt'], 'pipeline': [
        {'name': 'TransposeSequence', 'keys': ['image', 'image']},
        {'name': 'NormalizeSequence', 'mean': [0., 0., 0.], 'std': [255., 255., 255.],
         'keys': ['image', 'image']}]},
]
TRAIN_OPS = [
    {'name': 'GetFrameIdx', 'interval_list': [1], 'frames_per_clip': 99},
    {'name': 'ReadImageSequence', 'key': 'lq'},
    {'name': 'ReadImageSequence', 'key': 'gt'},
    {'name': 'Transforms', 'input_keys': ['lq', 'gt'], 'pipeline': [
        {'name': 'SRPairedRandomCrop', 'gt_patch_size': 8, 'scale': 4, 'keys': ['image', 'image']},
        {'name': 'PairedRandomHorizontalFlip', 'keys': ['image', 'image']},
        {'name': 'TransposeSequence', 'keys': ['image', 'image']},
        {'name': 'NormalizeSequence', 'mean': [0., 0., 0.], 'std': [255., 255., 255.],
         'keys': ['image', 'image']}]},
]


def reds(tree, test_mode, ops=None, **kw):
    lq, gt, meta = tree
    args = dict(lq_folder=lq, gt_folder=gt, ann_file=meta, num_frames=5, test_mode=test_mode,
                preprocess=ops if ops is not None else (TEST_OPS if test_mode else TRAIN_OPS))
    args.update(kw)
    return VSRREDSDataset(**args)


def frames_read(sample):
    """Frame indices and clip numbers a sample read (encoded in its pixels)."""
    lq = np.rint(sample['lq'][:, :2, 0, 0] * 255).astype(int)
    return lq[:, 0].tolist(), set(lq[:, 1].tolist())


def test_reds4_test_mode_picks_exactly_the_reds4_clips(reds_tree):
    ds = reds(reds_tree, test_mode=True)
    assert sorted({info['clip'] for info in ds.data_infos}) == ['000', '011', '015', '020']
    assert len(ds) == 4 * 7
    assert ds.data_infos[0]['key'] == '000/00000000' and ds.data_infos[0]['max_frame_num'] == 7


def test_train_mode_picks_the_other_clips(reds_tree):
    ds = reds(reds_tree, test_mode=False)
    assert sorted({info['clip'] for info in ds.data_infos}) == ['001', '002', '240']
    assert len(ds) == 3 * 7


def test_official_partition(reds_tree):
    test = reds(reds_tree, True, val_partition='official')
    assert {i['clip'] for i in test.data_infos} == {'240'}
    train = reds(reds_tree, False, val_partition='official')
    assert {i['clip'] for i in train.data_infos} == {'000', '001', '002', '011', '015', '020'}


def test_test_sample_reads_the_padded_window(reds_tree):
    ds = reds(reds_tree, test_mode=True)
    sample = ds[0]
    assert sample['lq'].shape == (5, 3, 4, 4) and sample['lq'].dtype == np.float32
    assert sample['gt'].shape == (3, 16, 16) and sample['gt'].dtype == np.float32
    assert frames_read(sample) == ([4, 3, 0, 1, 2], {0})
    assert sample['key'] == '000/00000000' and sample['clip'] == '000'
    assert sample['lq_path'].endswith(os.path.join('000', '00000000.png'))
    assert sample['gt_path'].endswith(os.path.join('000', '00000000.png'))
    assert 'rng' not in sample and not any(isinstance(v, list) for v in sample.values())
    last = ds[6]
    assert frames_read(last) == ([4, 5, 6, 3, 2], {0})
    assert np.allclose(last['gt'][0] * 255, 6) and np.allclose(last['gt'][2] * 255, 7)
    assert frames_read(ds[7 + 3])[1] == {11}


def test_train_sample_is_reproducible_from_index_and_seed(reds_tree):
    ds = reds(reds_tree, test_mode=False)
    a, b = ds[(0, 1234)], ds[(0, 1234)]
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray) else a[k] == b[k]
    assert a['lq'].shape == (5, 3, 2, 2) and a['gt'].shape == (3, 8, 8)
    centre, clips = frames_read(a)
    assert clips == {1} and a['key'] == f'001/{centre[2]:08d}'
    assert np.allclose(a['gt'][0] * 255, centre[2])
    # Frame 0 cannot be a centre: it is redrawn among 2, 3, 4, differently per seed.
    windows = {tuple(frames_read(ds[(0, s)])[0]) for s in range(30)}
    assert windows == {(0, 1, 2, 3, 4), (1, 2, 3, 4, 5), (2, 3, 4, 5, 6)}


def test_per_clip_meta_format_gives_the_same_samples(tmp_path, reds_tree):
    lq, gt, meta = reds_tree
    per_clip = str(tmp_path / 'per_clip.txt')
    clips = ['000', '001', '002', '011', '015', '020', '240']
    write_meta(per_clip, clips, 7, (16, 16), per_clip=True)
    assert read_meta_info(per_clip) == read_meta_info(meta)
    assert list(read_meta_info(meta)['011']) == [f'{i:08d}' for i in range(7)]
    for mode in (True, False):
        assert reds((lq, gt, per_clip), mode).data_infos == reds(reds_tree, mode).data_infos


def test_bad_meta_line_names_file_and_line(tmp_path, reds_tree):
    lq, gt, _ = reds_tree
    meta = tmp_path / 'bad.txt'
    meta.write_text('000/00000000.png (16, 16, 3)\nthis is not a meta line\n')
    with pytest.raises(DataError, match=r'bad\.txt:2'):
        reds((lq, gt, str(meta)), True)


def test_missing_folders_and_ann_file_are_named(tmp_path, reds_tree):
    lq, gt, meta = reds_tree
    with pytest.raises(DataError, match='nowhere_lq: dataset folder not found'):
        reds((str(tmp_path / 'nowhere_lq'), gt, meta), True)
    with pytest.raises(DataError, match=r'nometa\.txt: meta-info'):
        reds((lq, gt, str(tmp_path / 'nometa.txt')), True)
    os.rename(os.path.join(gt, '015'), os.path.join(gt, 'x015'))
    with pytest.raises(DataError, match=r'015: clip folder not found'):
        reds(reds_tree, True)


def test_missing_and_corrupt_frames_are_named(reds_tree):
    lq, _, _ = reds_tree
    ds = reds(reds_tree, test_mode=True)
    os.remove(os.path.join(lq, '000', '00000003.png'))
    with pytest.raises(DataError, match=r'000/00000003\.png: frame not found'):
        ds[0]
    with open(os.path.join(lq, '000', '00000004.png'), 'wb') as f:
        f.write(b'garbage')
    with pytest.raises(DataError, match=r'000/00000004\.png: cannot decode'):
        ds[6]


def test_lq_size_mismatch_names_file_and_sizes(tmp_path):
    tree = make_reds_tree(str(tmp_path), ['001'], gt_hw=(16, 16), scale=2)  # LQ 8x8, not 4x4
    ds = reds(tree, test_mode=False)
    with pytest.raises(DataError, match=r'001/0000000\d\.png.*LQ size 8x8 times scale 4 is 32x32, '
                                        r'but GT size is 16x16'):
        ds[(0, 0)]


def test_short_clip_and_even_num_frames(tmp_path):
    tree = make_reds_tree(str(tmp_path), ['001', '002'], num_frames=4)
    with pytest.raises(DataError, match='clip 001: 4 frames are too few for num_frames=5'):
        reds(tree, test_mode=False)
    ds = reds(tree, test_mode=False, num_frames=3,
              ops=[{'name': 'GetFrameIdx', 'interval_list': [2]}])
    with pytest.raises(DataError, match='clip 001: 4 frames .* num_frames=3 with interval 2'):
        ds[(0, 0)]
    with pytest.raises(ConfigError, match='num_frames: expected an odd number, got 4'):
        reds(tree, test_mode=False, num_frames=4)
    with pytest.raises(ConfigError, match='val_partition'):
        reds(tree, test_mode=False, val_partition='REDS5')


def test_repeat_dataset_maps_index_and_seed(reds_tree):
    lq, gt, meta = reds_tree
    inner_cfg = dict(name='VSRREDSDataset', lq_folder=lq, gt_folder=gt, ann_file=meta,
                     num_frames=5, preprocess=TRAIN_OPS, test_mode=False)
    rep = build_from_config(dict(name='RepeatDataset', times=3, dataset=inner_cfg), DATASETS)
    assert isinstance(rep, RepeatDataset) and len(rep) == 3 * 21
    inner = rep.dataset
    for index, seed in [(0, 5), (22, 5), (62, 9)]:
        a, b = rep[(index, seed)], inner[(index % 21, seed)]
        assert np.array_equal(a['lq'], b['lq']) and a['key'] == b['key']
    assert rep[40]['clip'] in {'001', '002', '240'}
