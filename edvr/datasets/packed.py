# SPDX-License-Identifier: Apache-2.0
"""Packed frame stores: many frames in one LMDB database, read without per-file overhead.

A store is a folder ``<name>.lmdb/`` holding an LMDB database (``data.mdb``)
and ``edvr_pack.json``, written last, which describes it::

    {"format": "edvr-pack", "version": 1, "codec": "raw" | "png",
     "channels": "rgb", "frames": N,
     "clips": {"000": {"shape": [720, 1280, 3], "names": ["00000000.png", ...]}, ...}}

A frame is stored under the key ``<clip>/<stem>`` (its path relative to the
packed folder, without extension). With the ``raw`` codec the value is the
frame's uint8 pixels, RGB, row-major (h, w, c): a read returns a view into the
memory-mapped database, so cropping a patch touches only the rows it needs and
nothing is decoded. With the ``png`` codec the value is the PNG file's bytes
(smaller, decoded whole on each read, as BasicSR and mmagic stores are).

A dataset reads a store when its config says ``io_backend: lmdb`` (or
``{type: lmdb}``) and its ``lq_folder``/``gt_folder`` point at stores; a frame
path is then ``<store>/<clip>/<frame>.png`` exactly as with folders, and
`read_frame` maps it to the key. Without ``io_backend`` datasets read folders.
"""
import json
import os

import cv2
import numpy as np

from edvr.errors import ConfigError, DataError

META_NAME = 'edvr_pack.json'
FORMAT = 'edvr-pack'
VERSION = 1
CODECS = ('raw', 'png')
BACKENDS = ('folder', 'disk', 'lmdb')


def import_lmdb():
    """The ``lmdb`` module, or a clear error naming the package to install."""
    try:
        import lmdb
    except ImportError:
        raise ConfigError('packed stores need the "lmdb" package: '
                          'python -m pip install lmdb') from None
    return lmdb


def parse_io_backend(value, where='io_backend'):
    """The backend name from a config value: None/'folder'/'disk' -> 'folder', 'lmdb' -> 'lmdb'.

    Accepts a string or a BasicSR-style dict ``{type: lmdb}``.
    """
    if isinstance(value, dict):
        value = value.get('type', value.get('name'))
    if value is None:
        return 'folder'
    if value not in BACKENDS:
        raise ConfigError(f'{where}: expected one of {", ".join(BACKENDS)}, got {value!r}')
    return 'folder' if value == 'disk' else value


def frame_key(clip, name):
    """The store key of frame file ``name`` of ``clip``: 'clip/stem'."""
    return f'{clip}/{os.path.splitext(name)[0]}'


def read_pack_meta(root):
    """The parsed ``edvr_pack.json`` of a complete store.

    Raises:
        DataError: ``root`` is not a complete store (missing, unfinished or
            of another format).
    """
    path = os.path.join(root, META_NAME)
    if not os.path.isdir(root):
        raise DataError(f'{root}: packed store not found')
    if not os.path.isfile(path):
        raise DataError(f'{root}: not a complete packed store ({META_NAME} missing; '
                        f'run tools/prepare_data.py pack again to finish it)')
    try:
        with open(path, encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError) as exc:
        raise DataError(f'{path}: unreadable store description ({exc})') from None
    if meta.get('format') != FORMAT or meta.get('version') != VERSION \
            or meta.get('codec') not in CODECS:
        raise DataError(f'{path}: expected an {FORMAT} version {VERSION} description with codec '
                        f'{" or ".join(CODECS)}')
    return meta


class PackedStore:
    """Read access to one packed store (opened lazily, once per process).

    Args:
        root: the store folder.

    Attributes:
        codec: 'raw' or 'png'.
        clips: dict clip -> {'shape': [h, w, c], 'names': [frame file names]}.
    """

    def __init__(self, root):
        self.root = os.path.normpath(str(root))
        meta = read_pack_meta(self.root)
        self.codec = meta['codec']
        self.clips = meta['clips']
        self._pid = None
        self._txn = None

    def _transaction(self):
        # LMDB handles must not cross fork(): each loader worker opens its own.
        if self._pid != os.getpid():
            if self._pid is not None:  # inherited from the parent: drop this process's copy
                self._txn = None
                self._env.close()
            lmdb = import_lmdb()
            env = lmdb.open(self.root, readonly=True, lock=False, readahead=False,
                            meminit=False, max_readers=2048)
            self._env, self._txn, self._pid = env, env.begin(buffers=True), os.getpid()
        return self._txn

    def frame_names(self, clip):
        """The clip's frame file names (sorted), or None if the store lacks the clip."""
        info = self.clips.get(clip)
        return None if info is None else list(info['names'])

    def get(self, key, path=None):
        """Frame ``key`` ('clip/stem') as an (h, w, c) uint8 RGB array (read-only for ``raw``).

        Raises:
            DataError: the key is not in the store or its value does not decode.
        """
        where = path or f'{self.root}:{key}'
        clip = key.rsplit('/', 1)[0]
        info = self.clips.get(clip)
        value = self._transaction().get(key.encode('utf-8')) if info is not None else None
        if value is None:
            raise DataError(f'{where}: frame not found in packed store {self.root}')
        shape = tuple(info['shape'])
        if self.codec == 'raw':
            if len(value) != int(np.prod(shape)):
                raise DataError(f'{where}: stored frame has {len(value)} bytes, '
                                f'expected {shape} uint8')
            return np.frombuffer(value, dtype=np.uint8).reshape(shape)
        img = cv2.imdecode(np.frombuffer(value, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise DataError(f'{where}: stored PNG cannot be decoded')
        if img.ndim == 2:
            img = img[:, :, None]
        if img.shape[2] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        elif img.shape[2] == 4:
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
        return img


_STORES = {}


def open_store(root):
    """The `PackedStore` at ``root``, cached per process (re-read if its description changed)."""
    root = os.path.normpath(str(root))
    try:
        stamp = os.stat(os.path.join(root, META_NAME)).st_mtime_ns
    except OSError:
        stamp = None
    cached = _STORES.get(root)
    if cached is None or cached[1] != stamp:
        _STORES[root] = (PackedStore(root), stamp)
    return _STORES[root][0]


_FOLDERS = {}


def _find_store(path):
    """(store, key) for a frame path ``<store>/<clip...>/<frame>.ext`` inside a store."""
    path = os.path.normpath(str(path))
    folder = os.path.dirname(path)
    root = _FOLDERS.get(folder)
    if root is None:
        parent = folder
        while parent and parent != os.path.dirname(parent):
            if parent in _STORES or os.path.isfile(os.path.join(parent, META_NAME)):
                root = _FOLDERS[folder] = parent
                break
            parent = os.path.dirname(parent)
        else:
            raise DataError(f'{path}: not inside a packed store (no {META_NAME} in its '
                            f'parent folders)')
    rel = os.path.relpath(path, root).replace(os.sep, '/')
    cached = _STORES.get(root)
    return (cached[0] if cached else open_store(root)), os.path.splitext(rel)[0]


def read_frame(path, flag=-1, to_rgb=True):
    """Read frame ``path`` (``<store>/<clip>/<frame>.png``) from its packed store.

    Gives what `edvr.datasets.image_io.read_image` gives for the original
    file, for ``flag`` -1 (as stored) and 1 (colour) on 3-channel frames;
    a raw frame comes back as a read-only view (BGR as a reversed view when
    ``to_rgb`` is false).

    Raises:
        DataError: the frame is not in the store.
        ConfigError: a ``flag`` a packed store cannot honour.
    """
    store, key = _find_store(path)
    img = store.get(key, path)
    channels = img.shape[2]
    if flag not in (-1, 1) or (flag == 1 and channels != 3):
        raise ConfigError(f'ReadImageSequence.flag={flag}: packed stores read frames as '
                          f'stored (-1) or colour (1) from 3-channel frames; {path} has '
                          f'{channels} channel(s)')
    if not to_rgb and channels in (3, 4):
        img = _to_bgr_view(img)
    return img


def _to_bgr_view(img):
    """Reverse the colour channels of an RGB(A) frame (alpha stays last)."""
    if img.shape[2] == 3:
        return img[:, :, ::-1]
    return img[:, :, [2, 1, 0, 3]]
