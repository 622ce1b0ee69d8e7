# SPDX-License-Identifier: Apache-2.0
"""Output locations checked before work starts, and atomic writes that survive a full disk.

The writing itself is `edvr.utils.writer` (temporary name beside the target, then a rename).
"""
import contextlib
import errno
import os

from edvr.errors import EDVRError
from edvr.utils.writer import replace_atomically

__all__ = ['check_output_folder', 'full_disk_raises', 'is_disk_full', 'replace_atomically',
           'write_atomic', 'written_unless_disk_full']


def is_disk_full(exc):
    """True if ``exc`` is an OSError for a full disk or an exhausted quota."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def written_unless_disk_full(write, *args):
    """Call ``write(*args)``; False instead of an error if the disk is full (other errors raise)."""
    try:
        write(*args)
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        return False
    return True


def check_output_folder(path, label):
    """Raise a one-line EDVRError unless ``path`` is, or can be created as, a writable folder.

    Args:
        path: the folder a tool will write into.
        label: the flag or key that names it (``output_dir``, ``--output_path``).
    """
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise EDVRError(f'{label} {path}: is a file, expected a folder')
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise EDVRError(f'{label} {path}: cannot be created, {parent} is a file')
    if not os.access(parent, os.W_OK | os.X_OK):
        raise EDVRError(f'{label} {path}: cannot be created or written, {parent} is not writable')


def write_atomic(path, data):
    """Write ``data`` (bytes or str) to ``path`` through a temporary name in the same folder.

    On any error, including a full disk, the temporary file is removed and
    ``path`` keeps its previous content; the OSError raised names ``path``.
    """
    def write(tmp):
        with open(tmp, 'wb') as f:
            f.write(data.encode('utf-8') if isinstance(data, str) else data)
    replace_atomically(path, write)


@contextlib.contextmanager
def full_disk_raises(error):
    """In this block, a full-disk OSError becomes ``error(exc)`` (a one-line EDVRError)."""
    try:
        yield
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise error(exc) from None
