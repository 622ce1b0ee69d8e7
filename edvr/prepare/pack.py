# SPDX-License-Identifier: Apache-2.0
"""Pack a folder of clips into a packed frame store (see `edvr.datasets.packed`).

The store is built under ``<out>.partial`` and renamed to ``<out>`` after its
description ``edvr_pack.json`` is written, so a store under its final name is
always complete. Frames go in in batches, one LMDB transaction each; an
interrupted run leaves the committed batches in ``<out>.partial`` and a re-run
continues from them.
"""
import json
import os

import cv2
import numpy as np

from edvr.datasets.image_io import read_image
from edvr.datasets.packed import (CODECS, FORMAT, META_NAME, VERSION, frame_key, import_lmdb,
                                  read_pack_meta)
from edvr.errors import ConfigError, DataError
from edvr.utils import stopping, writer
from edvr.utils.output_paths import write_atomic
from edvr.prepare.common import (IMAGE_EXTENSIONS, Problems, check_clip_frames, check_free_space,
                                 parallel_map)

BATCH_FRAMES = 64
_MAP_SLACK = 1.2


def find_clips(src):
    """Clip folders under ``src``: every folder holding images, named by its relative path.

    ``src/000/*.png`` gives clip '000'; ``sequences/00001/0001/*.png`` gives '00001/0001'.
    """
    clips = {}
    for folder, dirs, files in os.walk(src, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        if any(f.lower().endswith(IMAGE_EXTENSIONS) for f in files):
            rel = os.path.relpath(folder, src).replace(os.sep, '/')
            if rel == '.':
                raise DataError(f'{src}: frames lie directly in the folder; pack expects one '
                                f'sub-folder per clip')
            clips[rel] = folder
    return dict(sorted(clips.items()))


def estimate_bytes(clips, codec):
    """Upper estimate of a store's size: raw pixels, or the source files' sizes for png."""
    total = 0
    for info in clips.values():
        if codec == 'raw':
            h, w, c = info['shape']
            total += h * w * c * len(info['names'])
        else:
            total += sum(os.path.getsize(os.path.join(info['folder'], n)) for n in info['names'])
    return int(total * _MAP_SLACK) + (64 << 20)


def store_is_complete(out):
    """True if ``out`` is a complete packed store."""
    try:
        read_pack_meta(out)
    except DataError:
        return False
    return True


def _encode(path, codec, shape):
    """The stored value of frame ``path``: its pixels (raw) or PNG bytes (png; a PNG file as is)."""
    img = read_image(path)
    if img.shape != tuple(shape):
        raise DataError(f'{path}: size {img.shape} differs from the clip\'s {tuple(shape)}')
    if codec == 'raw':
        return np.ascontiguousarray(img).tobytes()
    if path.lower().endswith('.png'):
        with open(path, 'rb') as f:
            return f.read()
    if img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_RGBA2BGRA)
    ok, data = cv2.imencode('.png', img)
    if not ok:
        raise DataError(f'{path}: cannot encode as PNG')
    return data.tobytes()


STARTED_NAME = 'edvr_pack_started.json'  # what an unfinished store was started with


def _check_same_start(partial, started_by):
    """Refuse to resume ``partial`` with another codec or source than it was started with."""
    try:
        with open(os.path.join(partial, STARTED_NAME), encoding='utf-8') as f:
            before = json.load(f)
    except (OSError, ValueError):
        before = None
    if before != started_by:
        raise DataError(f'{partial}: an unfinished pack started with {before or "unknown settings"}'
                        f', not {started_by}; remove it to start over')


def pack_folder(src, out, codec='raw', workers=1, verify=False):
    """Pack the clips of folder ``src`` into store ``out``; skip if ``out`` is complete.

    Args:
        src: folder of clip folders (any depth; see `find_clips`).
        out: store folder to create (conventionally ending in ``.lmdb``).
        codec: 'raw' (fast crops, larger) or 'png' (smaller, full decode per read).
        workers: processes checking the frames.
        verify: decode every frame while checking (else PNG headers and end markers).

    Returns:
        dict with out, frames, clips, bytes, skipped (True if it was complete already).

    Raises:
        ConfigError: unknown codec.
        DataError: ``src`` missing or holding bad frames (all listed), not enough disk.
    """
    if codec not in CODECS:
        raise ConfigError(f'pack --codec: expected one of {", ".join(CODECS)}, got {codec!r}')
    out = os.path.normpath(out)
    writer.refuse_overlap([('pack output', out), ('pack output', f'{out}.partial')],
                          [('folder to pack', src)])
    if store_is_complete(out):
        meta = read_pack_meta(out)
        return dict(out=out, frames=meta['frames'], clips=len(meta['clips']),
                    bytes=_store_bytes(out), skipped=True)
    if not os.path.isdir(src):
        raise DataError(f'{src}: folder to pack not found')
    if os.path.exists(out):
        raise DataError(f'{out}: exists but is not a complete packed store; remove it first')
    clip_dirs = find_clips(src)
    if not clip_dirs:
        raise DataError(f'{src}: no clip folders with frames')
    problems = Problems()
    clips = check_clip_frames(clip_dirs, problems, decode=verify, workers=workers,
                              desc=f'checking {_short(src)}')
    for clip, info in clips.items():
        stems = [os.path.splitext(n)[0] for n in info['names']]
        if len(set(stems)) != len(stems):
            problems.add(f'clip {clip}: two frames share a name with different extensions')
    problems.raise_if_any(f'pack {src}')

    partial = f'{out}.partial'
    need = estimate_bytes(clips, codec)
    lmdb = import_lmdb()
    resuming = os.path.isdir(partial)
    started_by = dict(codec=codec, source=os.path.abspath(src))
    if resuming:
        _check_same_start(partial, started_by)
    else:
        check_free_space(os.path.dirname(out) or '.', need, f'packing {src} ({codec})')
        os.makedirs(partial)
        write_atomic(os.path.join(partial, STARTED_NAME), json.dumps(started_by))
    env = lmdb.open(partial, map_size=max(need, 1 << 24), subdir=True, meminit=False,
                    map_async=True)
    kept = (f'the frames packed so far are kept in {partial}; the same command continues '
            f'from them')
    with stopping.task(f'packing {src} into {out}', kept):
        try:
            with env.begin() as txn:
                done = {bytes(k).decode('utf-8') for k in txn.cursor().iternext(values=False)}
            if resuming:
                left = need * (1 - len(done) / max(1, sum(len(i['names']) for i in clips.values())))
                check_free_space(os.path.dirname(out) or '.', int(left), f'packing {src} ({codec})')
            todo = [(clip, name) for clip, info in clips.items() for name in info['names']
                    if frame_key(clip, name) not in done]
            _write_frames(env, todo, clips, codec, workers)
            env.sync(True)
        finally:
            env.close()

    meta = dict(format=FORMAT, version=VERSION, codec=codec, channels='rgb',
                frames=sum(len(i['names']) for i in clips.values()),
                source=os.path.abspath(src),
                clips={clip: {'shape': list(info['shape']), 'names': info['names']}
                       for clip, info in clips.items()})
    write_atomic(os.path.join(partial, META_NAME), json.dumps(meta))
    writer.move_into_place(partial, out)
    return dict(out=out, frames=meta['frames'], clips=len(clips), bytes=_store_bytes(out),
                skipped=False)


def _encode_job(job):
    path, codec, shape, key = job
    return key, _encode(path, codec, shape)


def _write_frames(env, todo, clips, codec, workers):
    """Put the ``todo`` (clip, name) frames into ``env``, one committed transaction per batch."""
    jobs = [(os.path.join(clips[clip]['folder'], name), codec, clips[clip]['shape'],
             frame_key(clip, name)) for clip, name in todo]
    batch = []
    for key, value in parallel_map(_encode_job, jobs, workers, 'packing frames'):
        batch.append((key.encode('utf-8'), value))
        if len(batch) == BATCH_FRAMES:
            _commit(env, batch)
            batch = []
    if batch:
        _commit(env, batch)


def _commit(env, batch):
    with env.begin(write=True) as txn:
        for key, value in batch:
            txn.put(key, value)


def _short(path):
    """The last two parts of a path, for progress bars ('train_sharp/X4')."""
    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
    return '/'.join(parts[-2:])


def _store_bytes(out):
    data = os.path.join(out, 'data.mdb')
    return os.path.getsize(data) if os.path.isfile(data) else 0
