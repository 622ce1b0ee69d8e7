# SPDX-License-Identifier: Apache-2.0
"""Reading torch.save files without torch: both layouts, views, byte orders, and refusals."""
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import paddle
import pytest

from edvr.convert.torch_checkpoint import load_torch_checkpoint
from edvr.errors import WeightsError
from tests.convert.torch_writer import (SAVERS, Call, Global, Storage, Tensor, save_legacy,
                                        save_zip, state_dict)


@pytest.mark.parametrize('layout', list(SAVERS))
def test_round_trip_values_dtypes_and_views(tmp_path, layout):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    d = rng.standard_normal(5)                      # float64
    h = rng.standard_normal((2, 2)).astype(np.float16)
    shared = Storage(np.arange(24, dtype=np.float32))
    transposed = Tensor(storage=shared, offset=2, size=(3, 4), stride=(1, 3))  # strided view
    whole = Tensor(storage=shared, size=(24,), stride=(1,))
    obj = {'params': state_dict({'a': a, 'd': d, 'h': h, 't': transposed, 'w': whole}),
           'meta': {'iter': 7, 'name': 'x', 'pair': (1, 2.5), 'none': None}}
    path = str(tmp_path / 'ckpt.pth')
    SAVERS[layout](obj, path)
    out = load_torch_checkpoint(path)
    params = out['params']
    assert isinstance(params, OrderedDict) and list(params) == ['a', 'd', 'h', 't', 'w']
    np.testing.assert_array_equal(params['a'], a)
    assert params['a'].dtype == np.float32 and params['d'].dtype == np.float64
    np.testing.assert_array_equal(params['d'], d)
    np.testing.assert_array_equal(params['h'], h)
    expected = np.arange(24, dtype=np.float32)[2:].copy()
    expected = np.lib.stride_tricks.as_strided(expected, (3, 4), (4, 12))
    np.testing.assert_array_equal(params['t'], expected)
    assert params['t'][0].tolist() == [2.0, 5.0, 8.0, 11.0]
    np.testing.assert_array_equal(params['w'], np.arange(24, dtype=np.float32))
    assert out['meta'] == {'iter': 7, 'name': 'x', 'pair': (1, 2.5), 'none': None}


def test_zip_big_endian_other_top_folder_and_bfloat16(tmp_path):
    a = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    path = str(tmp_path / 'big.pth')
    save_zip({'a': a}, path, prefix='EDVR_M_x4_SR_REDS_official-32075921', byteorder='big')
    np.testing.assert_array_equal(load_torch_checkpoint(path)['a'], a)
    # bfloat16 is the top half of float32: 1.5 -> 0x3FC0, -2.0 -> 0xC000
    bf16 = Tensor(storage=Storage(np.array([0x3FC0, 0xC000], dtype=np.uint16), 'BFloat16Storage'),
                  size=(2,), stride=(1,))
    save_zip({'b': bf16}, path)
    assert load_torch_checkpoint(path)['b'].tolist() == [1.5, -2.0]


@pytest.mark.parametrize('layout', list(SAVERS))
def test_a_pickle_asking_for_another_global_is_refused_before_it_runs(tmp_path, layout):
    marker = tmp_path / 'ran'
    evil = Call(Global('os', 'system'), f'touch {marker}')
    path = str(tmp_path / 'evil.pth')
    SAVERS[layout]({'params': state_dict({'a': np.zeros(2, np.float32)}), 'x': evil}, path)
    with pytest.raises(WeightsError, match=r'evil\.pth: refused to load: the pickle asks for '
                                           r'os\.system'):
        load_torch_checkpoint(path)
    assert not marker.exists()
    for module, name in (('builtins', 'eval'), ('torch', 'load'), ('numpy', 'load'),
                         ('torch._utils', '_rebuild_device_tensor_from_numpy')):
        save_zip({'x': Call(Global(module, name), 'x')}, path)
        with pytest.raises(WeightsError, match=f'asks for {module}.{name},'):
            load_torch_checkpoint(path)


def test_a_stream_not_starting_with_the_magic_number_is_never_unpickled(tmp_path):
    path = tmp_path / 'evil.pth'
    marker = tmp_path / 'ran'
    # a first pickle that calls posix.system instead of giving the magic number
    path.write_bytes(b'\x80\x02cposix\nsystem\nX' + len(f'touch {marker}').to_bytes(4, 'little')
                     + f'touch {marker}'.encode() + b'\x85R.')
    with pytest.raises(WeightsError, match="evil.pth: not a PyTorch checkpoint .a pickle, but "
                                           "without PyTorch's magic number"):
        load_torch_checkpoint(str(path))
    assert not marker.exists()
    assert pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2) == \
        b'\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.'


def test_not_a_checkpoint(tmp_path):
    text = tmp_path / 'notes.pth'
    text.write_text('just some text\n')
    with pytest.raises(WeightsError, match=r'notes\.pth: not a PyTorch checkpoint \(neither'):
        load_torch_checkpoint(str(text))
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    with pytest.raises(WeightsError, match='not a PyTorch checkpoint'):
        load_torch_checkpoint(str(empty))
    paddle_file = str(tmp_path / 'model.pdparams')
    paddle.save({'generator': {'w': paddle.zeros([2])}}, paddle_file)
    with pytest.raises(WeightsError, match=r'model\.pdparams: not a PyTorch checkpoint .a pickle'):
        load_torch_checkpoint(paddle_file)
    other_zip = tmp_path / 'other.pth'
    with zipfile.ZipFile(other_zip, 'w') as z:
        z.writestr('readme.txt', 'hello')
    with pytest.raises(WeightsError, match=r'a zip file but not a PyTorch checkpoint'):
        load_torch_checkpoint(str(other_zip))
    with pytest.raises(WeightsError, match=r'missing\.pth: cannot open'):
        load_torch_checkpoint(str(tmp_path / 'missing.pth'))


@pytest.mark.parametrize('layout, message', [('zip', 'damaged or truncated zip archive'),
                                             ('legacy', 'truncated')])
def test_truncated_files(tmp_path, layout, message):
    path = tmp_path / 'cut.pth'
    SAVERS[layout]({'params': state_dict({'a': np.ones((64, 64), np.float32)})}, str(path))
    data = path.read_bytes()
    for keep in (len(data) // 2, len(data) - 10):
        path.write_bytes(data[:keep])
        with pytest.raises(WeightsError, match=message):
            load_torch_checkpoint(str(path))


def test_tensor_reaching_past_its_storage_is_an_error(tmp_path):
    bad = Tensor(storage=Storage(np.zeros(4, np.float32)), size=(3, 3), stride=(3, 1))
    path = str(tmp_path / 'bad.pth')
    save_legacy({'a': bad}, path)
    with pytest.raises(WeightsError, match=r'reaches element 8 of a storage of 4'):
        load_torch_checkpoint(path)
    assert sorted(os.listdir(tmp_path)) == ['bad.pth']
