# SPDX-License-Identifier: Apache-2.0
import os

import numpy as np
import pytest

from edvr.prepare.demo import (demo_is_complete, ensure_demo_dataset, make_demo_dataset,
                                train_clip_names)
from edvr.datasets.image_io import read_image
from edvr.datasets.reds import VSRREDSDataset
from edvr.errors import DataError
from edvr.utils.imresize import imresize

TINY = dict(num_train_clips=2, num_frames=6, num_test_frames=5, gt_size=(32, 48),
            held_out=('000', '011'), seed=3)


def frame(root, folder, clip, i):
    return read_image(os.path.join(root, folder, 'X4', clip, f'{i:08d}.png'))


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo'))
    info = make_demo_dataset(root, **TINY)
    assert info['train_clips'] == ['001', '002'] and info['test_clips'] == ['000', '011']
    assert info['gt_size'] == (32, 48) and info['lq_size'] == (8, 12)
    return root


def test_layout_and_meta(demo_root):
    for folder, clips, count in (('train_sharp', ['001', '002'], 6),
                                 ('train_sharp_bicubic', ['001', '002'], 6),
                                 ('REDS4_test_sharp', ['000', '011'], 5),
                                 ('REDS4_test_sharp_bicubic', ['000', '011'], 5)):
        assert sorted(os.listdir(os.path.join(demo_root, folder, 'X4'))) == clips
        for clip in clips:
            names = sorted(os.listdir(os.path.join(demo_root, folder, 'X4', clip)))
            assert names == [f'{i:08d}.png' for i in range(count)]
    with open(os.path.join(demo_root, 'meta_info_REDS_GT.txt')) as f:
        lines = f.read().splitlines()
    assert len(lines) == 2 * 5 + 2 * 6
    assert lines[0] == '000/00000000.png (32, 48, 3)'
    assert lines[-1] == '011/00000004.png (32, 48, 3)'
    assert frame(demo_root, 'train_sharp', '001', 0).shape == (32, 48, 3)
    assert frame(demo_root, 'train_sharp_bicubic', '001', 0).shape == (8, 12, 3)
    assert demo_is_complete(demo_root, **TINY)


def test_lq_is_the_matlab_bicubic_downscale_of_gt(demo_root):
    gt = frame(demo_root, 'REDS4_test_sharp', '000', 2)
    lq = frame(demo_root, 'REDS4_test_sharp_bicubic', '000', 2)
    np.testing.assert_array_equal(lq, imresize(gt, 1 / 4))


def test_frames_move_and_held_out_content_is_distinct(demo_root):
    clip = [frame(demo_root, 'train_sharp', '001', i).astype(float) for i in range(6)]
    steps = [np.abs(clip[i + 1] - clip[i]).mean() for i in range(5)]
    assert all(0.3 < s < 40 for s in steps)  # every frame moves, smoothly
    train = [frame(demo_root, 'train_sharp', c, i).astype(float)
             for c in ('001', '002') for i in range(6)]
    for held in ('000', '011'):
        test0 = frame(demo_root, 'REDS4_test_sharp', held, 0).astype(float)
        assert min(np.abs(test0 - t).mean() for t in train) > 2 * max(steps)


def test_reds_dataset_picks_the_held_out_clips(demo_root):
    def build(split, test_mode):
        lq, gt = {'train': ('train_sharp_bicubic', 'train_sharp'),
                  'test': ('REDS4_test_sharp_bicubic', 'REDS4_test_sharp')}[split]
        return VSRREDSDataset(os.path.join(demo_root, lq, 'X4'), os.path.join(demo_root, gt, 'X4'),
                              os.path.join(demo_root, 'meta_info_REDS_GT.txt'), 5,
                              [{'name': 'GetFrameIdxwithPadding', 'padding': 'reflection_circle'},
                               {'name': 'ReadImageSequence', 'key': 'lq'}],
                              val_partition='REDS4', test_mode=test_mode)
    test = build('test', True)
    assert sorted({i['clip'] for i in test.data_infos}) == ['000', '011'] and len(test) == 10
    train = build('train', False)
    assert sorted({i['clip'] for i in train.data_infos}) == ['001', '002'] and len(train) == 12
    assert test[4]['lq'].shape == (5, 8, 12, 3)


def test_reuse_rebuild_and_determinism(tmp_path, demo_root):
    root = str(tmp_path / 'again')
    ensure_demo_dataset(root, **TINY)
    probe = os.path.join(root, 'train_sharp', 'X4', '002', '00000003.png')
    with open(probe, 'rb') as f, open(probe.replace(root, demo_root), 'rb') as g:
        assert f.read() == g.read()  # same seed, same bytes
    stamp = os.stat(probe).st_mtime_ns
    ensure_demo_dataset(root, **TINY)
    assert os.stat(probe).st_mtime_ns == stamp  # complete: reused
    os.remove(os.path.join(root, 'DONE'))  # half-built: rebuilt
    assert not demo_is_complete(root, **TINY)
    ensure_demo_dataset(root, **TINY)
    assert demo_is_complete(root, **TINY) and os.stat(probe).st_mtime_ns != stamp
    assert not demo_is_complete(root, **dict(TINY, seed=4))


def test_refuses_foreign_folders_and_skips_reds4_train_names(tmp_path):
    os.makedirs(tmp_path / 'train_sharp')
    with pytest.raises(DataError, match='not made by the demo builder'):
        make_demo_dataset(str(tmp_path), **TINY)
    assert train_clip_names(12)[9:] == ['010', '012', '013']
