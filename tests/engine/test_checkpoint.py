# SPDX-License-Identifier: Apache-2.0
import json
import os
import re
import pickle

import numpy as np
import paddle
import pytest

from edvr import weights as ckpt
from edvr.errors import WeightsError
from edvr.models.edvr_net import EDVRNet

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'models',
                      'golden_edvr_keys.json')


class Tiny(paddle.nn.Layer):
    def __init__(self, width=3):
        super().__init__()
        self.fc = paddle.nn.Linear(2, width)


def test_weights_round_trip_in_paddlegan_layout(tmp_path):
    src, dst = Tiny(), Tiny()
    path = str(tmp_path / 'w.pdparams')
    ckpt.save_atomic({'generator': src.state_dict()}, path)
    ckpt.load_generator_weights(dst, path)
    np.testing.assert_array_equal(dst.fc.weight.numpy(), src.fc.weight.numpy())
    bare = str(tmp_path / 'bare.pdparams')
    paddle.save(src.state_dict(), bare)
    ckpt.load_generator_weights(Tiny(), bare)
    assert sorted(os.listdir(tmp_path)) == ['bare.pdparams', 'w.pdparams']


def test_bad_weight_files_are_named(tmp_path):
    with pytest.raises(WeightsError, match='missing.pdparams: weights file not found'):
        ckpt.load_generator_weights(Tiny(), str(tmp_path / 'missing.pdparams'))
    junk = tmp_path / 'junk.pdparams'
    junk.write_bytes(b'this is not a state dict')
    with pytest.raises(WeightsError, match='junk.pdparams: not a Paddle state dict'):
        ckpt.load_generator_weights(Tiny(), str(junk))
    wide = str(tmp_path / 'wide.pdparams')
    paddle.save({'generator': Tiny(width=5).state_dict()}, wide)
    with pytest.raises(WeightsError, match=r'shape mismatch: fc\.weight \[2, 5\] vs model \[2, 3\]'):
        ckpt.load_generator_weights(Tiny(), wide)
    other = str(tmp_path / 'other.pdparams')
    paddle.save({'generator': {'conv.weight': paddle.zeros([1])}}, other)
    with pytest.raises(WeightsError, match=r'missing: fc\.weight; fc\.bias \| unexpected: conv\.weight'):
        ckpt.load_generator_weights(Tiny(), other)


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'iter_1_checkpoint.pdparams')
    ckpt.save_atomic({'generator': Tiny().state_dict(), 'iter': 1}, path)
    before = open(path, 'rb').read()

    def crash(obj, target):
        with open(target, 'wb') as f:
            f.write(b'half')
        raise OSError('disk full')
    monkeypatch.setattr(paddle, 'save', crash)
    with pytest.raises(OSError, match=rf"^\[Errno None\] disk full: '{re.escape(path)}'$"):
        ckpt.save_atomic({'iter': 2}, path)
    assert open(path, 'rb').read() == before
    assert os.listdir(tmp_path) == ['iter_1_checkpoint.pdparams']


def test_latest_and_pruning(tmp_path):
    for k in (5, 10, 100, 20):
        for kind in ('checkpoint', 'weight'):
            (tmp_path / f'iter_{k}_{kind}.pdparams').write_bytes(b'x')
    (tmp_path / 'iter_200_checkpoint.pdparams.tmp-1').write_bytes(b'partial')
    assert ckpt.latest_checkpoint(str(tmp_path)).endswith('iter_100_checkpoint.pdparams')
    ckpt.prune_checkpoints(str(tmp_path), keep=2)
    left = sorted(p for p in os.listdir(tmp_path) if not p.endswith('tmp-1'))
    assert left == ['iter_100_checkpoint.pdparams', 'iter_100_weight.pdparams',
                    'iter_20_checkpoint.pdparams', 'iter_20_weight.pdparams']


class _RecordingUnpickler(pickle.Unpickler):
    """PaddleGAN's reader (`pickle.load(f, encoding='latin1')`), noting every global it needs."""

    def __init__(self, f):
        super().__init__(f, encoding='latin1')
        self.globals = set()

    def find_class(self, module, name):
        self.globals.add(f'{module}.{name}')
        return super().find_class(module, name)


@pytest.mark.parametrize('name', ['edvr_m_w_tsa', 'edvr_l_blur_wo_tsa'])
def test_our_weight_files_are_what_paddlegan_reads(tmp_path, name):
    """PaddleGAN loads weights with a plain pickle.load and sets ``state['generator']``."""
    with open(GOLDEN) as f:
        golden = json.load(f)[name]
    net = EDVRNet(**golden['args'])
    path = str(tmp_path / 'iter_5_weight.pdparams')
    ckpt.save_atomic({'generator': net.state_dict()}, path)   # what the trainer writes
    with open(path, 'rb') as f:
        reader = _RecordingUnpickler(f)
        state = reader.load()
    assert reader.globals == {'numpy.ndarray'}                 # loads with numpy 1.x and 2.x
    assert list(state) == ['generator']
    assert [[k, list(v.shape)] for k, v in state['generator'].items()] == golden['params']
    assert all(type(v) is np.ndarray and v.dtype == np.float32 for v in state['generator'].values())
    other = EDVRNet(**golden['args'])
    other.set_state_dict(state['generator'])                   # PaddleGAN's net has these names
    for (key, a), b in zip(net.state_dict().items(), other.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=key)
    ckpt.load_generator_weights(EDVRNet(**golden['args']), path)
