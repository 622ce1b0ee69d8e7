# SPDX-License-Identifier: Apache-2.0
"""Helpers shared by the dataset preparation commands.

Scanning clip folders (frame names, sizes from file headers, truncated files),
collecting every problem before failing, checking free disk space up front,
running work in parallel with a progress bar, and writing text atomically.
"""
import os
import shutil
import signal
import struct
from multiprocessing import get_context

import cv2

from edvr.errors import DataError
from edvr.utils import writer

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.ppm', '.tif', '.tiff')
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_PNG_END = b'IEND\xaeB`\x82'
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 4, 6: 4}  # colour type -> channels OpenCV decodes
MAX_LISTED = 20
SCALE = 4  # the x4 super-resolution every prepared dataset is made for


def list_images(folder):
    """Sorted image file names in ``folder`` (hidden and temporary files skipped)."""
    return sorted(n for n in os.listdir(folder)
                  if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith('.')
                  and '.tmp' not in n)


def list_clips(folder):
    """Sorted sub-folder names of ``folder``."""
    return sorted(c for c in os.listdir(folder)
                  if os.path.isdir(os.path.join(folder, c)) and not c.startswith('.'))


def image_shape(path, decode=False):
    """(h, w, c) of an image file; raises DataError naming a truncated or corrupt file.

    PNG files are checked without decoding: the header gives the size and the
    file must end with the IEND chunk (a cut-off download does not). Other
    formats, and every format with ``decode=True``, are decoded in full.
    """
    try:
        with open(path, 'rb') as f:
            head = f.read(26)
            f.seek(max(os.path.getsize(path) - 8, 0))
            tail = f.read(8)
    except OSError as exc:
        raise DataError(f'{path}: cannot read ({exc.strerror})') from None
    if path.lower().endswith('.png') and not decode:
        if len(head) < 26 or head[:8] != _PNG_SIGNATURE or head[12:16] != b'IHDR':
            raise DataError(f'{path}: corrupt PNG (bad header)')
        if tail != _PNG_END:
            raise DataError(f'{path}: truncated or corrupt PNG (no end marker)')
        if head[24] != 8:
            raise DataError(f'{path}: {head[24]}-bit PNG; expected 8-bit frames')
        if head[25] != 3:  # a palette PNG may hold transparency: decode to know its channels
            width, height = struct.unpack('>II', head[16:24])
            return height, width, _PNG_CHANNELS.get(head[25], 3)
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DataError(f'{path}: truncated or corrupt image (cannot be decoded)')
    return img.shape[:2] + ((img.shape[2] if img.ndim == 3 else 1),)


class Problems:
    """Collects what is wrong with an input tree so all of it is reported at once."""

    def __init__(self):
        self.items = []

    def add(self, message):
        self.items.append(message)

    def __bool__(self):
        return bool(self.items)

    def raise_if_any(self, what, nothing_written=True):
        """Raise one DataError listing the problems (the first MAX_LISTED of them)."""
        if not self.items:
            return
        shown = '; '.join(self.items[:MAX_LISTED])
        more = len(self.items) - MAX_LISTED
        suffix = f'; and {more} more' if more > 0 else ''
        state = ', nothing written' if nothing_written else ''
        raise DataError(f'{what}: {len(self.items)} problem(s){state}: {shown}{suffix}')


def _shape_of(args):
    path, decode = args
    try:
        return path, image_shape(path, decode), None
    except DataError as exc:
        return path, None, str(exc)


def check_clip_frames(clip_dirs, problems, expected_names=None, expected_shapes=None,
                      decode=False, workers=1, desc='checking frames'):
    """Check frame names and sizes of clips; record problems instead of raising.

    Args:
        clip_dirs: dict clip name -> folder.
        problems: a `Problems` collecting the findings.
        expected_names: None, or dict clip -> list of expected file names
            (missing ones are named; extra ones are ignored).
        expected_shapes: None, or dict clip -> (h, w) every frame must have.
        decode: decode every frame fully (slow; catches damage inside a PNG).
        workers: parallel processes.

    Returns:
        dict clip -> {'names': sorted file names, 'shape': (h, w, c) or None}.
    """
    found = {}
    jobs = []
    for clip, folder in clip_dirs.items():
        names = list_images(folder) if os.path.isdir(folder) else []
        if not os.path.isdir(folder):
            problems.add(f'{folder}: clip folder missing')
        wanted = (expected_names or {}).get(clip)
        if wanted is not None:
            have = set(names)
            missing = [n for n in wanted if n not in have]
            for name in missing[:MAX_LISTED]:
                problems.add(f'clip {clip}: frame {name} missing in {folder}')
            if len(missing) > MAX_LISTED:
                problems.add(f'clip {clip}: {len(missing) - MAX_LISTED} more frames missing')
        elif os.path.isdir(folder) and not names:
            problems.add(f'{folder}: no frames')
        found[clip] = {'names': names, 'shape': None, 'folder': folder}
        jobs.extend((os.path.join(folder, n), decode) for n in names)
    shapes = dict()
    for path, shape, error in parallel_map(_shape_of, jobs, workers, desc):
        if error:
            problems.add(error)
        shapes[path] = shape
    for clip, info in found.items():
        first = None
        want = (expected_shapes or {}).get(clip)
        for name in info['names']:
            path = os.path.join(info['folder'], name)
            shape = shapes.get(path)
            if shape is None:
                continue
            if want is not None and tuple(shape[:2]) != tuple(want):
                problems.add(f'{path}: size {shape[0]}x{shape[1]}, expected {want[0]}x{want[1]}')
            elif first is None:
                first = (name, shape)
                info['shape'] = shape
            elif shape != first[1]:
                problems.add(f'clip {clip}: frame {name} is {shape[0]}x{shape[1]}x{shape[2]} '
                             f'but {first[0]} is {first[1][0]}x{first[1][1]}x{first[1][2]} '
                             f'(frames of a clip must share one size)')
    return found


def check_sizes_divisible(found, clip_dirs, problems, scale=SCALE):
    """Add a problem for each clip whose frame sides are not divisible by ``scale``.

    Args:
        found: `check_clip_frames`' result ({clip: {'shape': (h, w, c) or None, ...}}).
        clip_dirs: {clip: folder}, named in the message.
        problems: the `Problems` to add to.
    """
    for clip, info in found.items():
        shape = info['shape']
        if shape is not None and (shape[0] % scale or shape[1] % scale):
            problems.add(f'{clip_dirs[clip]}: frame size {shape[0]}x{shape[1]} is not '
                         f'divisible by {scale}')


def progress(iterable, total, desc):
    """``iterable`` with a tqdm progress bar on stderr (plain if tqdm is missing)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, unit='item', dynamic_ncols=True,
                disable=total == 0, leave=False)


def parallel_map(fn, items, workers=1, desc='working'):
    """Run ``fn`` over ``items`` in ``workers`` processes with a progress bar; results in order."""
    items = list(items)
    if workers <= 1 or len(items) < 2:
        for item in progress(items, len(items), desc):
            yield fn(item)
        return
    pool = get_context('spawn' if os.name == 'nt' else 'fork').Pool(workers, _quiet_worker)
    try:
        chunk = max(1, min(32, len(items) // (workers * 8)))
        yield from progress(pool.imap(fn, items, chunksize=chunk), len(items), desc)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _quiet_worker():
    """Pool workers end on SIGTERM/SIGINT silently (Paddle's handler would print a crash report)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def default_workers():
    """Worker processes to use by default: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def check_free_space(folder, need_bytes, what):
    """Raise DataError if the disk holding ``folder`` has less than ``need_bytes`` free."""
    probe = os.path.abspath(folder)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    free = shutil.disk_usage(probe).free
    if free < need_bytes:
        raise DataError(f'{folder}: not enough disk space for {what}: about '
                        f'{format_bytes(need_bytes)} needed, {format_bytes(free)} free')


def format_bytes(n):
    """'1.5 GB' style size."""
    for unit in ('B', 'KB', 'MB', 'GB', 'TB'):
        if n < 1024 or unit == 'TB':
            return f'{n:.1f} {unit}' if unit != 'B' else f'{int(n)} B'
        n /= 1024
    return f'{n:.1f} TB'


def place_folder(src, dst, mode):
    """Make ``dst`` show the contents of folder ``src``: 'symlink', 'copy' or 'move'.

    An existing ``dst`` is kept (a re-run skips it); copies go through a
    temporary name, so a half-copied folder never appears under ``dst``.
    """
    if os.path.lexists(dst):
        return False
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if mode == 'symlink':
        os.symlink(os.path.abspath(src), dst, target_is_directory=True)
    elif mode == 'copy':
        with writer.staged_folder(dst) as tmp:
            os.rmdir(tmp)
            shutil.copytree(src, tmp)
    elif mode == 'move':
        writer.move_into_place(src, dst)
    else:
        raise ValueError(f'place_folder: unknown mode {mode!r}')
    return True
