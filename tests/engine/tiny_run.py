# SPDX-License-Identifier: Apache-2.0
"""A tiny demo dataset and config overrides so engine tests train in seconds."""
import os

from edvr.datasets.demo import make_demo_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_CONFIG = os.path.join(ROOT, 'configs', 'edvr_demo.yaml')


def make_tiny_data(folder):
    """Two 7-frame training clips and one 5-frame held-out clip of 32x48 GT frames."""
    return make_demo_dataset(str(folder), num_train_clips=2, num_frames=7, num_test_frames=5,
                             gt_size=(32, 48))['root']


def tiny_overrides(data, out, total_iters=6, w_tsa=False, tsa_iter=0):
    """`-o` overrides turning the demo config into a seconds-long run on ``data``."""
    train = 'dataset.train.dataset'
    return [
        'demo_data=null', f'output_dir={out}', f'total_iters={total_iters}',
        f'{train}.lq_folder={data}/train_sharp_bicubic/X4', f'{train}.gt_folder={data}/train_sharp/X4',
        f'{train}.ann_file={data}/meta_info_REDS_GT.txt',
        f'{train}.preprocess.0.frames_per_clip=6',
        f'{train}.preprocess.3.pipeline.0.gt_patch_size=32',
        'dataset.test.lq_folder=' + f'{data}/REDS4_test_sharp_bicubic/X4',
        'dataset.test.gt_folder=' + f'{data}/REDS4_test_sharp/X4',
        f'dataset.test.ann_file={data}/meta_info_REDS_GT.txt',
        'dataset.train.batch_size=2', 'dataset.train.num_workers=0',
        'model.generator.nf=8', 'model.generator.groups=2', 'model.generator.front_RBs=1',
        'model.generator.back_RBs=1', f'model.generator.w_TSA={w_tsa}', f'model.tsa_iter={tsa_iter}',
        f'lr_scheduler.periods=[{total_iters}]', 'lr_scheduler.learning_rate=1e-3',
        'log_config.interval=1', 'log_config.visiual_interval=3',
        'validate.interval=0', 'snapshot_config.interval=2', 'snapshot_config.max_keep=10',
    ]
