# SPDX-License-Identifier: Apache-2.0
"""vimeo90k, vid4 and udm10 commands: meta files, LQ layout, BI/BD values, checks."""
import math
import os

import numpy as np
import pytest

from edvr.datasets.vimeo90k import VSRVimeo90KDataset
from edvr.errors import DataError
from edvr.prepare.degrade import bd_downscale
from edvr.utils.imresize import imresize
from tests.prepare.prep_trees import make_testset, make_vimeo, read_rgb, truncate, write_png
from tools.prepare_data import main


def direct_bd(img, scale=4, sigma=1.6, size=13):
    """BD written out: a 2-D Gaussian sum at every kept pixel, edges mirrored (d c b | a b c d)."""
    h, w, _ = img.shape
    r = size // 2
    taps = [(dy, dx, math.exp(-(dy * dy + dx * dx) / (2 * sigma * sigma)))
            for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    total = sum(t[2] for t in taps)

    def mirror(i, n):
        while i < 0 or i >= n:
            i = -i if i < 0 else 2 * (n - 1) - i
        return i

    out = np.zeros((-(-h // scale), -(-w // scale), 3))
    for oy, y in enumerate(range(0, h, scale)):
        for ox, x in enumerate(range(0, w, scale)):
            acc = np.zeros(3)
            for dy, dx, wgt in taps:
                acc += wgt * img[mirror(y + dy, h), mirror(x + dx, w)]
            out[oy, ox] = acc / total
    return np.floor(out + 0.5).astype(np.uint8)


def test_bd_matches_direct_computation():
    img = np.random.default_rng(3).integers(0, 256, (20, 28, 3), dtype=np.uint8)
    got, want = bd_downscale(img), direct_bd(img)
    assert got.shape == (5, 7, 3)
    assert np.abs(got.astype(int) - want).max() <= 1
    assert (got == want).mean() > 0.95


def test_vimeo90k_meta_and_lq(tmp_path, capsys):
    src = make_vimeo(str(tmp_path / 'vimeo_septuplet'))
    root = tmp_path
    assert main(['vimeo90k', '--src', src, '--workers', '1']) == 0
    assert 'septuplets train 2, test 1' in capsys.readouterr().out
    assert (root / 'meta_info_Vimeo90K_train_GT.txt').read_text().splitlines() == [
        '00001/0001 7 (32,48,3)', '00001/0002 7 (32,48,3)']
    assert (root / 'meta_info_Vimeo90K_test_GT.txt').read_text() == '00002/0001 7 (32,48,3)\n'
    for folder, fn in (('vimeo_septuplet_matlabLRx4', lambda g: imresize(g, 1 / 4)),
                       ('vimeo_septuplet_BD_matlabLRx4', direct_bd)):
        seq = root / folder / 'sequences' / '00001' / '0002'
        assert sorted(os.listdir(seq)) == [f'im{i}.png' for i in range(1, 8)]
        gt = read_rgb(os.path.join(src, 'sequences', '00001', '0002', 'im3.png'))
        lq = read_rgb(str(seq / 'im3.png'))
        assert lq.shape == (8, 12, 3)
        assert np.abs(lq.astype(int) - fn(gt)).max() <= (0 if 'BD' not in folder else 1)
    dataset = VSRVimeo90KDataset(str(root / 'vimeo_septuplet_matlabLRx4' / 'sequences'),
                                 os.path.join(src, 'sequences'),
                                 str(root / 'meta_info_Vimeo90K_train_GT.txt'),
                                 [{'name': 'ReadImageSequence', 'key': 'lq'},
                                  {'name': 'ReadImageSequence', 'key': 'gt'}])
    assert dataset[0]['lq'].shape == (7, 8, 12, 3) and dataset[0]['gt'].shape == (32, 48, 3)
    # a re-run writes nothing new
    assert main(['vimeo90k', '--src', src, '--workers', '1']) == 0
    assert 'LQ frames written: BI 0, BD 0' in capsys.readouterr().out


def test_vimeo90k_bad_input(tmp_path):
    from edvr.prepare.vimeo90k import prepare_vimeo90k
    with pytest.raises(DataError, match='sequences folder not found'):
        prepare_vimeo90k(str(tmp_path / 'none'), str(tmp_path))
    src = make_vimeo(str(tmp_path / 'v'))
    os.remove(os.path.join(src, 'sequences', '00001', '0002', 'im5.png'))
    truncate(os.path.join(src, 'sequences', '00002', '0001', 'im1.png'))
    with pytest.raises(DataError, match='clip 00001/0002: frame im5.png missing') as info:
        prepare_vimeo90k(src, str(tmp_path / 'out'))
    assert 'clip 00001/0002: frame im5.png missing' in str(info.value)
    assert '00002/0001/im1.png: truncated or corrupt PNG' in str(info.value)
    assert not (tmp_path / 'out').exists()
    os.remove(os.path.join(src, 'sep_testlist.txt'))
    with pytest.raises(DataError, match='sep_testlist.txt: Vimeo-90K list file not found'):
        prepare_vimeo90k(src, str(tmp_path / 'out'))


@pytest.mark.parametrize('command', ['vid4', 'udm10'])
def test_vid4_udm10_layout_and_values(tmp_path, command, capsys):
    root = make_testset(str(tmp_path / command))
    assert main([command, '--root', root, '--workers', '2']) == 0
    assert 'LQ frames written: BI 5, BD 5' in capsys.readouterr().out
    for folder in ('BIx4', 'BDx4'):
        assert sorted(os.listdir(os.path.join(root, folder))) == ['calendar', 'city']
        assert sorted(os.listdir(os.path.join(root, folder, 'calendar'))) == [
            '0000.png', '0001.png', '0002.png']
    gt = read_rgb(os.path.join(root, 'GT', 'city', '0001.png'))
    np.testing.assert_array_equal(read_rgb(os.path.join(root, 'BIx4', 'city', '0001.png')),
                                  imresize(gt, 1 / 4))
    bd = read_rgb(os.path.join(root, 'BDx4', 'city', '0001.png'))
    assert bd.shape == (6, 8, 3) and np.abs(bd.astype(int) - direct_bd(gt)).max() <= 1
    # re-running skips finished frames; a deleted one is redone
    os.remove(os.path.join(root, 'BDx4', 'calendar', '0002.png'))
    assert main([command, '--root', root, '--workers', '1']) == 0
    assert 'LQ frames written: BI 0, BD 1' in capsys.readouterr().out


def test_testset_bad_input(tmp_path, capsys):
    assert main(['vid4', '--root', str(tmp_path / 'none')]) == 2
    assert 'GT folder not found' in capsys.readouterr().err
    root = make_testset(str(tmp_path / 'Vid4'), clips=(('walk', 2, (30, 40)),))
    assert main(['vid4', '--root', root, '--workers', '1']) == 2
    assert 'frame size 30x40 is not divisible by 4' in capsys.readouterr().err
    root = make_testset(str(tmp_path / 'V2'))
    write_png(os.path.join(root, 'GT', 'city', '0001.png'), np.zeros((28, 32, 3), np.uint8))
    with open(os.path.join(root, 'GT', 'calendar', '0001.png'), 'wb') as f:
        f.write(b'not an image at all')
    assert main(['vid4', '--root', root, '--workers', '1']) == 2
    err = capsys.readouterr().err
    assert 'clip city: frame 0001.png is 28x32x3 but 0000.png is 24x32x3' in err
    assert 'calendar/0001.png: corrupt PNG (bad header)' in err
    assert not os.path.exists(os.path.join(root, 'BIx4'))


def test_not_enough_disk_is_reported_before_writing(tmp_path, monkeypatch, capsys):
    import shutil
    from edvr.prepare import common
    root = make_testset(str(tmp_path / 'Vid4'))
    monkeypatch.setattr(common.shutil, 'disk_usage',
                        lambda p: shutil._ntuple_diskusage(10 ** 9, 10 ** 9 - 100, 100))
    assert main(['vid4', '--root', root, '--workers', '1']) == 2
    assert 'not enough disk space for vid4 LQ frames' in capsys.readouterr().err
    assert not os.path.exists(os.path.join(root, 'BIx4'))
