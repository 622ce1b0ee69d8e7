# SPDX-License-Identifier: Apache-2.0
"""The .pth reader at its edges: tensors reaching exactly the last element of their storage
and one past it, strided and empty tensors, storages shared or viewed, sizes equal to the
file, every damaged header of both layouts, each refusal on its whole line."""
import io
import os
import pickle
import re
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

from edvr.convert.torch_checkpoint import load_torch_checkpoint
from edvr.errors import WeightsError
from tests.convert.torch_writer import (MAGIC, Call, Global, Storage, Tensor, _Pickler, save_legacy,
                                        save_zip)

SAVERS = {'zip': save_zip, 'legacy': save_legacy}


def exactly(message):
    return rf'^{re.escape(message)}$'


def six():
    return Storage(np.arange(6, dtype=np.float64))


@pytest.fixture(params=sorted(SAVERS))
def save(request, tmp_path):
    def write(obj):
        path = str(tmp_path / f'{request.param}.pth')
        SAVERS[request.param](obj, path)
        return path
    return write


def test_a_tensor_may_reach_the_last_element_but_not_one_past(save):
    path = save({'w': Tensor(storage=six(), offset=0, size=(2, 3), stride=(3, 1))})
    np.testing.assert_array_equal(load_torch_checkpoint(path)['w'], np.arange(6.).reshape(2, 3))
    path = save({'w': Tensor(storage=six(), offset=1, size=(2, 3), stride=(3, 1))})
    with pytest.raises(WeightsError, match=exactly(
            f'{path}: a tensor of size [2, 3] reaches element 6 of a storage of 6 (file damaged)')):
        load_torch_checkpoint(path)


def test_a_tensor_may_not_hold_more_elements_than_its_storage(save):
    path = save({'w': Tensor(storage=six(), size=(6,), stride=(0,))})     # 6 reads of element 0
    np.testing.assert_array_equal(load_torch_checkpoint(path)['w'], np.zeros(6))
    path = save({'w': Tensor(storage=six(), size=(7,), stride=(0,))})
    with pytest.raises(WeightsError, match=exactly(
            f'{path}: a tensor of size [7] has more elements than its storage of 6 (file damaged)')):
        load_torch_checkpoint(path)


@pytest.mark.parametrize('offset, size, stride', [(-1, (2,), (1,)), (0, (-2,), (1,)),
                                                  (0, (2,), (-1,))])
def test_negative_sizes_strides_and_offsets(save, offset, size, stride):
    path = save({'w': Tensor(storage=six(), offset=offset, size=size, stride=stride)})
    with pytest.raises(WeightsError, match=exactly(
            f'{path}: a tensor has a negative size, stride or offset')):
        load_torch_checkpoint(path)


def test_strided_sized_one_and_empty_tensors(save):
    shared = six()
    path = save({'t': Tensor(storage=shared, offset=1, size=(2, 2), stride=(1, 3)),
                 'one': Tensor(storage=shared, offset=4, size=(1, 2), stride=(2, 1)),
                 'empty': Tensor(storage=shared, offset=0, size=(0, 3), stride=(3, 1)),
                 'param': Call(Global('torch._utils', '_rebuild_parameter'),
                               Tensor(np.float32([1.5, 2.5])), False, OrderedDict())})
    loaded = load_torch_checkpoint(path)
    np.testing.assert_array_equal(loaded['t'], [[1., 4.], [2., 5.]])
    np.testing.assert_array_equal(loaded['one'], [[4., 5.]])
    assert loaded['empty'].shape == (0, 3) and loaded['empty'].dtype == np.float64
    assert loaded['param'].dtype == np.float32 and loaded['param'].tolist() == [1.5, 2.5]


def test_a_tensor_rebuilt_from_something_else_names_the_file(save):
    path = save({'w': Call(Global('torch._utils', '_rebuild_tensor_v2'), 5, 0, (1,), (1,))})
    with pytest.raises(WeightsError, match=exactly(
            f'{path}: a tensor is rebuilt from int, not a storage')):
        load_torch_checkpoint(path)


def test_containers_keep_their_types(save):
    loaded = load_torch_checkpoint(save({'o': OrderedDict(b=1, a=2), 'l': [Tensor(np.int64([3]))],
                                         't': (1, (2,))}))
    assert type(loaded) is dict and type(loaded['o']) is OrderedDict and list(loaded['o']) == ['b', 'a']
    assert type(loaded['l']) is list and loaded['l'][0].tolist() == [3]
    assert loaded['t'] == (1, (2,)) and type(loaded['t']) is tuple


def test_nesting_to_the_limit_and_past_it(save):
    obj = 1
    for _ in range(100):
        obj = [obj]
    assert load_torch_checkpoint(save(obj)) == obj
    path = save([obj])
    with pytest.raises(WeightsError, match=exactly(
            f'{path}: refused to load: containers nested more than 100 levels deep (not '
            'weights or a checkpoint)')):
        load_torch_checkpoint(path)


def zip_with(path, members):
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return str(path)


def pickled(obj):
    buf = io.BytesIO()
    pickler = _Pickler(buf, legacy=False)
    pickler.dump(obj)
    return buf.getvalue(), pickler


def test_zip_layout_refusals(tmp_path):
    data, _ = pickled({'w': Tensor(np.float32([1, 2]))})
    cases = [
        ({'a/b/data.pkl': data, 'x': b''},
         'a zip file but not a PyTorch checkpoint (no single <folder>/data.pkl; entries: '
         'a/b/data.pkl, x)'),
        ({'a/data.pkl': data, 'b/data.pkl': data, 'c': b'', 'd': b'', 'e': b'', 'f': b''},
         'a zip file but not a PyTorch checkpoint (no single <folder>/data.pkl; entries: '
         'a/data.pkl, b/data.pkl, c, d, e)'),
        ({'a/data.pkl': data, 'a/byteorder': b'middle'}, "unknown byte order 'middle'"),
        ({'a/data.pkl': data}, 'storage a/data/0 is missing from the archive'),
        ({'a/data.pkl': data, 'a/data/0': b'\x00' * 7}, 'storage a/data/0 holds 7 bytes, expected 8'),
    ]
    for n, (members, message) in enumerate(cases):
        path = zip_with(tmp_path / f'{n}.pth', members)
        with pytest.raises(WeightsError, match=exactly(f'{path}: {message}')):
            load_torch_checkpoint(path)
    path = zip_with(tmp_path / 'top.pth', {'data.pkl': data, 'data/0': np.float32([1, 2]).tobytes(),
                                           'byteorder': b'little\n'})
    assert load_torch_checkpoint(path)['w'].tolist() == [1.0, 2.0]


def test_a_zip_storage_larger_than_the_file(tmp_path):
    storage = Storage(np.zeros(4, np.float32))
    data, _ = pickled({'w': Tensor(storage=storage, size=(4,), stride=(1,))})
    path = zip_with(tmp_path / 'big.pth', {'a/data.pkl': data, 'a/data/0': b'\x00' * 16})
    assert load_torch_checkpoint(path)['w'].tolist() == [0.0] * 4
    size = os.path.getsize(path)
    numel = size // 4 + 1                         # one element more than the file holds
    data, _ = pickled({'w': Tensor(storage=Storage(np.zeros(numel, np.float32)), size=(1,),
                                   stride=(1,))})
    path = zip_with(tmp_path / 'claims.pth', {'a/data.pkl': data, 'a/data/0': b'\x00' * 16})
    size = os.path.getsize(path)
    with pytest.raises(WeightsError, match=exactly(
            f'{path}: storage a/data/0 declares {numel * 4:,} bytes (16 stored) in a file of '
            f'{size:,} bytes (file damaged)')):
        load_torch_checkpoint(path)


def legacy(path, obj, keys=None, sys_info=None, protocol=1001, counts=None, tail=b''):
    """A legacy stream with any of its parts replaced."""
    with open(path, 'wb') as f:
        pickle.dump(MAGIC, f, protocol=2)
        pickle.dump(protocol, f, protocol=2)
        pickle.dump(sys_info if sys_info is not None else {'little_endian': True}, f, protocol=2)
        pickler = _Pickler(f, legacy=True)
        pickler.dump(obj)
        pickle.dump(list(pickler.storages) if keys is None else keys, f, protocol=2)
        for n, storage in enumerate(pickler.storages.values()):
            count = storage.data.size if counts is None else counts[n]
            f.write(struct.pack('<q', count))
            f.write(storage.data.tobytes())
        f.write(tail)
    return str(path)


def test_legacy_layout_refusals(tmp_path):
    w = {'w': Tensor(np.float32([1, 2]))}
    cases = [
        (dict(protocol=1000), 'PyTorch legacy format version 1000 is not supported (expected 1001)'),
        (dict(sys_info=[1]), 'damaged header (system info is not a dict)'),
        (dict(keys='0'), 'damaged file (storage key list missing)'),
        (dict(keys=['0', '9']), "storage '9' is listed but no tensor uses it"),
        (dict(keys=[]), "a tensor refers to storage '0', which the file does not hold"),
        (dict(counts=[3]), "storage '0' has 3 elements, the pickle says 2"),
    ]
    for n, (changes, message) in enumerate(cases):
        path = legacy(tmp_path / f'{n}.pth', w, **changes)
        with pytest.raises(WeightsError, match=exactly(f'{path}: {message}')):
            load_torch_checkpoint(path)


def test_legacy_counts_against_the_bytes_left(tmp_path):
    path = legacy(tmp_path / 'ok.pth', {'w': Tensor(np.float32([1, 2]))})
    data = open(path, 'rb').read()
    cut = str(tmp_path / 'cut.pth')
    open(cut, 'wb').write(data[:-9])              # ends inside the count
    with pytest.raises(WeightsError, match=exactly(f"{cut}: file ends before storage '0' (truncated)")):
        load_torch_checkpoint(cut)
    open(cut, 'wb').write(data[:-1])              # one byte of the storage missing
    with pytest.raises(WeightsError, match=exactly(
            f"{cut}: storage '0' declares 2 elements (8 bytes) but the file has 7 bytes left "
            '(truncated or damaged)')):
        load_torch_checkpoint(cut)


def test_legacy_big_endian_from_its_system_info(tmp_path):
    storage = Storage(np.float32([1.5, -2.0]))
    path = str(tmp_path / 'big.pth')
    with open(path, 'wb') as f:
        for head in (MAGIC, 1001, {'little_endian': False}):
            pickle.dump(head, f, protocol=2)
        pickler = _Pickler(f, legacy=True)
        pickler.dump({'w': Tensor(storage=storage, size=(2,), stride=(1,))})
        pickle.dump(['0'], f, protocol=2)
        f.write(struct.pack('>q', 2) + storage.data.astype('>f4').tobytes())
    assert load_torch_checkpoint(path)['w'].tolist() == [1.5, -2.0]


def test_files_that_are_not_checkpoints(tmp_path):
    with pytest.raises(WeightsError, match=exactly(
            f'{tmp_path}: is a folder, expected a PyTorch checkpoint (.pth)')):
        load_torch_checkpoint(str(tmp_path))
    (tmp_path / 'f').write_bytes(b'x')
    inside = str(tmp_path / 'f' / 'w.pth')
    with pytest.raises(WeightsError, match=exactly(f'{inside}: cannot open (Not a directory)')):
        load_torch_checkpoint(inside)
    tar = tmp_path / 'old.pth'
    tar.write_bytes(b'\x00' * 257 + b'ustar' + b'\x00' * 250)
    with pytest.raises(WeightsError, match=exactly(
            f'{tar}: PyTorch tar checkpoints (before version 0.4) are not supported; re-save it '
            'with a newer PyTorch')):
        load_torch_checkpoint(str(tar))
    text = tmp_path / 'text.pth'
    text.write_bytes(b'hello')
    with pytest.raises(WeightsError, match=exactly(
            f'{text}: not a PyTorch checkpoint (neither a zip archive nor a pickle stream)')):
        load_torch_checkpoint(str(text))


class _PidPickler(_Pickler):
    """Writes every storage with the persistent id ``pid(key, storage)``."""

    def __init__(self, file, pid):
        super().__init__(file, legacy=False)
        self.pid = pid

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        key = next((k for k, s in self.storages.items() if s is obj), None)
        if key is None:
            key = str(len(self.storages))
            self.storages[key] = obj
        return self.pid(key, obj)


def zip_with_pid(path, obj, pid, byteorder=None):
    buf = io.BytesIO()
    pickler = _PidPickler(buf, pid)
    pickler.dump(obj)
    members = {'a/data.pkl': buf.getvalue()}
    if byteorder is not None:
        members['a/byteorder'] = byteorder
    for key, storage in pickler.storages.items():
        members[f'a/data/{key}'] = storage.data.tobytes()
    return zip_with(path, members)


STORAGE_CLASS = "<edvr.convert.torch_checkpoint.StorageType object at 0x"


@pytest.mark.parametrize('pid, shown', [
    (lambda key, s: ['storage', Global('torch', 'FloatStorage'), key, 'cpu', 2],
     f"['storage', {STORAGE_CLASS}"),
    (lambda key, s: ('storage', Global('torch', 'FloatStorage')), f"('storage', {STORAGE_CLASS}"),
    (lambda key, s: ('other', Global('torch', 'FloatStorage'), key, 'cpu', 2),
     f"('other', {STORAGE_CLASS}"),
    (lambda key, s: ('storage', 'FloatStorage', key, 'cpu', 2),
     "('storage', 'FloatStorage', '0', 'cpu', 2)"),
], ids=['list', 'short', 'not storage', 'no storage class'])
def test_persistent_ids_other_than_storages_are_refused(tmp_path, pid, shown):
    """The id is shown as its repr, cut at 80 characters (a storage class shows its address)."""
    path = zip_with_pid(tmp_path / 'pid.pth', {'w': Tensor(np.float32([1, 2]))}, pid)
    with pytest.raises(WeightsError) as caught:
        load_torch_checkpoint(path)
    head = f'{path}: unexpected persistent id '
    message = str(caught.value)
    assert message.startswith(head + shown) and '\n' not in message
    assert len(message) - len(head) == (80 if 'object at' in shown else len(shown))


def test_a_zip_without_byteorder_is_little_endian(tmp_path):
    path = zip_with_pid(tmp_path / 'le.pth', {'w': Tensor(np.float32([1.5, -2.0]))},
                        lambda key, s: ('storage', Global('torch', 'FloatStorage'), key, 'cpu', 2))
    assert load_torch_checkpoint(path)['w'].tolist() == [1.5, -2.0]


def test_a_byteorder_that_is_not_ascii(tmp_path):
    path = zip_with_pid(tmp_path / 'bo.pth', {'w': Tensor(np.float32([1.5]))},
                        lambda key, s: ('storage', Global('torch', 'FloatStorage'), key, 'cpu', 1),
                        byteorder=b'\xfflittle')
    with pytest.raises(WeightsError, match=exactly(f"{path}: unknown byte order '\ufffdlittle'")):
        load_torch_checkpoint(path)


def test_big_endian_bfloat16(tmp_path):
    bits = np.array([0x3FC0, 0xC000, 0x4049], np.uint16)       # 1.5, -2.0, 3.140625
    path = str(tmp_path / 'bf16.pth')
    save_zip({'w': Tensor(storage=Storage(bits, 'BFloat16Storage'), size=(3,), stride=(1,))},
             path, byteorder='big')
    loaded = load_torch_checkpoint(path)['w']
    assert loaded.dtype == np.float32 and loaded.tolist() == [1.5, -2.0, 3.140625]


def test_an_empty_float32_tensor_keeps_its_dtype(save):
    path = save({'w': Tensor(storage=Storage(np.float32([1, 2])), size=(0,), stride=(1,))})
    loaded = load_torch_checkpoint(path)['w']
    assert loaded.shape == (0,) and loaded.dtype == np.float32


@pytest.mark.parametrize('kind', ['dict', 'tuple'])
def test_nesting_of_dicts_and_tuples_to_the_limit(save, kind):
    obj = Tensor(np.float32([1]))              # {'x': ...} is level 1: the tensor at 100
    for _ in range(99):
        obj = {'a': obj} if kind == 'dict' else (obj,)
    loaded = load_torch_checkpoint(save({'x': obj}))['x']
    for _ in range(99):
        loaded = loaded['a'] if kind == 'dict' else loaded[0]
    assert loaded.tolist() == [1.0]
    path = save({'x': {'a': obj} if kind == 'dict' else (obj,)})
    with pytest.raises(WeightsError, match=exactly(
            f'{path}: refused to load: containers nested more than 100 levels deep (not '
            'weights or a checkpoint)')):
        load_torch_checkpoint(path)


def test_a_storage_declaring_exactly_the_file_size(tmp_path):
    """Not more than the file: the size check passes and the short member is named."""
    numel = 1000
    data, _ = pickled({'w': Tensor(storage=Storage(np.zeros(numel, np.float32)), size=(1,),
                                   stride=(1,))})
    path = tmp_path / 'exact.pth'
    zip_with(path, {'a/data.pkl': data, 'a/data/0': b'\x00' * 16})
    with zipfile.ZipFile(path, 'a') as archive:
        archive.comment = b'x' * (numel * 4 - os.path.getsize(path))
    assert os.path.getsize(path) == numel * 4
    with pytest.raises(WeightsError, match=exactly(
            f'{path}: storage a/data/0 holds 16 bytes, expected 4000')):
        load_torch_checkpoint(str(path))


@pytest.mark.parametrize('member', ['a/data.pkl', 'a/data/0'])
def test_a_member_failing_its_checksum(tmp_path, member):
    data, _ = pickled({'w': Tensor(np.float32([1, 2]))})
    path = zip_with(tmp_path / 'crc.pth', {'a/data.pkl': data, 'a/data/0': np.float32([1, 2]).tobytes()})
    raw = bytearray(open(path, 'rb').read())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[start + info.file_size - 1] ^= 0xFF
    open(path, 'wb').write(bytes(raw))
    with pytest.raises(WeightsError, match=exactly(
            f"{path}: damaged or truncated zip archive (Bad CRC-32 for file '{member}')")):
        load_torch_checkpoint(path)


def legacy_with_views(path, keys, sys_info=None, counts=None, pid_numel=None):
    """A legacy stream whose tensors lie in views of one root storage of 6 float32."""
    root = Storage(np.arange(6, dtype=np.float32))

    class Views(_Pickler):
        def persistent_id(self, obj):
            if not isinstance(obj, Storage):
                return None
            self.storages['root'] = root
            numel = root.data.size if pid_numel is None else pid_numel
            return ('storage', Global('torch', 'FloatStorage'), 'root', 'cpu', numel,
                    ('root', 2, 3))
    with open(path, 'wb') as f:
        for head in (MAGIC, 1001, sys_info if sys_info is not None else {'little_endian': True}):
            pickle.dump(head, f, protocol=2)
        Views(f, legacy=True).dump({'w': Tensor(storage=root, offset=1, size=(2,), stride=(1,))})
        pickle.dump(keys, f, protocol=2)
        big = sys_info is not None and sys_info.get('little_endian') is False
        if keys:
            f.write(struct.pack('>q' if big else '<q', 6 if counts is None else counts))
            f.write(root.data.astype('>f4' if big else '<f4').tobytes())
    return str(path)


def test_legacy_views_into_a_root_storage(tmp_path):
    path = legacy_with_views(tmp_path / 'view.pth', ['root'])
    assert load_torch_checkpoint(path)['w'].tolist() == [3.0, 4.0]    # view 2..4, offset 1
    path = legacy_with_views(tmp_path / 'unread.pth', [])
    with pytest.raises(WeightsError, match=exactly(
            f"{path}: a tensor refers to storage '?', which the file does not hold")):
        load_torch_checkpoint(path)


def test_legacy_system_info_without_byte_order_is_little_endian(tmp_path):
    path = legacy_with_views(tmp_path / 'noinfo.pth', ['root'], sys_info={})
    assert load_torch_checkpoint(path)['w'].tolist() == [3.0, 4.0]


@pytest.mark.parametrize('little', [True, False])
def test_legacy_negative_and_empty_storages(tmp_path, little):
    path = legacy_with_views(tmp_path / 'neg.pth', ['root'], counts=-1, pid_numel=-1,
                             sys_info={'little_endian': little})
    with pytest.raises(WeightsError, match=exactly(
            f"{path}: storage 'root' declares -1 elements (-4 bytes) but the file has 24 bytes "
            'left (truncated or damaged)')):
        load_torch_checkpoint(path)
    if not little:
        big = legacy_with_views(tmp_path / 'big.pth', ['root'], sys_info={'little_endian': False})
        assert load_torch_checkpoint(big)['w'].tolist() == [3.0, 4.0]
        return
    empty = legacy(tmp_path / 'empty.pth', {'w': Tensor(storage=Storage(np.zeros(0, np.float32)),
                                                        size=(0,), stride=(1,))})
    loaded = load_torch_checkpoint(empty)['w']
    assert loaded.shape == (0,) and loaded.dtype == np.float32
