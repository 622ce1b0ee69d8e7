# SPDX-License-Identifier: Apache-2.0
"""A small REDS-layout demo dataset made offline from real photographs.

Each clip is a virtual camera gliding over one photograph bundled with
scikit-image: smooth sub-pixel translation with hand-held wobble, slight
rotation and zoom. Frames are rendered with bicubic warping of a 2x
supersampled view followed by area downsampling, so consecutive frames hold
genuinely different sub-pixel samples of the scene, which is what multi-frame
super-resolution exploits. LQ frames are the MATLAB-bicubic downscale of GT.

Layout under ``root`` (as PaddleGAN's REDS configs expect)::

    train_sharp/X4/<clip>/<%08d>.png             GT of training clips 001, 002, ...
    train_sharp_bicubic/X4/<clip>/<%08d>.png     their LQ
    REDS4_test_sharp/X4/000/...                  GT of the held-out clip(s)
    REDS4_test_sharp_bicubic/X4/000/...          their LQ
    meta_info_REDS_GT.txt                        one line per frame of every clip
    .edvr_demo                                   written first: the builder owns this folder
    DONE                                         written last: build parameters

Held-out clips come from photographs no training clip uses.
"""
import inspect
import json
import math
import os
import shutil
import time

import cv2
import numpy as np

from edvr.datasets.image_io import write_image
from edvr.datasets.reds import PARTITIONS
from edvr.errors import ConfigError, DataError
from edvr.utils.imresize import imresize

DEMO_VERSION = 1
TRAIN_PHOTOS = ('astronaut', 'coffee', 'rocket', 'hubble_deep_field',
                'immunohistochemistry', 'stereo_motorcycle', 'retina')
HELD_OUT_PHOTOS = ('chelsea', 'camera')
_SUPERSAMPLE = 2
_MARKER = 'DONE'
_OWNER = '.edvr_demo'


def load_photo(name):
    """A scikit-image photograph as an (h, w, 3) float32 RGB array."""
    from skimage import data
    img = getattr(data, name)()
    if isinstance(img, tuple):  # stereo_motorcycle: (left, right, disparity)
        img = img[0]
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    img = img[..., :3]
    if name == 'retina':  # keep the fundus, not the black surround
        h, w = img.shape[:2]
        img = img[h // 5:h - h // 5, w // 5:w - w // 5]
    return img.astype(np.float32)


def camera_path(num_frames, rng):
    """Per-frame camera motion in GT pixels: shift (t, 2), angle (t,) in radians, zoom (t,)."""
    t = np.arange(num_frames, dtype=np.float64)
    speed = rng.uniform(0.4, 1.8)
    heading = rng.uniform(0, 2 * math.pi)
    drift = np.outer(t, [speed * math.cos(heading), speed * math.sin(heading)])
    wobble = np.stack([rng.uniform(0.2, 0.8) * np.sin(2 * math.pi * t / rng.uniform(6, 16)
                                                      + rng.uniform(0, 2 * math.pi))
                       for _ in range(2)], axis=1)
    angle = math.radians(rng.uniform(-1.5, 1.5)) * np.sin(
        2 * math.pi * t / rng.uniform(20, 50) + rng.uniform(0, 2 * math.pi))
    zoom = 1.0 + rng.uniform(-0.003, 0.003) * t
    return drift + wobble, angle, zoom


def _view_matrices(shift, angle, zoom, base_zoom):
    """Linear maps (t, 2, 2) from GT-pixel offsets to photo offsets, and centre shifts (t, 2)."""
    cos, sin = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    linear = (base_zoom * zoom)[:, None, None] * rot
    return linear, base_zoom * shift


def place_view(photo_hw, gt_hw, num_frames, rng, tries=40):
    """Choose a zoom, motion and start point whose every frame stays inside the photo.

    Returns:
        (linear (t, 2, 2), centres (t, 2)) in photo pixels, (x, y) order.
    """
    (ph, pw), (h, w) = photo_hw, gt_hw
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [-w / 2, h / 2], [w / 2, h / 2]])
    max_zoom = min(2.0, 0.8 * min(ph / h, pw / w))
    base_zoom = rng.uniform(1.0, max(1.0, max_zoom))
    shift, angle, zoom = camera_path(num_frames, rng)
    for _ in range(tries):
        linear, offsets = _view_matrices(shift, angle, zoom, base_zoom)
        reach = offsets[:, None, :] + np.einsum('tij,cj->tci', linear, corners)
        low, high = reach.min(axis=(0, 1)), reach.max(axis=(0, 1))
        margin = 3.0
        x_range = (margin - low[0], pw - 1 - margin - high[0])
        y_range = (margin - low[1], ph - 1 - margin - high[1])
        if x_range[0] <= x_range[1] and y_range[0] <= y_range[1]:
            start = np.array([rng.uniform(*x_range), rng.uniform(*y_range)])
            return linear, start + offsets
        base_zoom = max(0.6, base_zoom * 0.92)
        shift = shift * 0.85
    raise ConfigError(f'cannot fit a {h}x{w} view moving for {num_frames} frames '
                     f'into a {ph}x{pw} photo')


def render_frame(photo, linear, centre, gt_hw):
    """One GT frame (h, w, 3) uint8: bicubic warp at 2x resolution, then area downsampling."""
    h, w = gt_hw
    ss = _SUPERSAMPLE
    # Supersampled pixel (u, v) sits at GT offset ((u + 0.5) / ss - 0.5 - (w - 1) / 2, ...).
    first = np.array([0.5 / ss - 0.5 - (w - 1) / 2, 0.5 / ss - 0.5 - (h - 1) / 2])
    matrix = np.hstack([linear / ss, (centre + linear @ first)[:, None]])
    big = cv2.warpAffine(photo, matrix, (w * ss, h * ss),
                         flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REFLECT101)
    frame = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def render_clip(photo, num_frames, gt_hw, rng):
    """A list of ``num_frames`` GT frames of a camera moving over ``photo``."""
    linear, centres = place_view(photo.shape[:2], gt_hw, num_frames, rng)
    return [render_frame(photo, linear[i], centres[i], gt_hw) for i in range(num_frames)]


def train_clip_names(count):
    """'001', '002', ... skipping the REDS4 validation names so training never drops a clip."""
    names, i = [], 1
    while len(names) < count:
        if f'{i:03d}' not in PARTITIONS['REDS4']:
            names.append(f'{i:03d}')
        i += 1
    return names


def _folders(root, scale):
    sub = f'X{scale}'
    return {
        'train_gt': os.path.join(root, 'train_sharp', sub),
        'train_lq': os.path.join(root, 'train_sharp_bicubic', sub),
        'test_gt': os.path.join(root, 'REDS4_test_sharp', sub),
        'test_lq': os.path.join(root, 'REDS4_test_sharp_bicubic', sub),
    }


def _params(num_train_clips, num_frames, num_test_frames, gt_size, scale, held_out, seed):
    return dict(version=DEMO_VERSION, num_train_clips=int(num_train_clips),
                num_frames=int(num_frames), num_test_frames=int(num_test_frames),
                gt_size=[int(gt_size[0]), int(gt_size[1])], scale=int(scale),
                held_out=list(held_out), seed=int(seed))


def _write_clip(frames, scale, gt_dir, lq_dir):
    for i, gt in enumerate(frames):
        write_image(os.path.join(gt_dir, f'{i:08d}.png'), gt)
        write_image(os.path.join(lq_dir, f'{i:08d}.png'), imresize(gt, 1 / scale))


def _clear(root, folders):
    """Remove an earlier demo under ``root``; refuse to touch folders the demo did not make."""
    owner = os.path.join(root, _OWNER)
    tops = [os.path.dirname(f) for f in folders.values()]
    if any(os.path.exists(t) for t in tops) and not os.path.isfile(owner):
        raise DataError(f'{root}: holds dataset folders not made by the demo builder; '
                         f'choose another root')
    os.makedirs(root, exist_ok=True)
    with open(owner, 'w', encoding='utf-8') as f:
        f.write('made by edvr.prepare.demo\n')
    marker = os.path.join(root, _MARKER)
    if os.path.exists(marker):
        os.remove(marker)
    for top in tops:
        shutil.rmtree(top, ignore_errors=True)


def make_demo_dataset(root='data/demo', num_train_clips=10, num_frames=24, num_test_frames=24,
                      gt_size=(192, 256), scale=4, held_out=('000',), seed=0):
    """Build the demo dataset under ``root`` (replacing an earlier demo there).

    Args:
        root: destination folder.
        num_train_clips: training clips (named 001, 002, ..., skipping REDS4 names).
        num_frames: frames per training clip.
        num_test_frames: frames per held-out clip.
        gt_size: (h, w) of GT frames; divisible by ``scale``.
        scale: GT size / LQ size.
        held_out: held-out clip names, from the REDS4 partition ('000', '011').
        seed: seed of all random choices.

    Returns:
        dict with root, train_clips, test_clips, gt_size, lq_size, seconds.
    """
    start = time.perf_counter()
    h, w = int(gt_size[0]), int(gt_size[1])
    if h % scale or w % scale:
        raise ConfigError(f'gt_size {h}x{w} is not divisible by scale {scale}')
    if len(held_out) > len(HELD_OUT_PHOTOS) or any(c not in PARTITIONS['REDS4'] for c in held_out):
        raise ConfigError(f'held_out: expected up to {len(HELD_OUT_PHOTOS)} REDS4 clip names, '
                         f'got {held_out}')
    params = _params(num_train_clips, num_frames, num_test_frames, gt_size, scale, held_out, seed)
    folders = _folders(root, scale)
    _clear(root, folders)

    train_clips = train_clip_names(num_train_clips)
    photos = {}
    plan = [(clip, TRAIN_PHOTOS[i % len(TRAIN_PHOTOS)], num_frames, 'train')
            for i, clip in enumerate(train_clips)]
    plan += [(clip, HELD_OUT_PHOTOS[i], num_test_frames, 'test') for i, clip in enumerate(held_out)]
    for clip, photo_name, length, split in plan:
        if photo_name not in photos:
            photos[photo_name] = load_photo(photo_name)
        rng = np.random.default_rng([seed, int(clip)])
        frames = render_clip(photos[photo_name], length, (h, w), rng)
        _write_clip(frames, scale, os.path.join(folders[f'{split}_gt'], clip),
                    os.path.join(folders[f'{split}_lq'], clip))

    lines = [f'{clip}/{i:08d}.png ({h}, {w}, 3)'
             for clip, _, length, _ in sorted(plan) for i in range(length)]
    with open(os.path.join(root, 'meta_info_REDS_GT.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    seconds = time.perf_counter() - start
    with open(os.path.join(root, _MARKER), 'w', encoding='utf-8') as f:
        json.dump(params, f)
    return dict(root=root, train_clips=train_clips, test_clips=list(held_out),
                gt_size=(h, w), lq_size=(h // scale, w // scale), seconds=seconds)


def demo_is_complete(root, **kwargs):
    """True if ``root`` holds a finished demo built with these parameters."""
    marker = os.path.join(root, _MARKER)
    if not os.path.isfile(marker):
        return False
    params = inspect.signature(make_demo_dataset).parameters
    defaults = {name: p.default for name, p in params.items() if name != 'root'}
    defaults.update(kwargs)
    try:
        with open(marker, encoding='utf-8') as f:
            return json.load(f) == _params(**defaults)
    except (OSError, ValueError):
        return False


def ensure_demo_dataset(root='data/demo', **kwargs):
    """Reuse a complete demo under ``root``, else build it; returns ``root``.

    Args:
        root: demo folder.
        **kwargs: build parameters of `make_demo_dataset`.
    """
    if not demo_is_complete(root, **kwargs):
        make_demo_dataset(root, **kwargs)
    return root
