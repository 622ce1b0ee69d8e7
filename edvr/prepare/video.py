# SPDX-License-Identifier: Apache-2.0
"""A video file (anything OpenCV reads) to a REDS-style clip of frames, optionally with x4 LQ.

Layout under ``root``::

    GT/<clip>/00000000.png ...      frames, cropped to a multiple of 4 (bottom/right)
    BIx4/<clip>/00000000.png ...    (with lq) MATLAB bicubic x4, or BDx4 with 'BD'
    meta_info.txt                   one line per frame of every clip under GT

so `VSRREDSDataset` (lq_folder BIx4, gt_folder GT, ann_file meta_info.txt)
trains on it; a clip name outside REDS4 is a training clip. A clip is
written into ``<clip>.partial`` and renamed when complete, so a finished
clip is skipped on a re-run and an interrupted one is redone.
"""
import os
import shutil

import cv2
import yaml

from edvr.datasets.image_io import write_image
from edvr.errors import ConfigError, DataError
from edvr.prepare.common import SCALE, check_free_space, list_clips, list_images, progress
from edvr.prepare.degrade import crop_to_multiple, degrade
from edvr.utils.output_paths import write_atomic

META_NAME = 'meta_info.txt'


def open_video(path):
    """An opened cv2.VideoCapture and its (frame count, fps, height, width).

    Raises:
        DataError: the file is missing or OpenCV cannot open or decode it.
    """
    if not os.path.isfile(path):
        raise DataError(f'{path}: video file not found')
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise DataError(f'{path}: OpenCV cannot open this video (unsupported or corrupt file)')
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = cap.get(cv2.CAP_PROP_FPS)
    h, w = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    return cap, (count, fps, h, w)


def prepare_video(video, root, clip=None, lq=False, degradation='BI', step=1, max_frames=None):
    """Extract the frames of ``video`` into ``root/GT/<clip>`` (and LQ); rewrite meta_info.txt.

    Args:
        video: video file.
        root: output folder.
        clip: clip name (default: the video's file name without extension).
        lq: also write x4 LQ frames.
        degradation: 'BI' or 'BD' for the LQ frames.
        step: keep every ``step``-th frame.
        max_frames: stop after this many kept frames.

    Returns:
        dict with clip, frames, size (h, w of GT), gt, lq (folders), meta, skipped.

    Raises:
        DataError: the video cannot be opened or yields no frame; frames too small.
    """
    clip = clip or os.path.splitext(os.path.basename(video))[0]
    gt_dir = os.path.join(root, 'GT', clip)
    lq_dir = os.path.join(root, f'{degradation}x{SCALE}', clip) if lq else None
    if os.path.isdir(gt_dir) and (lq_dir is None or os.path.isdir(lq_dir)):
        meta = write_meta(root)
        return dict(clip=clip, frames=len(list_images(gt_dir)), gt=gt_dir, lq=lq_dir,
                    meta=meta, skipped=True, size=None)
    cap, (count, _, h, w) = open_video(video)
    h4, w4 = h - h % SCALE, w - w % SCALE
    if h4 < SCALE * 16 or w4 < SCALE * 16:
        cap.release()
        raise DataError(f'{video}: frames of {h}x{w} are too small (need at least '
                        f'{SCALE * 16}x{SCALE * 16})')
    kept = -(-count // step) if count > 0 else 0
    if max_frames:
        kept = min(kept, int(max_frames))
    per_frame = h4 * w4 * 3 * (1 + (1 / SCALE ** 2 if lq else 0))
    check_free_space(root, int(kept * per_frame * 0.7), f'frames of {video}')

    partial = {d: f'{d}.partial' for d in (gt_dir, lq_dir) if d}
    for tmp in partial.values():
        shutil.rmtree(tmp, ignore_errors=True)
    written, index = 0, 0
    try:
        limit = int(max_frames) if max_frames else 10 ** 9  # the container's count is an estimate
        for _ in progress(range(limit), kept or None, f'frames of {clip}'):
            ok, frame = cap.read()
            while ok and index % step:
                index += 1
                ok, frame = cap.read()
            if not ok:
                break
            index += 1
            rgb = cv2.cvtColor(crop_to_multiple(frame, SCALE), cv2.COLOR_BGR2RGB)
            write_image(os.path.join(partial[gt_dir], f'{written:08d}.png'), rgb)
            if lq_dir:
                write_image(os.path.join(partial[lq_dir], f'{written:08d}.png'),
                            degrade(rgb, degradation, SCALE))
            written += 1
            if max_frames and written >= int(max_frames):
                break
    finally:
        cap.release()
    if written == 0:
        raise DataError(f'{video}: OpenCV opened the file but decoded no frame')
    for final, tmp in partial.items():
        if os.path.isdir(final):
            shutil.rmtree(final)
        os.replace(tmp, final)
    meta = write_meta(root)
    return dict(clip=clip, frames=written, size=(h4, w4), gt=gt_dir, lq=lq_dir, meta=meta,
                skipped=False)


def write_meta(root):
    """Rewrite ``root/meta_info.txt`` listing every frame of every clip under ``root/GT``."""
    gt = os.path.join(root, 'GT')
    lines = []
    for clip in list_clips(gt):
        if clip.endswith('.partial'):
            continue
        names = list_images(os.path.join(gt, clip))
        if not names:
            continue
        first = os.path.join(gt, clip, names[0])
        img = cv2.imread(first, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise DataError(f'{first}: truncated or corrupt image (cannot be decoded)')
        h, w = img.shape[:2]
        lines += [f'{clip}/{n} ({h}, {w}, 3)\n' for n in names]
    path = os.path.join(root, META_NAME)
    write_atomic(path, ''.join(lines))
    return path


def write_video_config(template, root, report):
    """A training config for a prepared clip, made from the config file ``template``.

    Args:
        template: a config whose ``dataset.train`` is (or wraps) a VSRREDSDataset.
        root: the prepared dataset's root; the config is written there.
        report: what `prepare_video` returned (with ``lq``).

    Returns:
        the path of the written config, ``root/<template name>_<clip>.yaml``.
    """
    with open(template, encoding='utf-8') as f:
        cfg = yaml.safe_load(f)
    try:
        train = cfg['dataset']['train']
        inner = train['dataset'] if 'dataset' in train else train
    except (KeyError, TypeError):
        raise ConfigError(f'{template}: expected dataset.train in the template') from None
    if inner.get('name') != 'VSRREDSDataset':
        raise ConfigError(f'{template}: dataset.train must be a VSRREDSDataset config')
    inner['lq_folder'] = os.path.dirname(report['lq'])
    inner['gt_folder'] = os.path.dirname(report['gt'])
    inner['ann_file'] = report['meta']
    with open(report['meta'], encoding='utf-8') as f:
        longest = max(int(line.split()[0].rsplit('/', 1)[1][:8]) for line in f if line.strip())
    for op in inner.get('preprocess') or []:
        if op.get('name') == 'GetFrameIdx':
            op['frames_per_clip'] = longest
    cfg['dataset'].pop('test', None)
    cfg.pop('validate', None)
    name = os.path.splitext(os.path.basename(template))[0]
    path = os.path.join(root, f'{name}_{report["clip"]}.yaml')
    header = f'# Made by tools/prepare_data.py video from {template}: trains on {root}, no validation set.\n'
    write_atomic(path, header + yaml.safe_dump(cfg, sort_keys=False))
    return path
