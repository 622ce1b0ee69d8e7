# SPDX-License-Identifier: Apache-2.0
"""Tiny dataset trees for the preparation tests (imported by tests/prepare).

Frames hold random pixels from a seed derived from their path, so any
mix-up of frames shows in the pixel values.
"""
import os
import zlib

import cv2
import numpy as np


def frame_pixels(tag, hw):
    """(h, w, 3) uint8 RGB pixels determined by ``tag``."""
    rng = np.random.default_rng(zlib.crc32(tag.encode()))
    return rng.integers(0, 256, hw + (3,), dtype=np.uint8)


def write_png(path, img):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(path, cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)


def write_clip(folder, names, hw, tag):
    for name in names:
        write_png(os.path.join(folder, name), frame_pixels(f'{tag}/{name}', hw))


def reds_names(frames):
    return [f'{i:08d}.png' for i in range(frames)]


def make_reds_archives(src, train_clips=3, val_clips=2, frames=4, gt_hw=(16, 16),
                       variants=('sharp',)):
    """Extracted-archive layout: src/train/train_sharp/000, src/val/val_sharp_bicubic/X4/000, ..."""
    lq_hw = (gt_hw[0] // 4, gt_hw[1] // 4)
    for variant in variants:
        for split, count in (('train', train_clips), ('val', val_clips)):
            for i in range(count):
                clip = f'{i:03d}'
                write_clip(os.path.join(src, split, f'{split}_{variant}', clip),
                           reds_names(frames), gt_hw, f'{split}_{variant}/{clip}')
                if variant in ('sharp', 'blur'):
                    write_clip(os.path.join(src, split, f'{split}_{variant}_bicubic', 'X4', clip),
                               reds_names(frames), lq_hw, f'{split}_{variant}_bicubic/{clip}')
    return src


def make_vimeo(src, train=('00001/0001', '00001/0002'), test=('00002/0001',), hw=(32, 48)):
    """vimeo_septuplet layout: sequences/<seq>/im1..7.png and the two list files."""
    for seq in list(train) + list(test):
        write_clip(os.path.join(src, 'sequences', seq), [f'im{i}.png' for i in range(1, 8)],
                   hw, seq)
    for name, seqs in (('sep_trainlist.txt', train), ('sep_testlist.txt', test)):
        with open(os.path.join(src, name), 'w') as f:
            f.write('\n'.join(seqs) + '\n')
    return src


def make_testset(root, clips=(('calendar', 3, (32, 40)), ('city', 2, (24, 32)))):
    """<root>/GT/<clip>/<frame>.png with Vid4-like frame names."""
    for clip, frames, hw in clips:
        write_clip(os.path.join(root, 'GT', clip), [f'{i:04d}.png' for i in range(frames)],
                   hw, clip)
    return root


def truncate(path, keep=0.5):
    """Cut a file to ``keep`` of its length (a broken download)."""
    size = os.path.getsize(path)
    with open(path, 'r+b') as f:
        f.truncate(int(size * keep))
