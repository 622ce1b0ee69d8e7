# SPDX-License-Identifier: Apache-2.0
"""Read PyTorch checkpoints (``torch.save`` files) into numpy arrays without importing torch.

Two file layouts exist:

* zip (PyTorch >= 1.6): a zip archive with one top folder (``archive/`` or the
  file's stem) holding ``data.pkl`` (the pickled object, tensors referring to
  storages by key), ``data/<key>`` (each storage's raw bytes), ``byteorder``
  (``little`` or ``big``; absent means little) and ``version``.
* legacy stream: five things back to back in one file: a pickled magic number,
  a pickled protocol version (1001), a pickled dict of system info
  (``little_endian``, type sizes), the pickled object, a pickled list of
  storage keys; then, per key in that order, an int64 element count and the
  storage's raw bytes.

In both, a tensor is pickled as a call of ``torch._utils._rebuild_tensor_v2``
(storage, offset, size, stride, ...) and its storage as a persistent id
``('storage', <storage class>, key, location, numel[, view])``.

A pickle can name any Python callable and have it called while loading, so
`SafeUnpickler` resolves only an allow-list of names (the tensor-rebuild
functions, storage classes and ``collections.OrderedDict``) to inert stand-ins
and refuses every other name with a WeightsError before anything runs.
"""
import functools
import io
import math
import os
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np

from edvr.errors import WeightsError
from edvr.utils.safe_pickle import RestrictedUnpickler, check_depth, unpickle

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL = 1001
# The legacy stream starts with the magic number pickled (protocol 2 unless torch.save
# was given another); checked byte for byte before anything is unpickled.
LEGACY_HEADS = {pickle.dumps(LEGACY_MAGIC, protocol=p) for p in range(2, pickle.HIGHEST_PROTOCOL + 1)}

# torch storage class -> numpy dtype of its elements ('bfloat16' is widened by hand).
STORAGE_DTYPES = {
    'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
    'BFloat16Storage': 'bfloat16', 'LongStorage': np.int64, 'IntStorage': np.int32,
    'ShortStorage': np.int16, 'CharStorage': np.int8, 'ByteStorage': np.uint8,
    'BoolStorage': np.bool_,
}


class StorageType:
    """Stand-in for a ``torch.<X>Storage`` class named in a pickle."""

    def __init__(self, name):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]

    @property
    def itemsize(self):
        return 2 if self.dtype == 'bfloat16' else np.dtype(self.dtype).itemsize

    def decode(self, raw, big_endian=False):
        """Raw bytes -> 1-D numpy array in native byte order."""
        if self.dtype == 'bfloat16':
            half = np.frombuffer(raw, dtype='>u2' if big_endian else '<u2').astype(np.uint32)
            return (half << 16).view(np.float32)
        dtype = np.dtype(self.dtype).newbyteorder('>' if big_endian else '<')
        return np.frombuffer(raw, dtype=dtype).astype(np.dtype(self.dtype), copy=False)


class Storage:
    """A storage named by a persistent id; ``data`` (1-D numpy) is filled when read."""

    def __init__(self, key, storage_type, numel):
        self.key, self.type, self.numel = key, storage_type, int(numel)
        self.data = None


class StorageView:
    """A legacy view into a root storage (element offset and length)."""

    def __init__(self, root, offset, numel):
        self.root, self.offset, self.numel = root, int(offset), int(numel)

    @property
    def data(self):
        return None if self.root.data is None else \
            self.root.data[self.offset:self.offset + self.numel]


class PendingTensor:
    """A tensor to cut from its storage once the storage bytes have been read."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)

    def materialise(self, where):
        data = self.storage.data
        if data is None:
            raise WeightsError(f'{where}: a tensor refers to storage '
                               f'{getattr(self.storage, "key", "?")!r}, which the file does not hold')
        if any(s < 0 for s in self.size) or any(s < 0 for s in self.stride) or self.offset < 0:
            raise WeightsError(f'{where}: a tensor has a negative size, stride or offset')
        if 0 in self.size:
            return np.zeros(self.size, dtype=data.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if last >= data.size:
            raise WeightsError(f'{where}: a tensor of size {list(self.size)} reaches element '
                               f'{last} of a storage of {data.size} (file damaged)')
        if math.prod(self.size) > data.size:
            raise WeightsError(f'{where}: a tensor of size {list(self.size)} has more elements '
                               f'than its storage of {data.size} (file damaged)')
        strides = tuple(s * data.itemsize for s in self.stride)
        view = np.lib.stride_tricks.as_strided(data[self.offset:], self.size, strides)
        return np.array(view)


def _rebuild_tensor(storage, offset, size, stride, *unused, where='?'):
    """Stand-in for ``torch._utils._rebuild_tensor(_v2)``: remember the slicing."""
    if not isinstance(storage, (Storage, StorageView)):
        raise WeightsError(f'{where}: a tensor is rebuilt from {type(storage).__name__}, '
                           f'not a storage')
    return PendingTensor(storage, offset, size, stride)


def _rebuild_parameter(data, *unused):
    """Stand-in for ``torch._utils._rebuild_parameter(_with_state)``: a parameter is its data."""
    return data


ALLOWED = {
    ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
    ('collections', 'OrderedDict'): OrderedDict,
}
ALLOWED.update({('torch', name): StorageType(name) for name in STORAGE_DTYPES})


class SafeUnpickler(RestrictedUnpickler):
    """An unpickler that resolves only `ALLOWED` names and PyTorch storage ids.

    Args:
        file: binary file positioned at a pickle.
        where: the checkpoint's path, for messages.
        load_storage: ``f(key, StorageType, numel) -> Storage`` for persistent ids.
    """

    allowed = ALLOWED
    accepts = 'a tensor, storage or plain container (only PyTorch state dicts are read)'
    encoding = 'utf-8'

    def __init__(self, file, where, load_storage):
        super().__init__(file, where)
        self.load_storage = load_storage

    def find_class(self, module, name):
        found = super().find_class(module, name)
        if found is _rebuild_tensor:   # its refusal names the file
            return functools.partial(found, where=self.where)
        return found

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == 'storage'
                and isinstance(pid[1], StorageType)):
            raise WeightsError(f'{self.where}: unexpected persistent id {pid!r:.80}')
        storage = self.load_storage(str(pid[2]), pid[1], pid[4])
        view = pid[5] if len(pid) > 5 else None
        if view is not None:  # legacy: (view_key, offset, numel)
            return StorageView(storage, view[1], view[2])
        return storage


def _materialise(obj, where, depth=0):
    """Replace every PendingTensor in nested dicts/lists/tuples by a numpy array."""
    check_depth(depth, where)
    if isinstance(obj, PendingTensor):
        return obj.materialise(where)
    if isinstance(obj, dict):
        out = type(obj)() if isinstance(obj, OrderedDict) else {}
        for key, value in obj.items():
            out[key] = _materialise(value, where, depth + 1)
        return out
    if isinstance(obj, list):
        return [_materialise(v, where, depth + 1) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialise(v, where, depth + 1) for v in obj)
    return obj


def _load_zip(path, f):
    file_size = os.fstat(f.fileno()).st_size
    try:
        archive = zipfile.ZipFile(f)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise WeightsError(f'{path}: damaged or truncated zip archive ({exc})') from None
    pkl = [n for n in names if n == 'data.pkl' or (n.endswith('/data.pkl') and n.count('/') == 1)]
    if len(pkl) != 1:
        raise WeightsError(f'{path}: a zip file but not a PyTorch checkpoint '
                           f'(no single <folder>/data.pkl; entries: {", ".join(names[:5])})')
    prefix = pkl[0][:-len('data.pkl')]
    big_endian = False
    if prefix + 'byteorder' in names:
        order = archive.read(prefix + 'byteorder').decode('ascii', 'replace').strip()
        if order not in ('little', 'big'):
            raise WeightsError(f'{path}: unknown byte order {order!r}')
        big_endian = order == 'big'
    storages = {}

    def load_storage(key, storage_type, numel):
        if key not in storages:
            member = f'{prefix}data/{key}'
            expected = int(numel) * storage_type.itemsize
            try:
                stored = archive.getinfo(member).file_size
            except KeyError:
                raise WeightsError(f'{path}: storage {member} is missing from the archive') from None
            if expected > file_size or stored > max(expected, file_size):
                raise WeightsError(f'{path}: storage {member} declares {expected:,} bytes '
                                   f'({stored:,} stored) in a file of {file_size:,} bytes '
                                   f'(file damaged)')
            try:
                raw = archive.read(member)
            except KeyError:
                raise WeightsError(f'{path}: storage {member} is missing from the archive') from None
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                raise WeightsError(f'{path}: damaged or truncated zip archive ({exc})') from None
            if len(raw) < expected:
                raise WeightsError(f'{path}: storage {member} holds {len(raw)} bytes, '
                                   f'expected {expected}')
            storage = Storage(key, storage_type, numel)
            storage.data = storage_type.decode(raw[:expected], big_endian)
            storages[key] = storage
        return storages[key]

    try:
        data = archive.read(pkl[0])
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise WeightsError(f'{path}: damaged or truncated zip archive ({exc})') from None
    obj = unpickle(SafeUnpickler(io.BytesIO(data), path, load_storage))
    return _materialise(obj, path)


def _load_legacy(path, f):
    storages = {}

    def load_storage(key, storage_type, numel):
        if key not in storages:
            storages[key] = Storage(key, storage_type, numel)
        return storages[key]

    def load():
        return unpickle(SafeUnpickler(f, path, load_storage))

    head = f.read(max(len(h) for h in LEGACY_HEADS))
    magic = next((h for h in LEGACY_HEADS if head.startswith(h)), None)
    if magic is None:
        raise WeightsError(f"{path}: not a PyTorch checkpoint (a pickle, but without PyTorch's "
                           f'magic number; a Paddle .pdparams loads directly with --load)')
    f.seek(len(magic))
    protocol = load()
    if protocol != LEGACY_PROTOCOL:
        raise WeightsError(f'{path}: PyTorch legacy format version {protocol!r} is not '
                           f'supported (expected {LEGACY_PROTOCOL})')
    sys_info = load()
    if not isinstance(sys_info, dict):
        raise WeightsError(f'{path}: damaged header (system info is not a dict)')
    big_endian = not sys_info.get('little_endian', True)
    obj = load()
    keys = load()
    if not isinstance(keys, list):
        raise WeightsError(f'{path}: damaged file (storage key list missing)')
    for key in keys:
        storage = storages.get(str(key))
        if storage is None:
            raise WeightsError(f'{path}: storage {key!r} is listed but no tensor uses it')
        head = f.read(8)
        if len(head) < 8:
            raise WeightsError(f'{path}: file ends before storage {key!r} (truncated)')
        numel = struct.unpack('>q' if big_endian else '<q', head)[0]
        if numel != storage.numel:
            raise WeightsError(f'{path}: storage {key!r} has {numel} elements, '
                               f'the pickle says {storage.numel}')
        left = os.fstat(f.fileno()).st_size - f.tell()
        if numel < 0 or numel * storage.type.itemsize > left:
            raise WeightsError(f'{path}: storage {key!r} declares {numel:,} elements '
                               f'({numel * storage.type.itemsize:,} bytes) but the file has '
                               f'{left:,} bytes left (truncated or damaged)')
        raw = f.read(numel * storage.type.itemsize)
        if len(raw) < numel * storage.type.itemsize:
            raise WeightsError(f'{path}: file ends inside storage {key!r} (truncated)')
        storage.data = storage.type.decode(raw, big_endian)
    return _materialise(obj, path)


def load_torch_checkpoint(path):
    """Read a ``torch.save`` file (zip or legacy) with tensors as numpy arrays.

    Args:
        path: the checkpoint file.

    Returns:
        The saved object (usually a dict; tensors become numpy arrays).

    Raises:
        WeightsError: missing, unreadable, damaged or not a PyTorch checkpoint,
            or the pickle names anything outside the allow-list.
    """
    if os.path.isdir(path):
        raise WeightsError(f'{path}: is a folder, expected a PyTorch checkpoint (.pth)')
    try:
        f = open(path, 'rb')
    except OSError as exc:
        raise WeightsError(f'{path}: cannot open ({exc.strerror or exc})') from None
    with f:
        head = f.read(4)
        f.seek(0)
        if head.startswith(b'PK'):
            return _load_zip(path, f)
        if head[:1] == b'\x80':  # pickle protocol 2+ opcode
            return _load_legacy(path, f)
        if _is_tar(f):
            raise WeightsError(f'{path}: PyTorch tar checkpoints (before version 0.4) are not '
                               f'supported; re-save it with a newer PyTorch')
    raise WeightsError(f'{path}: not a PyTorch checkpoint (neither a zip archive nor a '
                       f'pickle stream)')


def _is_tar(f):
    """Whether ``f`` looks like a tar archive (the ustar magic at byte 257)."""
    f.seek(257)
    magic = f.read(5)
    f.seek(0)
    return magic == b'ustar'
