# SPDX-License-Identifier: Apache-2.0
"""PaddleGAN's six EDVR configs build their datasets unchanged but for the data paths."""
import os

import numpy as np
import pytest
import yaml
from tests.datasets.vsr_fixtures import flat_frame, write_meta, write_rgb

from edvr.config import load_config
from edvr.datasets.loader import build_dataset
from edvr.datasets.repeat import RepeatDataset
from tests.paddlegan_configs import VARIANTS, paddlegan_settings, unflatten

FRAMES = 5


@pytest.fixture(scope='module')
def reds_root(tmp_path_factory):
    """data/REDS as PaddleGAN lays it out: GT 256x256, x4 bicubic LQ, same-size blurred LQ."""
    root = str(tmp_path_factory.mktemp('REDS'))
    layout = {'train_sharp': (256, ['000', '001']), 'train_sharp_bicubic': (64, ['000', '001']),
              'train_blur': (256, ['000', '001']), 'REDS4_test_sharp': (256, ['000']),
              'REDS4_test_sharp_bicubic': (64, ['000']), 'REDS4_test_blur': (256, ['000'])}
    for folder, (size, clips) in layout.items():
        for clip in clips:
            for i in range(FRAMES):
                write_rgb(os.path.join(root, folder, 'X4', clip, f'{i:08d}.png'),
                          flat_frame(clip, i, (size, size)))
    write_meta(os.path.join(root, 'meta_info_REDS_GT.txt'), ['000', '001'], FRAMES, (256, 256))
    return root


def with_paths(section, root):
    for key in ('lq_folder', 'gt_folder', 'ann_file'):
        assert section[key].startswith('data/REDS/')
        section[key] = section[key].replace('data/REDS', root, 1)


@pytest.mark.parametrize('name', list(VARIANTS))
def test_paddlegan_config_datasets_build_and_load(name, reds_root, tmp_path):
    path = str(tmp_path / f'{name}.yaml')
    with open(path, 'w') as f:
        yaml.safe_dump(unflatten(paddlegan_settings(name)), f)
    cfg = load_config(path)
    blur = 'blur' in name
    lq_size = 256 if blur else 64
    train_cfg, test_cfg = cfg.dataset.train, cfg.dataset.test
    with_paths(train_cfg.dataset, reds_root)
    with_paths(test_cfg, reds_root)

    train = build_dataset(train_cfg, where='dataset.train')
    assert isinstance(train, RepeatDataset) and len(train) == 1000 * FRAMES
    sample = train[(1234, 42)]
    assert sample['lq'].shape == (5, 3, lq_size, lq_size) and sample['lq'].dtype == np.float32
    assert sample['gt'].shape == (3, 256, 256) and sample['clip'] == '001'
    frames = np.rint(sample['lq'][:, 0, 0, 0] * 255).astype(int).tolist()
    assert frames == [0, 1, 2, 3, 4] and np.allclose(sample['gt'][0] * 255, 2)

    test = build_dataset(test_cfg, where='dataset.test')
    assert len(test) == FRAMES
    first = test[0]
    assert first['lq'].shape == (5, 3, lq_size, lq_size) and first['gt'].shape == (3, 256, 256)
    assert np.rint(first['lq'][:, 0, 0, 0] * 255).astype(int).tolist() == [4, 3, 0, 1, 2]
    assert first['key'] == '000/00000000'
