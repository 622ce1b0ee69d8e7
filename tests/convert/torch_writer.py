# SPDX-License-Identifier: Apache-2.0
"""Write PyTorch checkpoint files without torch, for tests.

`Tensor` wraps a numpy array the way ``torch.save`` pickles a tensor: a call of
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
hooks)`` whose storage is a persistent id ``('storage', torch.<X>Storage, key,
'cpu', numel)``. `save_zip` writes the PyTorch >= 1.6 zip layout
(``<prefix>/data.pkl``, ``<prefix>/data/<key>``, ``<prefix>/byteorder``,
``<prefix>/version``, and torch 2.x's ``.format_version``, ``.storage_alignment``
and ``.data/serialization_id``; torch also pads records to 64-byte offsets,
which readers need not know); `save_legacy` writes the older stream (magic number,
protocol 1001, system info, object, storage keys, then every storage as an
int64 element count and its bytes). `Global` writes any module.name reference,
so tests can also build pickles that ask for forbidden callables.
"""
import io
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np

MAGIC = 0x1950a86a20f9469cfc6c
STORAGE_NAMES = {np.dtype(np.float32): 'FloatStorage', np.dtype(np.float64): 'DoubleStorage',
                 np.dtype(np.float16): 'HalfStorage', np.dtype(np.int64): 'LongStorage',
                 np.dtype(np.uint8): 'ByteStorage'}


class Global:
    """A reference to ``module.name`` in the pickle (never resolved here)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):
        raise RuntimeError('a pickle-only stand-in')


class Call:
    """Pickles as ``Global(module, name)(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


class Storage:
    """A flat storage: ``data`` (1-D numpy), pickled as a persistent id."""

    def __init__(self, data, type_name=None):
        self.data = np.ascontiguousarray(data).reshape(-1)
        self.type_name = type_name or STORAGE_NAMES[self.data.dtype]


class Tensor:
    """A tensor over ``storage`` (a view with ``offset`` and element ``stride``)."""

    def __init__(self, array=None, storage=None, offset=0, size=None, stride=None):
        if storage is None:
            array = np.ascontiguousarray(array)
            storage, size = Storage(array), array.shape
            stride = tuple(s // array.itemsize for s in array.strides) if array.size else \
                tuple(int(np.prod(size[i + 1:])) for i in range(len(size)))
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def __reduce__(self):
        return (Global('torch._utils', '_rebuild_tensor_v2'),
                (self.storage, self.offset, self.size, self.stride, False, OrderedDict()))


class _Pickler(pickle._Pickler):
    """Pickler (protocol 2 unless told) that writes `Global` names and storage persistent ids."""

    def __init__(self, file, legacy, protocol=2):
        super().__init__(file, protocol=protocol)
        self.legacy, self.storages = legacy, OrderedDict()

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Global):
            self.write(pickle.GLOBAL + f'{obj.module}\n{obj.name}\n'.encode())
            return
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        key = next((k for k, s in self.storages.items() if s is obj), None)
        if key is None:
            key = str(len(self.storages))
            self.storages[key] = obj
        pid = ('storage', Global('torch', obj.type_name), key, 'cpu', obj.data.size)
        return pid + (None,) if self.legacy else pid


def state_dict(arrays):
    """An OrderedDict of `Tensor` with the ``_metadata`` attribute torch state dicts carry."""
    out = OrderedDict((k, v if isinstance(v, Tensor) else Tensor(v)) for k, v in arrays.items())
    out._metadata = OrderedDict({'': {'version': 1}})
    return out


def _to_tensors(obj):
    if isinstance(obj, np.ndarray):
        return Tensor(obj)
    if isinstance(obj, OrderedDict) and not hasattr(obj, '_metadata'):
        return OrderedDict((k, _to_tensors(v)) for k, v in obj.items())
    if isinstance(obj, dict) and not isinstance(obj, OrderedDict):
        return {k: _to_tensors(v) for k, v in obj.items()}
    return obj


def _raw(storage, big_endian):
    data = storage.data
    return data.astype(data.dtype.newbyteorder('>')).tobytes() if big_endian else data.tobytes()


def save_zip(obj, path, prefix='archive', byteorder='little'):
    """``torch.save`` zip layout; numpy arrays in plain dicts become tensors."""
    buf = io.BytesIO()
    pickler = _Pickler(buf, legacy=False)
    pickler.dump(_to_tensors(obj))
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as archive:  # members in torch 2.x order
        archive.writestr(f'{prefix}/data.pkl', buf.getvalue())
        archive.writestr(f'{prefix}/.format_version', '1')
        archive.writestr(f'{prefix}/.storage_alignment', '64')
        archive.writestr(f'{prefix}/byteorder', byteorder)
        for key, storage in pickler.storages.items():
            archive.writestr(f'{prefix}/data/{key}', _raw(storage, byteorder == 'big'))
        archive.writestr(f'{prefix}/version', '3\n')
        archive.writestr(f'{prefix}/.data/serialization_id', '0' * 40)


def save_legacy(obj, path):
    """``torch.save(..., _use_new_zipfile_serialization=False)`` layout (little-endian)."""
    with open(path, 'wb') as f:
        for head in (MAGIC, 1001, {'protocol_version': 1001, 'little_endian': True,
                                    'type_sizes': {'short': 2, 'int': 4, 'long': 4}}):
            pickle.dump(head, f, protocol=2)
        pickler = _Pickler(f, legacy=True)
        pickler.dump(_to_tensors(obj))
        pickle.dump(list(pickler.storages), f, protocol=2)
        for storage in pickler.storages.values():
            f.write(struct.pack('<q', storage.data.size))
            f.write(storage.data.tobytes())


SAVERS = {'zip': save_zip, 'legacy': save_legacy}
