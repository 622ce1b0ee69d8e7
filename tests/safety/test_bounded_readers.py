# SPDX-License-Identifier: Apache-2.0
"""The readers of input files bound what a file can make them do: one line, never a traceback.

Weights nested beyond any real checkpoint, array headers claiming more bytes than the
file holds, YAML written twice, not UTF-8, nested or aliased without end, and an
exported model description that does not parse.
"""
import pickle
import struct
import zipfile

import numpy as np
import pytest

from edvr.config import load_config
from edvr.convert.torch_checkpoint import load_torch_checkpoint
from edvr.deploy.model_info import read_model_info
from edvr.errors import ConfigError, WeightsError
from edvr.utils.safe_pickle import read_paddle_pickle
from tests.convert.torch_writer import save_legacy, save_zip


def test_weights_nested_beyond_any_checkpoint_are_refused(tmp_path):
    path = tmp_path / 'deep.pdparams'
    depth = 100_000  # far beyond Python's recursion limit
    path.write_bytes(b'\x80\x02' + b']' * depth + b'a' * (depth - 1) + b'.')
    with pytest.raises(WeightsError, match=r'deep.pdparams: refused to load: containers nested '
                                           r'more than 100 levels deep'):
        read_paddle_pickle(str(path))


class _Reconstruct:
    """Pickles as numpy's array-rebuild call with a declared shape, as paddle.save does."""

    def __init__(self, shape):
        self.shape = shape

    def __reduce__(self):
        rebuild = np.ndarray.__reduce__(np.zeros(0))[0]
        return rebuild, (np.ndarray, self.shape, np.dtype('float32'))


class _Empty:
    """Pickles as ``numpy.ndarray(shape, dtype)`` with no buffer (memory numpy would allocate)."""

    def __init__(self, shape):
        self.shape = shape

    def __reduce__(self):
        return np.ndarray, (self.shape, 'f4')


@pytest.mark.parametrize('array, shown', [
    (_Reconstruct((2 ** 58,)), r'\[288230376151711744\] \(1,152,921,504,606,846,976 bytes\)'),
    (_Empty((2 ** 31, 4)), r'\[2147483648, 4\] \(34,359,738,368 bytes\)'),
])
def test_array_header_larger_than_the_file_is_refused_before_allocating(tmp_path, array, shown):
    path = tmp_path / 'huge.pdparams'
    path.write_bytes(pickle.dumps({'generator': {'w': array}}, protocol=2))
    size = path.stat().st_size
    with pytest.raises(WeightsError, match=rf'huge.pdparams: an array of shape {shown} is larger '
                                           rf'than the file \({size} bytes\)'):
        read_paddle_pickle(str(path))


def test_real_arrays_still_load(tmp_path):
    path = tmp_path / 'ok.pdparams'
    weights = {'w': np.arange(6, dtype=np.float32).reshape(2, 3)}
    path.write_bytes(pickle.dumps({'generator': weights}, protocol=2))
    assert np.array_equal(read_paddle_pickle(str(path))['generator']['w'], weights['w'])


def test_empty_and_folder_weights_are_one_line(tmp_path):
    (tmp_path / 'empty.pdparams').write_bytes(b'')
    with pytest.raises(WeightsError, match=r'empty.pdparams: empty file, expected weights'):
        read_paddle_pickle(str(tmp_path / 'empty.pdparams'))
    with pytest.raises(WeightsError, match=r': is a folder, expected a weights file'):
        read_paddle_pickle(str(tmp_path))


def test_legacy_pth_claiming_2_to_the_58_elements(tmp_path):
    path = tmp_path / 'huge.pth'
    save_legacy({'w': np.ones(77, np.float32)}, str(path))
    data = path.read_bytes()
    huge = 2 ** 58
    pid = b'cpuq\x04KM'  # the storage's element count (77) in the pickle
    assert data.count(pid) == 1 and data.count(struct.pack('<q', 77)) == 1
    data = data.replace(pid, b'cpuq\x04\x8a\x08' + struct.pack('<q', huge))
    path.write_bytes(data.replace(struct.pack('<q', 77), struct.pack('<q', huge)))
    with pytest.raises(WeightsError, match=r"huge.pth: storage '0' declares "
                                           r'288,230,376,151,711,744 elements \(1,152,921,504,606,'
                                           r'846,976 bytes\) but the file has 308 bytes left'):
        load_torch_checkpoint(str(path))


def test_zip_pth_storage_larger_than_the_file(tmp_path):
    path = tmp_path / 'huge.pth'
    save_zip({'w': np.ones(4, np.float32)}, str(path))
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    pid = b'cpuq\x04K\x04'  # the storage's element count (4) in the pickle
    assert members['archive/data.pkl'].count(pid) == 1
    members['archive/data.pkl'] = members['archive/data.pkl'].replace(
        pid, b'cpuq\x04J\x00\x00\x00\x40')  # 2**30 elements
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(WeightsError, match=r'huge.pth: storage archive/data/0 declares '
                                           r'4,294,967,296 bytes \(16 stored\) in a file of'):
        load_torch_checkpoint(str(path))


def test_deeply_nested_pth_is_refused(tmp_path):
    nested = []
    for _ in range(150):
        nested = [nested]
    path = tmp_path / 'deep.pth'
    save_zip({'params': nested}, str(path))
    with pytest.raises(WeightsError, match='deep.pth: refused to load: containers nested more'):
        load_torch_checkpoint(str(path))


@pytest.mark.parametrize('text, message', [
    (b'total_iters: 10\nmodel:\n  name: EDVRModel\n  name: Other\n',
     r"c.yaml: key 'name' written twice \(lines 3 and 4\)"),
    (b'total_iters: \xff\n', r'c.yaml: not UTF-8 text \(byte 0xff at offset 13\), expected a '
                            r'YAML config'),
    (b'a: ' + b'[' * 200 + b']' * 200 + b'\n', r'c.yaml: nested more than 100 levels deep'),
    (b'a: [1\n', r'c.yaml: YAML syntax error at line 2, column 1'),
    (b'- 1\n', r'c.yaml: expected a mapping of keys at the top level'),
])
def test_config_files_that_are_not_one_yaml_mapping(tmp_path, text, message):
    (tmp_path / 'c.yaml').write_bytes(text)
    with pytest.raises(ConfigError, match=message):
        load_config(str(tmp_path / 'c.yaml'))


def test_yaml_aliases_expanding_without_end(tmp_path):
    lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]']
    lines += [f'a{i}: &a{i} [' + ', '.join([f'*a{i - 1}'] * 10) + ']' for i in range(1, 9)]
    (tmp_path / 'c.yaml').write_text('\n'.join(lines) + '\n')
    with pytest.raises(ConfigError, match=r'c.yaml: more than 1000000 values once its aliases'):
        load_config(str(tmp_path / 'c.yaml'))


def test_weights_given_as_config_and_folder_as_config(tmp_path):
    (tmp_path / 'w.pdparams').write_bytes(pickle.dumps({'generator': {}}, protocol=2))
    with pytest.raises(ConfigError, match=r'w.pdparams: not UTF-8 text \(byte 0x80 at offset 0\)'):
        load_config(str(tmp_path / 'w.pdparams'))
    with pytest.raises(ConfigError, match=r': is a folder, expected a YAML config file'):
        load_config(str(tmp_path))


def test_override_with_a_key_twice():
    with pytest.raises(ConfigError, match=r"-o total_iters: key 'a' written twice"):
        load_config('edvr_demo', ['total_iters={a: 1, a: 2}'])


@pytest.mark.parametrize('text, message', [
    (b'num_frames: [5\n', r'm.edvr.yml: YAML syntax error at line 2'),
    (b'- 5\n', r'm.edvr.yml: expected a mapping of model facts, got list'),
    (b'num_frames: five\n', r"m.edvr.yml: num_frames: expected a whole number from 1 to 1024, "
                            r"got 'five'"),
    (b'min_max: [1, 0]\n', r'm.edvr.yml: min_max: expected two numbers low < high, got \[1, 0\]'),
    (b'\x89PNG\r\n', r'm.edvr.yml: not UTF-8 text'),
])
def test_exported_model_description_that_does_not_parse(tmp_path, text, message):
    (tmp_path / 'm.edvr.yml').write_bytes(text)
    with pytest.raises(WeightsError, match=message):
        read_model_info(str(tmp_path / 'm.edvr.yml'))
