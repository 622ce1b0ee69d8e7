# SPDX-License-Identifier: Apache-2.0
"""Helpers writing tiny synthetic REDS-style trees (imported by the dataset tests).

Every frame is flat: channel 0 holds the frame index, channel 1 the clip
number and channel 2 the value 7, so a sample's pixels tell which files it read.
"""
import os

import cv2
import numpy as np

REDS4 = ('000', '011', '015', '020')


def flat_frame(clip, frame, hw):
    img = np.zeros(hw + (3,), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = frame, int(clip) % 256, 7
    return img


def write_rgb(path, img):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def write_meta(path, clips, num_frames, hw, per_clip=False):
    with open(path, 'w') as f:
        for clip in clips:
            if per_clip:
                f.write(f'{clip} {num_frames} ({hw[0]},{hw[1]},3)\n')
            else:
                for i in range(num_frames):
                    f.write(f'{clip}/{i:08d}.png ({hw[0]}, {hw[1]}, 3)\n')


def make_reds_tree(root, clips, num_frames=7, gt_hw=(16, 16), scale=4, per_clip_meta=False):
    """GT in root/gt, LQ in root/lq, meta in root/meta.txt; returns the three paths."""
    lq_hw = (gt_hw[0] // scale, gt_hw[1] // scale)
    for clip in clips:
        for i in range(num_frames):
            write_rgb(os.path.join(root, 'gt', clip, f'{i:08d}.png'), flat_frame(clip, i, gt_hw))
            write_rgb(os.path.join(root, 'lq', clip, f'{i:08d}.png'), flat_frame(clip, i, lq_hw))
    meta = os.path.join(root, 'meta.txt')
    write_meta(meta, clips, num_frames, gt_hw, per_clip_meta)
    return os.path.join(root, 'lq'), os.path.join(root, 'gt'), meta
