# SPDX-License-Identifier: Apache-2.0
import os

import numpy as np
import pytest
from tests.datasets.vsr_fixtures import flat_frame, write_rgb

from edvr.datasets.folder import VSRFolderDataset
from edvr.datasets.vimeo90k import VSRVimeo90KDataset
from edvr.errors import ConfigError, DataError

READ_AND_LAYOUT = [
    {'name': 'ReadImageSequence', 'key': 'lq'},
    {'name': 'ReadImageSequence', 'key': 'gt'},
    {'name': 'Transforms', 'input_keys': ['lq', 'gt'], 'pipeline': [
        {'name': 'TransposeSequence'},
        {'name': 'NormalizeSequence', 'mean': [0., 0., 0.], 'std': [255., 255., 255.]}]},
]


def make_folder_tree(root, clips, name='{:08d}.png'):
    """clips: {clip: frame count}; LQ 4x4, GT 8x8 (x2)."""
    for number, (clip, count) in enumerate(clips.items()):
        for i in range(count):
            write_rgb(os.path.join(root, 'lq', clip, name.format(i)), flat_frame(number, i, (4, 4)))
            write_rgb(os.path.join(root, 'gt', clip, name.format(i)), flat_frame(number, i, (8, 8)))
    return os.path.join(root, 'lq'), os.path.join(root, 'gt')


def read_frames(sample, key='lq'):
    arr = sample[key] if sample[key].ndim == 4 else sample[key][None]
    return np.rint(arr[:, 0, 0, 0] * 255).astype(int).tolist()


def test_folder_default_mode_is_one_sample_per_clip(tmp_path):
    lq, gt = make_folder_tree(str(tmp_path), {'calendar': 6, 'city': 9})
    ops = [{'name': 'GetNeighboringFramesIdx', 'interval_list': [1]}] + READ_AND_LAYOUT
    ds = VSRFolderDataset(lq, gt, ops, num_frames=3, times=2)
    assert len(ds) == 4 and [i['clip'] for i in ds.data_infos] == ['calendar', 'city'] * 2
    assert ds.data_infos[1]['sequence_length'] == 9
    sample = ds[(1, 7)]
    frames = read_frames(sample)
    assert len(frames) == 3 and np.all(np.diff(frames) == 1) and max(frames) <= 8
    assert read_frames(sample, 'gt') == frames and sample['gt'].shape == (3, 3, 8, 8)
    assert sample['clip'] == 'city' and sample['key'] == f'city/{frames[1]:08d}'
    whole = VSRFolderDataset(lq, gt, ops)
    assert read_frames(whole[0]) == [0, 1, 2, 3, 4, 5]


def test_folder_per_frame_mode_pads_every_frame(tmp_path):
    lq, gt = make_folder_tree(str(tmp_path), {'walk': 4}, name='im{}.png')
    ops = [{'name': 'GetFrameIdxwithPadding', 'padding': 'reflection'}] + READ_AND_LAYOUT
    ds = VSRFolderDataset(lq, gt, ops, num_frames=5, per_frame=True)
    assert [i['key'] for i in ds.data_infos] == ['walk/im0', 'walk/im1', 'walk/im2', 'walk/im3']
    assert [read_frames(ds[i]) for i in range(4)] == [
        [2, 1, 0, 1, 2], [1, 0, 1, 2, 3], [0, 1, 2, 3, 2], [1, 2, 3, 2, 1]]
    last = ds[3]
    assert last['gt'].shape == (3, 8, 8) and np.allclose(last['gt'][0] * 255, 3)
    assert last['gt_path'].endswith(os.path.join('walk', 'im3.png'))
    with pytest.raises(ConfigError, match='per_frame needs an odd number'):
        VSRFolderDataset(lq, gt, ops, per_frame=True)


def test_folder_errors(tmp_path):
    lq, gt = make_folder_tree(str(tmp_path), {'a': 3})
    os.remove(os.path.join(gt, 'a', '00000002.png'))
    with pytest.raises(DataError, match='2 GT frames but 3 LQ frames'):
        VSRFolderDataset(lq, gt, [])
    with pytest.raises(DataError, match='nope: dataset folder not found'):
        VSRFolderDataset(str(tmp_path / 'nope'), gt, [])


def make_vimeo(root, seqs):
    for n, seq in enumerate(seqs):
        for i in range(1, 8):
            write_rgb(os.path.join(root, 'lq', seq, f'im{i}.png'), flat_frame(n, i, (4, 4)))
            write_rgb(os.path.join(root, 'gt', seq, f'im{i}.png'), flat_frame(n, i, (16, 16)))
    ann = os.path.join(root, 'ann.txt')
    with open(ann, 'w') as f:
        f.write(f'{seqs[0]}\n{seqs[1]} 7 (16,16,3)\n\n')
    return os.path.join(root, 'lq'), os.path.join(root, 'gt'), ann


@pytest.mark.parametrize('num_frames,expected', [(7, [1, 2, 3, 4, 5, 6, 7]), (5, [2, 3, 4, 5, 6])])
def test_vimeo_windows_around_the_middle_frame(tmp_path, num_frames, expected):
    lq, gt, ann = make_vimeo(str(tmp_path), ['00001/0001', '00001/0002'])
    ds = VSRVimeo90KDataset(lq, gt, ann, READ_AND_LAYOUT, num_frames=num_frames)
    assert len(ds) == 2
    sample = ds[1]
    assert read_frames(sample) == expected and read_frames(sample, 'gt') == [4]
    assert sample['gt'].shape == (3, 16, 16)
    assert sample['key'] == '00001/0002/im4' and sample['clip'] == '00001/0002'


def test_vimeo_errors(tmp_path):
    lq, gt, ann = make_vimeo(str(tmp_path), ['00001/0001', '00001/0002'])
    with pytest.raises(ConfigError, match='num_frames'):
        VSRVimeo90KDataset(lq, gt, ann, [], num_frames=4)
    with pytest.raises(DataError, match=r'none\.txt: meta-info'):
        VSRVimeo90KDataset(lq, gt, str(tmp_path / 'none.txt'), [])
