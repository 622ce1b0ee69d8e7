# SPDX-License-Identifier: Apache-2.0
"""Every shipped config (and PaddleGAN's originals) parses and builds with only data paths changed."""
import glob
import os
import re

import pytest
import yaml

from edvr import components  # noqa: F401
from edvr.config import load_config
from edvr.datasets.loader import build_dataset
from edvr.evaluation import build_metrics
from edvr.registry import MODELS, build_from_config
from edvr.solver import build_lr_scheduler, build_optimizer
from tests.paddlegan_configs import TUTORIAL_CONFIG, VARIANTS, flatten, paddlegan_settings, unflatten
from tests.tiny import ROOT, make_tiny_data

ALL_CONFIGS = sorted(glob.glob(os.path.join(ROOT, 'configs', '*.yaml')))
# Configs on REDS-layout data; the Vimeo-90K / Vid4 ones build in tests/convert/test_official_configs.py.
CONFIGS = [p for p in ALL_CONFIGS if not re.search(r'vimeo90k|vid4', os.path.basename(p))]
PADDLEGAN_NAMES = list(VARIANTS)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_data(tmp_path_factory.mktemp('demo'))


def path_overrides(cfg, data):
    """Point a config's data paths at the tiny demo (GT doubles as LQ for scale-1 configs)."""
    scale = cfg.model.generator.get('scale_factor', 4)
    lq_train = 'train_sharp_bicubic' if scale == 4 else 'train_sharp'
    lq_test = 'REDS4_test_sharp_bicubic' if scale == 4 else 'REDS4_test_sharp'
    inner = 'dataset.train.dataset' if 'dataset' in cfg.dataset.train else 'dataset.train'
    return [f'{inner}.lq_folder={data}/{lq_train}/X4', f'{inner}.gt_folder={data}/train_sharp/X4',
            f'{inner}.ann_file={data}/meta_info_REDS_GT.txt',
            f'dataset.test.lq_folder={data}/{lq_test}/X4', f'dataset.test.gt_folder={data}/REDS4_test_sharp/X4',
            f'dataset.test.ann_file={data}/meta_info_REDS_GT.txt']


def build_everything(path, data, extra=()):
    cfg = load_config(path)
    cfg = load_config(path, path_overrides(cfg, data) + list(extra))
    model = build_from_config(cfg.model, MODELS, where='model')
    scheduler = build_lr_scheduler(cfg.lr_scheduler)
    build_optimizer(cfg.optimizer, scheduler, model.generator.parameters())
    train = build_dataset(cfg.dataset.train, 'dataset.train')
    test = build_dataset(cfg.dataset.test, 'dataset.test')
    metrics = build_metrics(cfg.validate.metrics)
    return cfg, model, train, test, metrics


def test_shipped_configs_are_ours_and_paddlegans():
    names = [os.path.splitext(os.path.basename(p))[0] for p in ALL_CONFIGS]
    assert set(PADDLEGAN_NAMES) | {'edvr_demo'} <= set(names)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: os.path.basename(p))
def test_config_builds(path, data):
    cfg, model, train, test, metrics = build_everything(path, data)
    assert len(train) > 0 and len(test) == 5  # held-out clip 000 has 5 frames
    assert set(metrics) == {'psnr', 'ssim'}
    sample = test[0]
    scale = cfg.model.generator.get('scale_factor', 4)
    assert sample['lq'].shape[0] == cfg.model.generator.nframes
    assert sample['gt'].shape[-2:] == tuple(s * scale for s in sample['lq'].shape[-2:])
    assert model.tsa_iter == int(cfg.model.tsa_iter or 0)


def write_paddlegan_config(name, folder):
    """PaddleGAN's config ``name`` written out from its recorded settings."""
    path = os.path.join(folder, f'{name}.yaml')
    with open(path, 'w') as f:
        yaml.safe_dump(unflatten(paddlegan_settings(name)), f)
    return path


@pytest.mark.parametrize('name', PADDLEGAN_NAMES)
def test_paddlegan_configs_build_unchanged_and_match_ours(name, data, tmp_path):
    with open(os.path.join(ROOT, 'configs', f'{name}.yaml')) as f:
        ours = flatten(yaml.safe_load(f))
    theirs = paddlegan_settings(name)
    assert ours == theirs, {k: (ours.get(k), theirs.get(k)) for k in set(ours) | set(theirs)
                            if ours.get(k, '<absent>') != theirs.get(k, '<absent>')}
    build_everything(write_paddlegan_config(name, str(tmp_path)), data)


def test_tutorial_config_block_builds(data, tmp_path):
    """The tutorial's YAML blocks, merged, are PaddleGAN's blur config without TSA."""
    path = write_paddlegan_config(TUTORIAL_CONFIG, str(tmp_path))
    cfg, model, *_ = build_everything(path, data)
    assert cfg.model.generator.predeblur and cfg.model.generator.HR_in
    assert cfg.lr_scheduler.periods == [150000] * 4
    assert sum(p.size for p in model.generator.parameters()) == 22388067
