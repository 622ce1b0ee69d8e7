# SPDX-License-Identifier: Apache-2.0
"""A video file (anything OpenCV reads) to a REDS-style clip of frames, optionally with x4 LQ.

Layout under ``root``::

    GT/<clip>/00000000.png ...      frames, cropped to a multiple of 4 (bottom/right)
    BIx4/<clip>/00000000.png ...    (with lq) MATLAB bicubic x4, or BDx4 with 'BD'
    meta_info.txt                   one line per frame of every clip under GT

so `VSRREDSDataset` (lq_folder BIx4, gt_folder GT, ann_file meta_info.txt)
trains on it; a clip name outside REDS4 is a training clip. A clip is
written into a hidden temporary folder beside it and renamed when complete, so a finished
clip is skipped on a re-run and an interrupted one is redone.
"""
import os

import cv2
import yaml

from edvr.datasets.image_io import write_image
from edvr.errors import ConfigError, DataError
from edvr.prepare.common import SCALE, check_free_space, list_clips, list_images, progress
from edvr.utils import stopping, writer
from edvr.utils.video_reader import open_video
from edvr.utils.yaml_reader import read_yaml_file
from edvr.prepare.degrade import crop_to_multiple, degrade
from edvr.utils.output_paths import write_atomic

META_NAME = 'meta_info.txt'


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
    writer.refuse_overlap([('GT folder', gt_dir), ('LQ folder', lq_dir),
                           ('meta file', os.path.join(root, META_NAME))], [('video', video)])
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
    kept_count = -(-count // step) if count > 0 else 0
    if max_frames:
        kept_count = min(kept_count, int(max_frames))
    per_frame = h4 * w4 * 3 * (1 + (1 / SCALE ** 2 if lq else 0))
    check_free_space(root, int(kept_count * per_frame * 0.7), f'frames of {video}')

    partial = {}
    with writer.removed_if_failed(*[os.path.dirname(d) for d in (gt_dir, lq_dir) if d]):
        try:
            written = _make_partial_and_extract(video, cap, partial, gt_dir, lq_dir, degradation,
                                                step, max_frames, kept_count)
            for final, tmp in partial.items():
                writer.commit(tmp, final)
        finally:
            cap.release()
            for tmp in partial.values():
                writer.discard(tmp)
    meta = write_meta(root)
    return dict(clip=clip, frames=written, size=(h4, w4), gt=gt_dir, lq=lq_dir, meta=meta,
                skipped=False)


def _make_partial_and_extract(video, cap, partial, gt_dir, lq_dir, degradation, step,
                              max_frames, kept_count):
    """Create the temporary clip folders (into ``partial``) and extract the frames into them."""
    for d in (gt_dir, lq_dir):
        if d:
            os.makedirs(os.path.dirname(d), exist_ok=True)
            writer.remove_stale(os.path.dirname(d))
            partial[d] = writer.temporary_path(d)
            os.mkdir(partial[d])
    kept = f'{gt_dir} is as it was' + (f', and so is {lq_dir}' if lq_dir else '')
    with stopping.task(f'extracting the frames of {video}', kept):
        written = _extract(cap, partial, gt_dir, lq_dir, degradation, step, max_frames,
                           kept_count)
    if written == 0:
        raise DataError(f'{video}: OpenCV opened the file but decoded no frame')
    return written


def _extract(cap, partial, gt_dir, lq_dir, degradation, step, max_frames, expected):
    """Read frames from ``cap`` into the temporary folders ``partial``; the count written."""
    written, index = 0, 0
    limit = int(max_frames) if max_frames else 10 ** 9  # the container's count is an estimate
    for _ in progress(range(limit), expected or None, f'frames of {os.path.basename(gt_dir)}'):
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
    return written


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


def read_video_template(template):
    """(config, its VSRREDSDataset block) of a training-config template, checked."""
    cfg = read_yaml_file(template, 'a YAML config')
    try:
        train = cfg['dataset']['train']
        inner = train['dataset'] if 'dataset' in train else train
    except (KeyError, TypeError):
        raise ConfigError(f'{template}: expected dataset.train in the template') from None
    if not isinstance(inner, dict) or inner.get('name') != 'VSRREDSDataset':
        raise ConfigError(f'{template}: dataset.train must be a VSRREDSDataset config')
    return cfg, inner


def write_video_config(template, root, report):
    """A training config for a prepared clip, made from the config file ``template``.

    Args:
        template: a config whose ``dataset.train`` is (or wraps) a VSRREDSDataset.
        root: the prepared dataset's root; the config is written there.
        report: what `prepare_video` returned (with ``lq``).

    Returns:
        the path of the written config, ``root/<template name>_<clip>.yaml``.
    """
    cfg, inner = read_video_template(template)
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
    writer.refuse_overlap([('training config', path)], [('--config-template', template)])
    header = f'# Made by tools/prepare_data.py video from {template}: trains on {root}, no validation set.\n'
    write_atomic(path, header + yaml.safe_dump(cfg, sort_keys=False))
    return path
