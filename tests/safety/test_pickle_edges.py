# SPDX-License-Identifier: Apache-2.0
"""The restricted .pdparams reader at its edges: nesting exactly at the limit and one past
it on each kind of container, array sizes equal to the limit, arrays built every way a
pickle can ask for them, Python 2 byte strings, and each refusal on its whole line."""
import os
import re
from collections import OrderedDict

import numpy as np
import pytest

from edvr.errors import WeightsError
from edvr.utils.safe_pickle import MAX_DEPTH, declared_bytes, read_paddle_pickle, unpickle
from tests.safety.paddle_writer import Call, Global, save_pickle


def exactly(message):
    return rf'^{re.escape(message)}$'


def nested(kind, levels, leaf):
    for _ in range(levels):
        leaf = {'a': leaf} if kind == 'dict' else [leaf]
    return leaf


def too_deep(path):
    return (f'{path}: refused to load: containers nested more than {MAX_DEPTH} levels deep '
            '(not weights or a checkpoint)')


@pytest.mark.parametrize('kind', ['dict', 'list'])
def test_nesting_up_to_the_limit_loads_and_one_more_is_refused(tmp_path, kind):
    path = str(tmp_path / f'{kind}.pdparams')
    save_pickle(nested(kind, MAX_DEPTH, 1), path)
    assert read_paddle_pickle(path) == nested(kind, MAX_DEPTH, 1)
    save_pickle(nested(kind, MAX_DEPTH + 1, 1), path)
    with pytest.raises(WeightsError, match=exactly(too_deep(path))):
        read_paddle_pickle(path)


def test_a_saved_tensor_counts_as_one_level(tmp_path):
    """paddle.save stores a tensor as (name, array): the array sits one level below it."""
    path = str(tmp_path / 't.pdparams')
    array = np.arange(3, dtype=np.float32)
    save_pickle(nested('dict', MAX_DEPTH - 1, ('w', array)), path)
    np.testing.assert_array_equal(nested_leaf(read_paddle_pickle(path), MAX_DEPTH - 1), array)
    save_pickle(nested('dict', MAX_DEPTH, ('w', array)), path)
    with pytest.raises(WeightsError, match=exactly(too_deep(path))):
        read_paddle_pickle(path)


def nested_leaf(obj, levels):
    for _ in range(levels):
        obj = obj['a']
    return obj


def test_containers_keep_their_types_and_tensors_become_arrays(tmp_path):
    path = str(tmp_path / 'mixed.pdparams')
    array = np.arange(4, dtype=np.float32)
    save_pickle({'state': OrderedDict(w=('w_0', array)), 'list': [('b', array), 1],
                 'tuple': (1, 2, 3), 'StructuredToParameterName@@': {'w': 'w_0'}}, path)
    loaded = read_paddle_pickle(path)
    assert type(loaded) is dict and list(loaded) == ['state', 'list', 'tuple']
    assert type(loaded['state']) is OrderedDict
    np.testing.assert_array_equal(loaded['state']['w'], array)
    assert type(loaded['list']) is list and loaded['list'][1] == 1
    np.testing.assert_array_equal(loaded['list'][0], array)
    assert loaded['tuple'] == (1, 2, 3) and type(loaded['tuple']) is tuple


def test_declared_bytes_at_and_past_the_limit():
    assert declared_bytes((2, 3), 'float32', 'w', 24) == 24
    assert declared_bytes(6, 'int16', 'w', 12) == 12
    with pytest.raises(WeightsError, match=exactly(
            'w: an array of shape [2, 3] (24 bytes) is larger than the file (23 bytes); the '
            'file is damaged or not weights')):
        declared_bytes((2, 3), 'float32', 'w', 23)
    with pytest.raises(WeightsError, match=exactly('w: an array with a negative size [2, -3]')):
        declared_bytes((2, -3), 'float32', 'w', 100)
    with pytest.raises(WeightsError, match=exactly(
            "w: damaged array header (invalid literal for int() with base 10: 'x')")):
        declared_bytes(('x',), 'float32', 'w', 100)


def load_call(tmp_path, obj):
    path = str(tmp_path / 'call.pdparams')
    save_pickle({'x': obj}, path)
    return path, os.path.getsize(path)


def test_an_array_called_with_an_int_shape_larger_than_the_file(tmp_path):
    path, size = load_call(tmp_path, Call(Global('numpy', 'ndarray'), 2 ** 40, 'f4'))
    with pytest.raises(WeightsError, match=exactly(
            f'{path}: an array of shape [1099511627776] (4,398,046,511,104 bytes) is larger '
            f'than the file ({size:,} bytes); the file is damaged or not weights')):
        read_paddle_pickle(path)


def test_an_array_over_a_buffer_follows_its_strides(tmp_path):
    path, _ = load_call(tmp_path, Call(Global('numpy', 'ndarray'), (2,), 'u1', b'\x01\x02\x03\x04',
                                       1, (2,), 'C'))
    np.testing.assert_array_equal(read_paddle_pickle(path)['x'], [2, 4])


def test_an_array_over_a_buffer_in_fortran_order(tmp_path):
    path, _ = load_call(tmp_path, Call(Global('numpy', 'ndarray'), (2, 2), 'u1', b'\x01\x02\x03\x04',
                                       0, None, 'F'))
    np.testing.assert_array_equal(read_paddle_pickle(path)['x'], [[1, 3], [2, 4]])


def test_a_file_that_cannot_be_mapped(tmp_path, monkeypatch):
    import mmap
    path = tmp_path / 'w.pdparams'
    save_pickle({'w': 1}, str(path))

    def refuse(*args, **kwargs):
        raise OSError(19, 'No such device')
    monkeypatch.setattr(mmap, 'mmap', refuse)
    with pytest.raises(WeightsError, match=exactly(
            f'{path}: cannot read ([Errno 19] No such device)')):
        read_paddle_pickle(str(path))


def test_numpys_rebuild_call_checked_and_typed(tmp_path):
    rebuild = Global('numpy._core.multiarray', '_reconstruct')
    path, _ = load_call(tmp_path, Call(rebuild, Global('numpy', 'ndarray'), (0,), 'f4'))
    loaded = read_paddle_pickle(path)['x']
    assert loaded.dtype == np.float32 and loaded.shape == (0,)
    path, size = load_call(tmp_path, Call(rebuild, Global('numpy', 'ndarray'), (2 ** 30,), 'f4'))
    with pytest.raises(WeightsError, match=exactly(
            f'{path}: an array of shape [1073741824] (4,294,967,296 bytes) is larger than the '
            f'file ({size:,} bytes); the file is damaged or not weights')):
        read_paddle_pickle(path)
    path, _ = load_call(tmp_path, Call(rebuild, Global('collections', 'OrderedDict'), (0,), 'f4'))
    with pytest.raises(WeightsError, match=exactly(
            f"{path}: refused to load: an array of type <class 'collections.OrderedDict'>")):
        read_paddle_pickle(path)


def test_python_2_byte_strings_read_as_latin1(tmp_path):
    path = tmp_path / 'py2.pdparams'
    path.write_bytes(b'\x80\x02}q\x00U\x04nameq\x01U\x03\xe9t\xe9q\x02s.')
    assert read_paddle_pickle(str(path)) == {'name': 'été'}


def test_bytes_only_from_latin1_text(tmp_path):
    encode = Global('_codecs', 'encode')
    path, _ = load_call(tmp_path, Call(encode, 'caf\xe9', 'latin1'))
    assert read_paddle_pickle(path) == {'x': b'caf\xe9'}
    path, _ = load_call(tmp_path, Call(encode, 'caf\xe9'))          # no codec named: latin-1
    assert read_paddle_pickle(path) == {'x': b'caf\xe9'}
    for args, shown in (((5, 'latin1'), "'latin1'"), (('abc', 'utf-8'), "'utf-8'"),
                        (('abc', 7), '7')):
        path, _ = load_call(tmp_path, Call(encode, *args))
        with pytest.raises(WeightsError, match=exactly(
                f'{path}: refused to load: the pickle asks for _codecs.encode with {shown}, not '
                'latin-1 text')):
            read_paddle_pickle(path)


def test_a_persistent_id_is_refused(tmp_path):
    path = tmp_path / 'persid.pdparams'
    path.write_bytes(b'\x80\x02X\x07\x00\x00\x00storageQ.')
    with pytest.raises(WeightsError, match=exactly(
            f"{path}: refused to load: unexpected persistent id 'storage'")):
        read_paddle_pickle(str(path))


class Failing:
    where = 'w.pdparams'

    def __init__(self, exc):
        self.exc = exc

    def load(self):
        raise self.exc


def test_low_level_failures_become_one_line():
    with pytest.raises(WeightsError, match=exactly('w.pdparams: damaged pickle data '
                                                   '(ValueError: unreadable)')):
        unpickle(Failing(ValueError('')))
    long = 'x' * 250 + '\nsecond line'
    with pytest.raises(WeightsError, match=exactly(
            f'w.pdparams: not a state dict (EOFError: {"x" * 200})')):
        unpickle(Failing(EOFError(long)), 'not a state dict')
    with pytest.raises(WeightsError, match=exactly('w.pdparams: kept')):
        unpickle(Failing(WeightsError('w.pdparams: kept')))


def test_files_that_cannot_be_read_as_weights(tmp_path):
    with pytest.raises(WeightsError, match=exactly(
            f'{tmp_path}: is a folder, expected a weights file (.pdparams)')):
        read_paddle_pickle(str(tmp_path))
    (tmp_path / 'file').write_bytes(b'x')
    inside = str(tmp_path / 'file' / 'w.pdparams')
    with pytest.raises(WeightsError, match=exactly(f'{inside}: cannot open (Not a directory)')):
        read_paddle_pickle(inside)
    (tmp_path / 'empty.pdparams').write_bytes(b'')
    with pytest.raises(WeightsError, match=exactly(
            f'{tmp_path / "empty.pdparams"}: empty file, expected weights (.pdparams)')):
        read_paddle_pickle(str(tmp_path / 'empty.pdparams'))
    (tmp_path / 'one.pdparams').write_bytes(b'N')
    with pytest.raises(WeightsError, match=exactly(
            f'{tmp_path / "one.pdparams"}: not a Paddle state dict (EOFError: Ran out of '
            'input)')):
        read_paddle_pickle(str(tmp_path / 'one.pdparams'))
