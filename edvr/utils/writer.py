# SPDX-License-Identifier: Apache-2.0
"""The one way the project puts a file or folder under its real name.

Everything is written beside its destination under a temporary name and renamed
into place when complete (`staged_file`, `staged_folder`, `replace_atomically`):
a real name holds either its earlier content or the finished new one, never a
half-written one. Temporary names are hidden and carry the writing process's id,
``.<name>.tmp-<pid>-<n><ext>``, so that

* this process removes its own temporaries when a write fails or the command
  is stopped (`discard_all` runs on exit and on a stop, `edvr.utils.stopping`);
* a later run removes the temporaries of a process that no longer exists (a
  run killed with SIGKILL or a power cut) from every folder it writes into
  (`remove_stale`).

`refuse_overlap` checks, before any work starts, that no output of a command
is, contains or lies inside one of its inputs (through symlinks and hard links).
"""
import atexit
import contextlib
import errno
import itertools
import os
import re
import shutil

from edvr.errors import EDVRError

MARK = '.tmp-'
_TEMPORARY = re.compile(r'^\..*' + re.escape(MARK) + r'(\d+)-\d+')
_serial = itertools.count()
_live = set()  # this process's temporaries not yet renamed or removed


def temporary_path(path):
    """A fresh temporary name beside ``path`` (same folder, same extension), registered as live."""
    folder, name = os.path.split(os.path.abspath(path))
    ext = os.path.splitext(name)[1]
    tmp = os.path.join(folder, f'.{name}{MARK}{os.getpid()}-{next(_serial)}{ext}')
    _live.add(tmp)
    return tmp


def is_temporary(name):
    """Whether a file name is one of this module's temporary names."""
    return bool(_TEMPORARY.match(os.path.basename(name)))


def _process_exists(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        with contextlib.suppress(OSError):
            os.remove(path)


def remove_stale(folder):
    """Remove temporaries in ``folder`` left by processes that no longer exist.

    Returns:
        the names removed (sorted).
    """
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for name in sorted(names):
        found = _TEMPORARY.match(name)
        if found and not _process_exists(int(found.group(1))):
            _remove(os.path.join(folder, name))
            removed.append(name)
    return removed


def discard(tmp):
    """Remove the temporary ``tmp`` (file or folder) if it exists."""
    _remove(tmp)
    _live.discard(tmp)


@atexit.register
def discard_all():
    """Remove every temporary of this process still live (on exit, on a stop)."""
    for tmp in list(_live):
        discard(tmp)


def _fsync(path):
    if os.path.isfile(path):
        with open(path, 'rb+') as f:
            os.fsync(f.fileno())


def commit(tmp, path):
    """Rename the finished temporary ``tmp`` to ``path`` (a file, or a folder replacing a folder)."""
    if os.path.isdir(tmp) and os.path.isdir(path) and not os.path.islink(path):
        old = temporary_path(path)
        os.replace(path, old)  # a non-empty folder cannot be renamed over: move it aside first
        try:
            os.replace(tmp, path)
        except OSError:
            os.replace(old, path)
            raise
        discard(old)
    else:
        os.replace(tmp, path)
    _live.discard(tmp)


def _name_destination(exc, path):
    """An OSError naming ``path`` (the file meant) instead of a temporary name."""
    return OSError(exc.errno, exc.strerror or str(exc), str(path))


@contextlib.contextmanager
def staged_file(path):
    """Yield a temporary name beside ``path``; on success it is synced and renamed to ``path``.

    On any failure or stop the temporary is removed and ``path`` keeps its
    previous content; an OSError raised names ``path``. Stale temporaries of
    dead processes in the folder are removed first.
    """
    from edvr.utils import stopping
    stopping.ensure_installed()
    if os.path.isdir(path):
        raise EDVRError(f'{path}: is a folder, expected a file to write')
    remove_stale(os.path.dirname(os.path.abspath(path)))
    tmp = temporary_path(path)
    try:
        yield tmp
        _fsync(tmp)
        commit(tmp, path)
    except OSError as exc:
        if exc.filename not in (None, tmp):
            raise
        raise _name_destination(exc, path) from None
    finally:
        discard(tmp)


@contextlib.contextmanager
def staged_folder(path):
    """Yield a new empty temporary folder beside ``path``; renamed to ``path`` on success.

    An existing folder ``path`` is replaced as a whole, only once the new one
    is complete. On failure or stop the temporary folder is removed.
    """
    from edvr.utils import stopping
    stopping.ensure_installed()
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    remove_stale(parent)
    tmp = temporary_path(path)
    try:
        os.mkdir(tmp)
        yield tmp
        commit(tmp, path)
    finally:
        discard(tmp)


@contextlib.contextmanager
def scratch_folder(near):
    """Yield a temporary working folder beside ``near``; always removed afterwards."""
    from edvr.utils import stopping
    stopping.ensure_installed()
    parent = os.path.dirname(os.path.abspath(near))
    remove_stale(parent)
    tmp = temporary_path(near)
    try:
        os.mkdir(tmp)
        yield tmp
    finally:
        discard(tmp)


@contextlib.contextmanager
def removed_if_failed(*folders):
    """On failure or stop in this block, remove those of ``folders`` (and their parents) that
    did not exist before it and are still empty: a failed command leaves no new folder."""
    new = []
    for folder in folders:
        path = os.path.abspath(folder)
        while not os.path.lexists(path) and path not in new:
            new.append(path)
            path = os.path.dirname(path)
    try:
        yield
    except BaseException:
        for path in sorted(new, key=len, reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(path)  # only empty folders go
        raise


def replace_atomically(path, write):
    """Call ``write(tmp)`` for a temporary name beside ``path``, sync it, rename it to ``path``.

    On an OSError (a full disk) nothing is left under the temporary name,
    ``path`` keeps its previous content, and the error raised names ``path``.
    """
    with staged_file(path) as tmp:
        write(tmp)


def move_into_place(src, dst):
    """Rename a finished file or folder ``src`` to ``dst`` (copied then removed when they
    lie on different file systems)."""
    try:
        commit(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.move(src, dst)


def _resolved(path):
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def _inside(inner, outer):
    return inner != outer and os.path.commonpath([inner, outer]) == outer


def _same(a, b, ra, rb):
    if ra == rb:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_overlap(outputs, inputs, contains=True):
    """Raise a one-line EDVRError if an output is, contains or lies inside an input.

    Args:
        outputs: (label, path) pairs of what the command writes (files or folders
            it fills); None paths are skipped.
        inputs: (label, path) pairs of what it reads.
        contains: also refuse an output folder that contains an input (False for a
            root that only receives sub-folders of fixed names beside its inputs).
    """
    for out_label, out in outputs:
        if out is None:
            continue
        r_out = _resolved(out)
        for in_label, src in inputs:
            if src is None:
                continue
            r_src = _resolved(src)
            if _same(out, src, r_out, r_src):
                relation = 'is'
            elif _inside(r_out, r_src):
                relation = 'lies inside'
            elif contains and _inside(r_src, r_out):
                relation = 'contains'
            else:
                continue
            raise EDVRError(f'{out_label} {out}: {relation} the input {in_label} {src}; '
                            f'write the output elsewhere (inputs are never written over)')
