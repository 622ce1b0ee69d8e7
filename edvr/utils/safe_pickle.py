# SPDX-License-Identifier: Apache-2.0
"""Read pickles that may come from anyone without running code from them.

A pickle names Python callables (``module.name``) and has them called while it
loads, so ``pickle.load`` of a crafted file runs whatever the file asks for.
`RestrictedUnpickler` resolves only the names of an allow-list and refuses any
other before anything is called, with a WeightsError naming what the file
asked for.

`read_paddle_pickle` applies it to what ``paddle.save`` and this project write
(``.pdparams`` weights and checkpoints). Measured on the files themselves, they
ask for no more than:

* ``collections.OrderedDict``: state dicts;
* ``numpy.ndarray``, ``numpy.dtype`` and ``numpy._core.multiarray._reconstruct``
  (``numpy.core.multiarray._reconstruct`` when written with numpy 1.x): arrays;
* ``builtins.tuple``: ``paddle.save`` stores a Tensor inside a nested dict as
  ``tuple((name, array))``;
* ``_codecs.encode`` with the latin-1 codec: how pickle protocol 2 stores bytes.

Everything else (``os.system``, ``builtins.eval``, ...) is refused.
"""
import codecs
import functools
import math
import mmap
import os
import pickle
from collections import OrderedDict

import numpy as np

from edvr.errors import WeightsError

# the key paddle.save adds to a state dict (structured name -> parameter name)
NAME_TABLE_KEY = 'StructuredToParameterName@@'
MAX_DEPTH = 100  # nesting of containers; a state dict or checkpoint has fewer than 10


def check_depth(depth, where):
    """Refuse containers nested deeper than `MAX_DEPTH` (before Python's recursion limit)."""
    if depth > MAX_DEPTH:
        raise WeightsError(f'{where}: refused to load: containers nested more than {MAX_DEPTH} '
                           f'levels deep (not weights or a checkpoint)')


def declared_bytes(shape, dtype, where, limit):
    """Bytes an array of ``shape`` and ``dtype`` needs; refused if more than ``limit``."""
    try:
        dims = [int(shape)] if isinstance(shape, int) else [int(d) for d in shape]
        itemsize = np.dtype(dtype).itemsize
    except (TypeError, ValueError) as exc:
        raise WeightsError(f'{where}: damaged array header ({exc})') from None
    if any(d < 0 for d in dims):
        raise WeightsError(f'{where}: an array with a negative size {dims}')
    need = math.prod(dims) * itemsize
    if need > limit:
        raise WeightsError(f'{where}: an array of shape {dims} ({need:,} bytes) is larger than '
                           f'the file ({limit:,} bytes); the file is damaged or not weights')
    return need


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names in `allowed` and no persistent ids.

    Args:
        file: binary file positioned at a pickle.
        where: the file's path, for messages.
    """

    allowed = {}  # (module, name) -> the object it resolves to
    accepts = 'a plain container'  # what the allow-list stands for, for messages
    encoding = 'ASCII'

    def __init__(self, file, where):
        super().__init__(file, encoding=self.encoding)
        self.where = where

    def find_class(self, module, name):
        found = self.allowed.get((module, name))
        if found is None:
            raise WeightsError(f'{self.where}: refused to load: the pickle asks for {module}.{name}, '
                               f'which is not {self.accepts}')
        return found

    def persistent_load(self, pid):
        raise WeightsError(f'{self.where}: refused to load: unexpected persistent id {pid!r:.80}')


def unpickle(unpickler, failure='damaged pickle data'):
    """Run ``unpickler.load()``, turning low-level failures into one WeightsError.

    Args:
        unpickler: a `RestrictedUnpickler`.
        failure: what the message calls a file that does not unpickle.
    """
    try:
        return unpickler.load()
    except WeightsError:
        raise
    except Exception as exc:  # truncated or garbled pickles raise many types
        detail = str(exc).splitlines()[0][:200] if str(exc) else 'unreadable'
        raise WeightsError(f'{unpickler.where}: {failure} ({type(exc).__name__}: {detail})') from None


def _latin1_encode(text, encoding='latin1', where='?'):
    """``_codecs.encode`` as pickle protocol 2 uses it for bytes; no other codec."""
    if not isinstance(text, str) or not isinstance(encoding, str) \
            or codecs.lookup(encoding).name != 'iso8859-1':
        raise WeightsError(f'{where}: refused to load: the pickle asks for _codecs.encode with '
                           f'{encoding!r}, not latin-1 text')
    return text.encode('latin1')


_reconstruct = np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's array-rebuild function


class _SizedArray:
    """Stands for ``numpy.ndarray`` in a pickle: an array no larger than the file."""

    def __init__(self, where, limit):
        self.where, self.limit = where, limit

    def __call__(self, shape, dtype=float, buffer=None, offset=0, strides=None, order=None):
        if buffer is None:
            declared_bytes(shape, dtype, self.where, self.limit)
        return np.ndarray(shape, dtype, buffer, offset, strides, order)


def _sized_reconstruct(subtype, shape, dtype, where, limit):
    """numpy's ``_reconstruct`` for plain arrays, refusing sizes beyond the file's."""
    if not isinstance(subtype, _SizedArray) and subtype is not np.ndarray:
        raise WeightsError(f'{where}: refused to load: an array of type {subtype!r:.60}')
    declared_bytes(shape, dtype, where, limit)
    return _reconstruct(np.ndarray, shape, dtype)


class PaddleUnpickler(RestrictedUnpickler):
    """Resolves what ``paddle.save`` (Paddle 2.x and 3.x, numpy 1.x and 2.x) needs.

    Args:
        file, where: as for `RestrictedUnpickler`.
        limit: the file's size; no array may declare more bytes than that.
    """

    allowed = {
        ('collections', 'OrderedDict'): OrderedDict,
        ('builtins', 'tuple'): tuple,
        ('numpy', 'ndarray'): np.ndarray,
        ('numpy', 'dtype'): np.dtype,
        ('numpy._core.multiarray', '_reconstruct'): _reconstruct,
        ('numpy.core.multiarray', '_reconstruct'): _reconstruct,
        ('_codecs', 'encode'): _latin1_encode,
    }
    accepts = 'an array or plain container (only weights and checkpoints are read)'
    encoding = 'latin1'  # as paddle.load reads

    def __init__(self, file, where, limit=float('inf')):
        super().__init__(file, where)
        self.limit = limit
        self.array = _SizedArray(where, limit)

    def find_class(self, module, name):
        found = super().find_class(module, name)
        if found is _latin1_encode:
            return functools.partial(found, where=self.where)
        if found is np.ndarray:
            return self.array
        if found is _reconstruct:
            return functools.partial(_sized_reconstruct, where=self.where, limit=self.limit)
        return found


def _clean(obj, where, depth=0):
    """Undo ``paddle.save``'s wrappings: ``(name, array)`` tensors become arrays, name tables go."""
    check_depth(depth, where)
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise WeightsError(f'{where}: refused to load: an array of Python objects')
        return obj
    if isinstance(obj, dict):
        out = OrderedDict() if isinstance(obj, OrderedDict) else {}
        for key, value in obj.items():
            if key != NAME_TABLE_KEY:
                out[key] = _clean(value, where, depth + 1)
        return out
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], str) \
            and isinstance(obj[1], np.ndarray):
        return _clean(obj[1], where, depth + 1)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_clean(v, where, depth + 1) for v in obj)
    return obj


def read_paddle_pickle(path):
    """Read a ``.pdparams`` pickle with tensors as numpy arrays, refusing foreign names.

    Args:
        path: a file written by ``paddle.save``, PaddleGAN or this project.

    Returns:
        The saved object (dicts of numpy arrays and Python scalars).

    Raises:
        WeightsError: unreadable, not a pickle, or it asks for anything outside
            `PaddleUnpickler.allowed`.
    """
    if os.path.isdir(path):
        raise WeightsError(f'{path}: is a folder, expected a weights file (.pdparams)')
    try:
        f = open(path, 'rb')
    except OSError as exc:
        raise WeightsError(f'{path}: cannot open ({exc.strerror or exc})') from None
    with f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise WeightsError(f'{path}: empty file, expected weights (.pdparams)')
        try:  # reads never ask for more than the file holds (a damaged length cannot allocate)
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise WeightsError(f'{path}: cannot read ({exc})') from None
        with data:
            return _clean(unpickle(PaddleUnpickler(data, path, size), 'not a Paddle state dict'),
                          path)
