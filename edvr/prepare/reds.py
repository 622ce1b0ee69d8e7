# SPDX-License-Identifier: Apache-2.0
"""REDS from its official archives to the layout the REDS configs read.

Input: the extracted archives in one folder, in any of the usual shapes
(``<src>/train_sharp/000``, ``<src>/train/train_sharp/000``,
``<src>/train_sharp_bicubic/X4/000``, ...). Output under ``root``::

    train_sharp/X4/000..269            GT; validation clips 000-029 become 240-269
    train_sharp_bicubic/X4/000..269    x4 LQ (SR track)
    train_blur/X4, train_blur_bicubic/X4, train_blur_comp/X4   (if given)
    REDS4_test_<variant>/X4/{000,011,015,020}
    meta_info_REDS_GT.txt              one line per frame: '000/00000000.png (720, 1280, 3)'

Clip folders are symlinked by default (``mode='copy'`` or ``'move'`` too).
Everything is checked before anything is written; all problems are reported
together.
"""
import os

from edvr.datasets.reds import PARTITIONS
from edvr.errors import DataError
from edvr.prepare.common import (SCALE, Problems, check_clip_frames, check_free_space,
                                 list_clips, place_folder)
from edvr.utils.output_paths import write_atomic

# output variant -> (train archive folder, val archive folder, frames are x4 LQ)
VARIANTS = {
    'train_sharp': ('train_sharp', 'val_sharp', False),
    'train_sharp_bicubic': ('train_sharp_bicubic', 'val_sharp_bicubic', True),
    'train_blur': ('train_blur', 'val_blur', False),
    'train_blur_bicubic': ('train_blur_bicubic', 'val_blur_bicubic', True),
    'train_blur_comp': ('train_blur_comp', 'val_blur_comp', False),
}
REQUIRED = ('train_sharp',)
META_NAME = 'meta_info_REDS_GT.txt'


def find_archive_folder(src, name):
    """The folder of clips of archive ``name`` under ``src``, or None.

    Looks at ``src/name``, ``src/*/name`` and, for the bicubic archives, their
    ``X4`` sub-folder; a folder counts if it holds clip sub-folders.
    """
    candidates = [os.path.join(src, name)]
    if os.path.isdir(src):
        candidates += [os.path.join(src, d, name) for d in sorted(os.listdir(src))]
    for base in candidates:
        for folder in (os.path.join(base, f'X{SCALE}'), base):
            if os.path.isdir(folder) and any(c.isdigit() for c in list_clips(folder)):
                return folder
    return None


def _expected(frames_per_clip):
    return [f'{i:08d}.png' for i in range(frames_per_clip)]


def plan_reds(src, no_val=False):
    """Which archive folders exist: dict variant -> {'train': folder, 'val': folder or None}.

    Raises:
        DataError: ``src`` missing, or a required archive not found (names what
            was looked for), or a variant with training but no validation clips.
    """
    if not os.path.isdir(src):
        raise DataError(f'{src}: REDS source folder not found')
    plan, problems = {}, Problems()
    for variant, (train_name, val_name, _) in VARIANTS.items():
        train = find_archive_folder(src, train_name)
        val = None if no_val else find_archive_folder(src, val_name)
        if train is None and val is None:
            if variant in REQUIRED:
                problems.add(f'archive {train_name} not found (looked for {train_name}/ and '
                             f'*/{train_name}/ in {src})')
            continue
        if train is None:
            problems.add(f'archive {train_name} not found but {val_name} is ({val})')
        if val is None and not no_val:
            problems.add(f'archive {val_name} not found but {train_name} is ({train}); '
                         f'give it, or pass --no-val to leave out clips 240-269')
        plan[variant] = {'train': train, 'val': val}
    problems.raise_if_any(f'reds {src}')
    return plan


def prepare_reds(src, root, mode='symlink', workers=1, verify=False, no_val=False,
                 frames_per_clip=100, gt_size=(720, 1280), train_clips=240, val_clips=30):
    """Check the REDS archives under ``src`` and lay them out under ``root``.

    Args:
        src: folder holding the extracted archives.
        root: output folder (e.g. data/REDS).
        mode: 'symlink', 'copy' or 'move' the clip folders.
        workers: parallel processes for checking frames.
        verify: decode every frame (else PNG header and end marker checks).
        no_val: leave out the validation archives (clips 240-269).
        frames_per_clip, gt_size, train_clips, val_clips: what a complete
            archive holds (defaults: the real REDS).

    Returns:
        dict variant -> number of clips laid out, plus 'meta' (path) and 'frames'.

    Raises:
        DataError: listing every missing archive, clip or frame, wrong size,
            truncated or corrupt frame; or not enough disk (copy mode).
    """
    plan = plan_reds(src, no_val)
    problems = Problems()
    names = _expected(frames_per_clip)
    gt_h, gt_w = gt_size
    sources, shapes_by_variant = {}, {}
    for variant, where in plan.items():
        lq = VARIANTS[variant][2]
        size = (gt_h // SCALE, gt_w // SCALE) if lq else (gt_h, gt_w)
        clip_dirs = {}
        for split, count, offset in (('train', train_clips, 0), ('val', val_clips, train_clips)):
            folder = where[split]
            if folder is None:
                continue
            have = set(list_clips(folder))
            for i in range(count):
                name = f'{i:03d}'
                if name not in have:
                    problems.add(f'{variant}: clip {name} missing in {folder}')
                    continue
                clip_dirs[f'{i + offset:03d}'] = os.path.join(folder, name)
        check_clip_frames(clip_dirs, problems, {c: names for c in clip_dirs},
                          {c: size for c in clip_dirs}, verify, workers, f'checking {variant}')
        sources[variant] = clip_dirs
        shapes_by_variant[variant] = size
    problems.raise_if_any(f'reds {src}')

    if mode == 'copy':
        need = sum(os.path.getsize(os.path.join(d, n))
                   for dirs in sources.values() for d in dirs.values() for n in names)
        check_free_space(root, need, 'copying REDS')
    report = {}
    for variant, clip_dirs in sources.items():
        out = os.path.join(root, variant, f'X{SCALE}')
        test_out = os.path.join(root, variant.replace('train_', 'REDS4_test_'), f'X{SCALE}')
        for clip, folder in clip_dirs.items():
            place_folder(folder, os.path.join(out, clip), mode)
        for clip in PARTITIONS['REDS4']:
            if clip in clip_dirs:
                place_folder(os.path.join(out, clip), os.path.join(test_out, clip), 'symlink')
        report[variant] = len(clip_dirs)
    clips = sorted(sources['train_sharp'])
    lines = [f'{clip}/{name} ({gt_h}, {gt_w}, 3)\n' for clip in clips for name in names]
    meta = os.path.join(root, META_NAME)
    write_atomic(meta, ''.join(lines))
    report.update(meta=meta, frames=len(lines))
    return report
