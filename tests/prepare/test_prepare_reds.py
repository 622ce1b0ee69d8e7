# SPDX-License-Identifier: Apache-2.0
"""tools/prepare_data.py reds on tiny archive trees: layout, meta file, checks."""
import os

import numpy as np
import pytest

from edvr.datasets.reds import VSRREDSDataset, read_meta_info
from edvr.errors import DataError
from edvr.prepare.reds import prepare_reds
from tests.prepare.prep_trees import make_reds_archives, read_rgb, truncate, write_png
from tools.prepare_data import main

SMALL = ['--frames-per-clip', '4', '--gt-size', '16x16', '--train-clips', '3',
         '--val-clips', '2', '--workers', '1']


def small(src, root, **kwargs):
    return prepare_reds(str(src), str(root), frames_per_clip=4, gt_size=(16, 16),
                        train_clips=3, val_clips=2, **kwargs)


def test_reds_layout_meta_and_rerun(tmp_path, capsys):
    src = make_reds_archives(str(tmp_path / 'src'), variants=('sharp', 'blur'))
    root = tmp_path / 'REDS'
    assert main(['reds', '--src', src, '--root', str(root)] + SMALL) == 0
    assert 'train_sharp (5 clips)' in capsys.readouterr().out
    for variant, hw in (('train_sharp', (16, 16)), ('train_sharp_bicubic', (4, 4)),
                        ('train_blur', (16, 16)), ('train_blur_bicubic', (4, 4))):
        folder = root / variant / 'X4'
        assert sorted(os.listdir(folder)) == ['000', '001', '002', '003', '004']
        assert sorted(os.listdir(folder / '004')) == [f'{i:08d}.png' for i in range(4)]
        assert read_rgb(str(folder / '000' / '00000000.png')).shape[:2] == hw
    # validation clip 001 became clip 004 (= train_clips + 1), pixel for pixel
    split = 'val_sharp'
    np.testing.assert_array_equal(
        read_rgb(str(root / 'train_sharp' / 'X4' / '004' / '00000003.png')),
        read_rgb(os.path.join(src, 'val', split, '001', '00000003.png')))
    assert sorted(os.listdir(root / 'REDS4_test_sharp' / 'X4')) == ['000']
    assert sorted(os.listdir(root / 'REDS4_test_blur_bicubic' / 'X4')) == ['000']
    lines = (root / 'meta_info_REDS_GT.txt').read_text().splitlines()
    assert len(lines) == 5 * 4
    assert lines[0] == '000/00000000.png (16, 16, 3)' and lines[-1] == '004/00000003.png (16, 16, 3)'
    clips = read_meta_info(str(root / 'meta_info_REDS_GT.txt'))
    assert list(clips) == ['000', '001', '002', '003', '004']
    train = VSRREDSDataset(str(root / 'train_sharp_bicubic' / 'X4'), str(root / 'train_sharp' / 'X4'),
                           str(root / 'meta_info_REDS_GT.txt'), 3, [], 'REDS4', False)
    assert len(train) == 4 * 4  # every clip but REDS4's 000
    # the symlinked layout packs like real folders
    assert main(['pack', str(root / 'train_sharp' / 'X4'), str(root / 'gt.lmdb'),
                 '--workers', '1']) == 0
    assert 'packed 20 frames of 5 clips' in capsys.readouterr().out
    # a re-run keeps everything and succeeds
    assert main(['reds', '--src', src, '--root', str(root)] + SMALL) == 0
    assert len((root / 'meta_info_REDS_GT.txt').read_text().splitlines()) == 20


def test_reds_copy_mode_makes_real_folders(tmp_path):
    src = make_reds_archives(str(tmp_path / 'src'))
    small(src, tmp_path / 'R', mode='copy')
    clip = tmp_path / 'R' / 'train_sharp' / 'X4' / '003'
    assert clip.is_dir() and not clip.is_symlink()
    assert len(os.listdir(clip)) == 4


def test_missing_archive_is_named(tmp_path, capsys):
    src = tmp_path / 'src'
    src.mkdir()
    assert main(['reds', '--src', str(src), '--root', str(tmp_path / 'R')] + SMALL) == 2
    assert 'archive train_sharp not found' in capsys.readouterr().err
    assert main(['reds', '--src', str(tmp_path / 'nope'), '--root', str(tmp_path / 'R')]) == 2
    assert 'nope: REDS source folder not found' in capsys.readouterr().err


def test_missing_val_archive_asks_for_it_or_no_val(tmp_path):
    src = make_reds_archives(str(tmp_path / 'src'))
    import shutil
    shutil.rmtree(os.path.join(src, 'val', 'val_sharp_bicubic'))
    with pytest.raises(DataError, match='val_sharp_bicubic not found.*--no-val'):
        small(src, tmp_path / 'R')
    report = small(src, tmp_path / 'R2', no_val=True)
    assert report['train_sharp'] == 3 and report['frames'] == 12


def test_missing_frame_and_clip_are_all_reported_and_nothing_written(tmp_path):
    src = make_reds_archives(str(tmp_path / 'src'))
    os.remove(os.path.join(src, 'val', 'val_sharp', '001', '00000002.png'))
    import shutil
    shutil.rmtree(os.path.join(src, 'train', 'train_sharp_bicubic', 'X4', '002'))
    with pytest.raises(DataError, match='nothing written') as info:
        small(src, tmp_path / 'R')
    message = str(info.value)
    assert 'clip 004: frame 00000002.png missing' in message
    assert 'train_sharp_bicubic: clip 002 missing' in message
    assert 'nothing written' in message
    assert not (tmp_path / 'R').exists()


def test_wrong_size_and_inconsistent_sizes(tmp_path):
    src = make_reds_archives(str(tmp_path / 'src'))
    bad = os.path.join(src, 'train', 'train_sharp', '001', '00000001.png')
    write_png(bad, np.zeros((12, 16, 3), np.uint8))
    with pytest.raises(DataError, match=r'00000001.png: size 12x16, expected 16x16'):
        small(src, tmp_path / 'R')
    # without an expected size (pack, vid4) frames must agree within the clip
    from edvr.prepare.common import Problems, check_clip_frames
    problems = Problems()
    check_clip_frames({'001': os.path.dirname(bad)}, problems)
    assert any('clip 001: frame 00000001.png is 12x16x3 but 00000000.png is 16x16x3' in p
               for p in problems.items)


def test_truncated_frame_is_named(tmp_path):
    src = make_reds_archives(str(tmp_path / 'src'))
    bad = os.path.join(src, 'val', 'val_sharp', '000', '00000003.png')
    truncate(bad)
    with pytest.raises(DataError, match='00000003.png: truncated or corrupt PNG'):
        small(src, tmp_path / 'R')
