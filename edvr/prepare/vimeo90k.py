# SPDX-License-Identifier: Apache-2.0
"""Vimeo-90K septuplets: meta files from the official lists, and BI/BD x4 LQ frames.

Input: the extracted ``vimeo_septuplet`` folder (``sequences/00001/0001/im1.png``
.. ``im7.png``, ``sep_trainlist.txt``, ``sep_testlist.txt``). Output under ``root``::

    meta_info_Vimeo90K_train_GT.txt      '00001/0001 7 (256,448,3)' per septuplet
    meta_info_Vimeo90K_test_GT.txt
    vimeo_septuplet_matlabLRx4/sequences/<seq>/im1..7.png      BI (MATLAB bicubic)
    vimeo_septuplet_BD_matlabLRx4/sequences/<seq>/im1..7.png   BD (Gaussian 1.6, x4)

GT stays where it is (``<src>/sequences``).
"""
import os

from edvr.errors import DataError
from edvr.prepare.common import (SCALE, Problems, check_clip_frames, check_free_space,
                                 check_sizes_divisible)
from edvr.prepare.degrade import run_degrade_jobs
from edvr.utils.output_paths import write_atomic

LISTS = {'train': 'sep_trainlist.txt', 'test': 'sep_testlist.txt'}
LQ_FOLDERS = {'BI': 'vimeo_septuplet_matlabLRx4', 'BD': 'vimeo_septuplet_BD_matlabLRx4'}
FRAMES = [f'im{i}.png' for i in range(1, 8)]


def read_list(path):
    """Septuplet names ('00001/0001') of a Vimeo-90K list file."""
    if not os.path.isfile(path):
        raise DataError(f'{path}: Vimeo-90K list file not found')
    with open(path, encoding='utf-8') as f:
        seqs = [line.strip() for line in f if line.strip()]
    if not seqs:
        raise DataError(f'{path}: lists no septuplets')
    return seqs


def prepare_vimeo90k(src, root, splits=('train', 'test'), degradations=('BI', 'BD'),
                     workers=1, verify=False):
    """Check the septuplets, write meta files and generate LQ frames (skipping finished ones).

    Returns:
        dict with 'meta' {split: path}, 'septuplets' {split: n}, 'written' {degradation: n}.

    Raises:
        DataError: missing folder or list, missing/corrupt/odd-sized frames (all
            listed), not enough disk.
    """
    sequences = os.path.join(src, 'sequences')
    if not os.path.isdir(sequences):
        raise DataError(f'{sequences}: Vimeo-90K sequences folder not found '
                        f'(expected the extracted vimeo_septuplet folder as source)')
    lists = {split: read_list(os.path.join(src, LISTS[split])) for split in splits}
    problems = Problems()
    clip_dirs = {seq: os.path.join(sequences, seq) for seqs in lists.values() for seq in seqs}
    found = check_clip_frames(clip_dirs, problems, {s: FRAMES for s in clip_dirs}, None,
                              verify, workers, 'checking septuplets')
    check_sizes_divisible(found, clip_dirs, problems)
    problems.raise_if_any(f'vimeo90k {src}')

    report = {'meta': {}, 'septuplets': {}, 'written': {}}
    for split, seqs in lists.items():
        h, w, c = found[seqs[0]]['shape']
        meta = os.path.join(root, f'meta_info_Vimeo90K_{split}_GT.txt')
        os.makedirs(root, exist_ok=True)
        write_atomic(meta, ''.join(f'{s} 7 ({h},{w},{c})\n' for s in seqs))
        report['meta'][split] = meta
        report['septuplets'][split] = len(seqs)
    jobs_by = {}
    need = 0
    for degradation in degradations:
        out = os.path.join(root, LQ_FOLDERS[degradation], 'sequences')
        jobs = [(os.path.join(sequences, seq, name), os.path.join(out, seq, name),
                 degradation, SCALE) for seq in clip_dirs for name in FRAMES]
        jobs = [j for j in jobs if not os.path.isfile(j[1])]
        h, w, c = found[next(iter(clip_dirs))]['shape']
        need += len(jobs) * (h // SCALE) * (w // SCALE) * c
        jobs_by[degradation] = jobs
    check_free_space(root, need, 'Vimeo-90K LQ frames')
    for degradation, jobs in jobs_by.items():
        report['written'][degradation] = run_degrade_jobs(jobs, workers,
                                                          f'{degradation} x{SCALE} LQ')
    return report

