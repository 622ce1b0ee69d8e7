# SPDX-License-Identifier: Apache-2.0
"""Vid4 and UDM10: BIx4 and BDx4 LQ clips from the GT clips.

Layout under ``root`` (what the evaluation configs read)::

    GT/<clip>/<frame>.png      given
    BIx4/<clip>/<frame>.png    written: MATLAB bicubic x4
    BDx4/<clip>/<frame>.png    written: Gaussian blur sigma 1.6, every 4th pixel

LQ frames keep the GT file names; finished frames are skipped on a re-run.
"""
import os

from edvr.errors import DataError
from edvr.prepare.common import (SCALE, Problems, check_clip_frames, check_free_space,
                                 check_sizes_divisible, list_clips)
from edvr.prepare.degrade import run_degrade_jobs

OUT_FOLDERS = {'BI': f'BIx{SCALE}', 'BD': f'BDx{SCALE}'}


def prepare_testset(root, name, gt=None, degradations=('BI', 'BD'), workers=1, verify=False):
    """Write the LQ clips of a test set whose GT clips are in ``gt`` (default ``root/GT``).

    Returns:
        dict with 'clips', 'frames' and 'written' {degradation: frames written}.

    Raises:
        DataError: GT folder missing or empty; bad frames or sizes not divisible
            by 4 (all listed); not enough disk.
    """
    gt = gt or os.path.join(root, 'GT')
    if not os.path.isdir(gt):
        raise DataError(f'{gt}: {name} GT folder not found (expected <clip>/<frame>.png inside)')
    clips = list_clips(gt)
    if not clips:
        raise DataError(f'{gt}: no clip folders')
    problems = Problems()
    clip_dirs = {c: os.path.join(gt, c) for c in clips}
    found = check_clip_frames(clip_dirs, problems, None, None, verify, workers,
                              f'checking {name}')
    check_sizes_divisible(found, clip_dirs, problems)
    problems.raise_if_any(f'{name} {gt}')

    report = {'clips': len(clips), 'frames': sum(len(i['names']) for i in found.values()),
              'written': {}}
    jobs_by, need = {}, 0
    for degradation in degradations:
        out = os.path.join(root, OUT_FOLDERS[degradation])
        jobs = [(os.path.join(gt, clip, n), os.path.join(out, clip, n), degradation, SCALE)
                for clip, info in found.items() for n in info['names']]
        jobs = [j for j in jobs if not os.path.isfile(j[1])]
        for clip, info in found.items():
            h, w, c = info['shape']
            need += len([j for j in jobs if j[0].startswith(os.path.join(gt, clip, ''))]) \
                * (h // SCALE) * (w // SCALE) * c
        jobs_by[degradation] = jobs
    check_free_space(root, need, f'{name} LQ frames')
    for degradation, jobs in jobs_by.items():
        report['written'][degradation] = run_degrade_jobs(
            jobs, workers, f'{name} {OUT_FOLDERS[degradation]}')
    return report
