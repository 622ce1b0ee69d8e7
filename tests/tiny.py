# SPDX-License-Identifier: Apache-2.0
"""Tiny EDVR nets, tiny demo data and the `-o` overrides that turn the demo config into
seconds-long runs: the helpers every test folder shares (``from tests.tiny import ...``)."""
import os

import numpy as np
import paddle

from edvr.models.edvr_net import EDVRNet
from edvr.prepare.demo import make_demo_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_CONFIG = os.path.join(ROOT, 'configs', 'edvr_demo.yaml')
TINY = dict(nf=8, groups=2, front_RBs=1, back_RBs=1, nframes=5)


def tiny_net(w_tsa=False, seed=0):
    """A tiny EDVRNet in eval mode with non-trivial weights (the DCN offsets are not zero)."""
    paddle.seed(seed)
    net = EDVRNet(w_TSA=w_tsa, **TINY)
    rng = np.random.default_rng(seed)
    for name, param in net.named_parameters():
        if 'conv_offset_mask' in name:  # zero-initialised: give the DCNs real offsets
            param.set_value(rng.normal(0, 0.05, param.shape).astype('float32'))
    net.eval()
    return net


def dygraph(net, x):
    """The network's output for ndarray ``x`` (b, t, c, h, w), as an ndarray."""
    with paddle.no_grad():
        return net(paddle.to_tensor(x)).numpy()


def make_tiny_data(folder, num_train_clips=2):
    """Demo clips of 32x48 GT frames: ``num_train_clips`` 7-frame training clips and one
    5-frame held-out clip; returns the dataset root."""
    return make_demo_dataset(str(folder), num_train_clips=num_train_clips, num_frames=7,
                             num_test_frames=5, gt_size=(32, 48))['root']


def tiny_overrides(data, out=None, total_iters=6, w_tsa=False, tsa_iter=0):
    """`-o` overrides: the tiny net and the held-out clip of ``data``; with ``out``, also a
    seconds-long training run on ``data`` that writes under ``out``."""
    overrides = [
        'demo_data=null',
        f'dataset.test.lq_folder={data}/REDS4_test_sharp_bicubic/X4',
        f'dataset.test.gt_folder={data}/REDS4_test_sharp/X4',
        f'dataset.test.ann_file={data}/meta_info_REDS_GT.txt',
        'model.generator.nf=8', 'model.generator.groups=2', 'model.generator.front_RBs=1',
        'model.generator.back_RBs=1', f'model.generator.w_TSA={w_tsa}',
    ]
    if out is None:
        return overrides
    train = 'dataset.train.dataset'
    return overrides + [
        f'output_dir={out}', f'total_iters={total_iters}',
        f'{train}.lq_folder={data}/train_sharp_bicubic/X4', f'{train}.gt_folder={data}/train_sharp/X4',
        f'{train}.ann_file={data}/meta_info_REDS_GT.txt',
        f'{train}.preprocess.0.frames_per_clip=6',
        f'{train}.preprocess.3.pipeline.0.gt_patch_size=32',
        'dataset.train.batch_size=2', 'dataset.train.num_workers=0', f'model.tsa_iter={tsa_iter}',
        f'lr_scheduler.periods=[{total_iters}]', 'lr_scheduler.learning_rate=1e-3',
        'log_config.interval=1', 'log_config.visiual_interval=3',
        'validate.interval=0', 'snapshot_config.interval=2', 'snapshot_config.max_keep=10',
    ]
