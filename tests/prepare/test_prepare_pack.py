# SPDX-License-Identifier: Apache-2.0
"""pack: store contents, interrupted runs, bad input; training reads the same samples from it."""
import json
import os

import numpy as np
import pytest

from edvr.datasets.image_io import read_image
from edvr.datasets.loader import build_dataset, build_train_loader
from edvr.datasets.packed import META_NAME, open_store, read_frame
from edvr.errors import DataError
from edvr.prepare import pack as pack_module
from edvr.prepare.pack import pack_folder, store_is_complete
from tests.prepare.prep_trees import reds_names, truncate, write_clip, write_png
from tools.prepare_data import main

CLIPS = ('000', '001', '002', '011')


def make_reds(root, frames=7, gt_hw=(32, 40)):
    lq_hw = (gt_hw[0] // 4, gt_hw[1] // 4)
    for clip in CLIPS:
        write_clip(os.path.join(root, 'gt', clip), reds_names(frames), gt_hw, f'gt{clip}')
        write_clip(os.path.join(root, 'lq', clip), reds_names(frames), lq_hw, f'lq{clip}')
    meta = os.path.join(root, 'meta.txt')
    with open(meta, 'w') as f:
        f.writelines(f'{c}/{n} ({gt_hw[0]}, {gt_hw[1]}, 3)\n' for c in CLIPS
                     for n in reds_names(frames))
    return os.path.join(root, 'lq'), os.path.join(root, 'gt'), meta


@pytest.mark.parametrize('codec', ['raw', 'png'])
def test_pack_holds_every_frame_as_read_from_files(tmp_path, codec, capsys):
    lq, gt, _ = make_reds(str(tmp_path))
    out = str(tmp_path / f'gt_{codec}.lmdb')
    assert main(['pack', gt, out, '--codec', codec, '--workers', '2']) == 0
    assert f'packed 28 frames of 4 clips into {out}' in capsys.readouterr().out
    meta = json.load(open(os.path.join(out, META_NAME)))
    assert meta['codec'] == codec and meta['frames'] == 28
    assert meta['clips']['011'] == {'shape': [32, 40, 3], 'names': reds_names(7)}
    assert not os.path.exists(out + '.partial')
    for clip in CLIPS:
        for name in reds_names(7):
            path = os.path.join(gt, clip, name)
            packed = read_frame(os.path.join(out, clip, name))
            np.testing.assert_array_equal(packed, read_image(path))
            np.testing.assert_array_equal(read_frame(os.path.join(out, clip, name), to_rgb=False),
                                          read_image(path, to_rgb=False))
    assert main(['pack', gt, out, '--codec', codec]) == 0
    assert 'complete packed store already (28 frames); kept' in capsys.readouterr().out


def test_interrupted_pack_is_never_complete_and_rerun_finishes(tmp_path, monkeypatch):
    _, gt, _ = make_reds(str(tmp_path))
    out = str(tmp_path / 'gt.lmdb')
    monkeypatch.setattr(pack_module, 'BATCH_FRAMES', 4)
    real_encode, calls = pack_module._encode, []

    def failing(path, codec, shape):
        calls.append(path)
        if len(calls) == 11:
            raise KeyboardInterrupt
        return real_encode(path, codec, shape)

    monkeypatch.setattr(pack_module, '_encode', failing)
    with pytest.raises(KeyboardInterrupt, match='^$'):  # raised bare by the stand-in encoder
        pack_folder(gt, out)
    assert not os.path.exists(out) and os.path.isdir(out + '.partial')
    assert not store_is_complete(out) and not store_is_complete(out + '.partial')
    with pytest.raises(DataError, match='packed store not found'):
        open_store(out)
    with pytest.raises(DataError, match='not a complete packed store'):
        open_store(out + '.partial')
    monkeypatch.setattr(pack_module, '_encode', real_encode)
    with pytest.raises(DataError, match=r"gt.lmdb.partial: an unfinished pack started with .*'raw'"):
        pack_folder(gt, out, codec='png')  # resuming with another codec would mix formats
    encoded = []
    monkeypatch.setattr(pack_module, '_encode',
                        lambda *a: encoded.append(a[0]) or real_encode(*a))
    report = pack_folder(gt, out)
    assert report['frames'] == 28 and not report['skipped']
    assert len(encoded) == 28 - 8  # two batches of 4 were committed before the interruption
    for name in reds_names(7):
        np.testing.assert_array_equal(read_frame(os.path.join(out, '000', name)),
                                      read_image(os.path.join(gt, '000', name)))


def test_pack_bad_input(tmp_path, monkeypatch, capsys):
    import shutil
    _, gt, _ = make_reds(str(tmp_path))
    assert main(['pack', str(tmp_path / 'nope'), str(tmp_path / 'x.lmdb')]) == 2
    assert 'nope: folder to pack not found' in capsys.readouterr().err
    truncate(os.path.join(gt, '001', '00000005.png'))
    write_png(os.path.join(gt, '002', '00000001.png'), np.zeros((8, 8, 3), np.uint8))
    assert main(['pack', gt, str(tmp_path / 'x.lmdb'), '--workers', '1']) == 2
    err = capsys.readouterr().err
    assert '001/00000005.png: truncated or corrupt PNG' in err
    assert 'clip 002: frame 00000001.png is 8x8x3 but 00000000.png is 32x40x3' in err
    assert not os.path.exists(tmp_path / 'x.lmdb.partial')

    _, gt2, _ = make_reds(str(tmp_path / 'ok'))
    from edvr.prepare import common
    monkeypatch.setattr(common.shutil, 'disk_usage',
                        lambda p: shutil._ntuple_diskusage(10 ** 9, 10 ** 9 - 1000, 1000))
    assert main(['pack', gt2, str(tmp_path / 'y.lmdb')]) == 2
    assert 'not enough disk space for packing' in capsys.readouterr().err
    assert not os.path.exists(tmp_path / 'y.lmdb') and not os.path.exists(tmp_path / 'y.lmdb.partial')


def _train_cfg(lq, gt, meta, backend):
    dataset = dict(
        name='VSRREDSDataset', lq_folder=lq, gt_folder=gt, ann_file=meta, num_frames=5,
        val_partition='REDS4', test_mode=False,
        preprocess=[
            {'name': 'GetFrameIdx', 'interval_list': [1], 'frames_per_clip': 99},
            {'name': 'ReadImageSequence', 'key': 'lq'},
            {'name': 'ReadImageSequence', 'key': 'gt'},
            {'name': 'Transforms', 'input_keys': ['lq', 'gt'], 'pipeline': [
                {'name': 'SRPairedRandomCrop', 'gt_patch_size': 16, 'scale': 4},
                {'name': 'PairedRandomHorizontalFlip'},
                {'name': 'PairedRandomVerticalFlip'},
                {'name': 'PairedRandomTransposeHW'},
                {'name': 'TransposeSequence'},
                {'name': 'NormalizeSequence', 'mean': [0., 0., 0.], 'std': [255., 255., 255.]}]}])
    if backend:
        dataset['io_backend'] = backend
    return {'name': 'RepeatDataset', 'times': 3, 'dataset': dataset}


def test_training_from_the_store_gives_the_same_samples(tmp_path):
    lq, gt, meta = make_reds(str(tmp_path))
    stores = {}
    for codec in ('raw', 'png'):
        stores[codec] = [pack_folder(src, str(tmp_path / f'{n}_{codec}.lmdb'), codec)['out']
                         for n, src in (('lq', lq), ('gt', gt))]
    folder = build_dataset(_train_cfg(lq, gt, meta, None))
    packed = {codec: build_dataset(_train_cfg(s[0], s[1], meta, {'type': 'lmdb'}))
              for codec, s in stores.items()}
    assert len(folder) == len(packed['raw']) == 3 * 2 * 7  # clips 001 and 002 train (REDS4 rest)
    for index in range(0, len(folder), 5):
        want = folder[(index, 1000 + index)]
        for codec, dataset in packed.items():
            got = dataset[(index, 1000 + index)]
            assert sorted(got) == sorted(want)
            assert got['key'] == want['key'] and got['interval'] == want['interval']
            np.testing.assert_array_equal(got['lq'], want['lq'])
            np.testing.assert_array_equal(got['gt'], want['gt'])
    # through the loader, with worker processes for the store (each opens it itself)
    folder_loader, _ = build_train_loader({'batch_size': 3, 'num_workers': 0}, folder, seed=5)
    packed_loader, _ = build_train_loader({'batch_size': 3, 'num_workers': 2}, packed['raw'],
                                          seed=5)
    for _, a, b in zip(range(4), folder_loader, packed_loader):
        assert list(a['key']) == list(b['key'])
        np.testing.assert_array_equal(a['lq'].numpy(), b['lq'].numpy())
        np.testing.assert_array_equal(a['gt'].numpy(), b['gt'].numpy())
