# SPDX-License-Identifier: Apache-2.0
"""Datasets reading packed stores (io_backend: lmdb) exactly as they read folders."""
import os
import sys

import numpy as np
import pytest

from edvr.datasets import VSRFolderDataset, VSRREDSDataset, VSRVimeo90KDataset
from edvr.datasets.packed import import_lmdb, parse_io_backend
from edvr.errors import ConfigError, DataError
from edvr.prepare.pack import pack_folder
from tests.datasets.vsr_fixtures import make_reds_tree, write_rgb

READ = [{'name': 'ReadImageSequence', 'key': 'lq'}, {'name': 'ReadImageSequence', 'key': 'gt'}]
EVAL = [{'name': 'GetFrameIdxwithPadding', 'padding': 'reflection_circle'}] + READ


def packed(tmp_path, *folders):
    return [pack_folder(f, str(tmp_path / f'{os.path.basename(f)}.lmdb'))['out'] for f in folders]


def same(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key])
        elif key not in ('lq_path', 'gt_path'):
            assert a[key] == b[key], key


def test_parse_io_backend():
    assert parse_io_backend(None) == 'folder' and parse_io_backend('disk') == 'folder'
    assert parse_io_backend({'type': 'lmdb'}) == 'lmdb' and parse_io_backend('lmdb') == 'lmdb'
    with pytest.raises(ConfigError, match="io_backend: expected one of folder, disk, lmdb, got 'hdf5'"):
        parse_io_backend('hdf5')


def test_reds_test_mode_from_store(tmp_path):
    lq, gt, meta = make_reds_tree(str(tmp_path), ['000', '001', '011'])
    lq_s, gt_s = packed(tmp_path, lq, gt)
    a = VSRREDSDataset(lq, gt, meta, 5, EVAL, 'REDS4', True)
    b = VSRREDSDataset(lq_s, gt_s, meta, 5, EVAL, 'REDS4', True, io_backend='lmdb')
    assert len(a) == len(b) == 14
    for i in range(len(a)):
        same(a[i], b[i])
        assert b[i]['lq_path'].startswith(lq_s)


def test_folder_and_vimeo_datasets_from_store(tmp_path):
    lq, gt, _ = make_reds_tree(str(tmp_path), ['003', '004'], num_frames=5)
    lq_s, gt_s = packed(tmp_path, lq, gt)
    ops = [{'name': 'GetNeighboringFramesIdx', 'interval_list': [1]}] + READ
    a = VSRFolderDataset(lq, gt, ops, num_frames=3)
    b = VSRFolderDataset(lq_s, gt_s, ops, num_frames=3, io_backend={'type': 'lmdb'})
    assert len(a) == len(b) == 2
    same(a[(1, 7)], b[(1, 7)])
    # Vimeo-90K: nested clips '00001/0001'
    root = tmp_path / 'vimeo'
    for kind, hw in (('lq', (4, 4)), ('gt', (16, 16))):
        for i in range(1, 8):
            write_rgb(str(root / kind / '00001' / '0001' / f'im{i}.png'),
                      np.full(hw + (3,), 10 * i, np.uint8))
    (root / 'list.txt').write_text('00001/0001 7 (16,16,3)\n')
    v_lq, v_gt = packed(root, str(root / 'lq'), str(root / 'gt'))
    va = VSRVimeo90KDataset(str(root / 'lq'), str(root / 'gt'), str(root / 'list.txt'), READ, 5)
    vb = VSRVimeo90KDataset(v_lq, v_gt, str(root / 'list.txt'), READ, 5, io_backend='lmdb')
    same(va[0], vb[0])
    assert vb[0]['lq'][:, 0, 0, 0].tolist() == [20, 30, 40, 50, 60]


def test_store_errors_name_what_is_wrong(tmp_path, monkeypatch):
    lq, gt, meta = make_reds_tree(str(tmp_path), ['000', '001'])
    lq_s, gt_s = packed(tmp_path, lq, gt)
    with pytest.raises(DataError, match='not a complete packed store'):
        VSRREDSDataset(lq, gt, meta, 5, READ, io_backend='lmdb')
    with open(meta, 'a') as f:
        f.write('002/00000000.png (16, 16, 3)\n')
    with pytest.raises(DataError, match='packed store has no clip 002'):
        VSRREDSDataset(lq_s, gt_s, meta, 5, READ, io_backend='lmdb')
    os.remove(os.path.join(lq_s, 'edvr_pack.json'))
    with pytest.raises(DataError, match=r'lq.lmdb: not a complete packed store \(edvr_pack.json'):
        VSRREDSDataset(lq_s, gt_s, meta, 5, READ, io_backend='lmdb')
    monkeypatch.setitem(sys.modules, 'lmdb', None)
    with pytest.raises(ConfigError, match='python -m pip install lmdb'):
        import_lmdb()
