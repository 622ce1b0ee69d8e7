# SPDX-License-Identifier: Apache-2.0
"""Every shipped config (and PaddleGAN's originals) parses and builds with only data paths changed."""
import glob
import os
import re

import pytest
import yaml

from edvr import components  # noqa: F401
from edvr.config import load_config, to_plain
from edvr.datasets.loader import build_dataset
from edvr.engine.evaluator import build_metrics
from edvr.registry import MODELS, build_from_config
from edvr.solver import build_lr_scheduler, build_optimizer
from tests.engine.tiny_run import make_tiny_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL_CONFIGS = sorted(glob.glob(os.path.join(ROOT, 'configs', '*.yaml')))
# Configs on REDS-layout data; the Vimeo-90K / Vid4 ones build in tests/convert/test_official_configs.py.
CONFIGS = [p for p in ALL_CONFIGS if not re.search(r'vimeo90k|vid4', os.path.basename(p))]
REFERENCE = os.path.join(ROOT, '..', 'shared', 'reference', 'paddlegan-configs')
TUTORIAL = os.path.join(ROOT, '..', 'shared', 'seed', '000_3003537b57387634.txt')
PADDLEGAN_NAMES = ['edvr_m_wo_tsa', 'edvr_m_w_tsa', 'edvr_l_wo_tsa', 'edvr_l_w_tsa',
                   'edvr_l_blur_wo_tsa', 'edvr_l_blur_w_tsa']


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


@pytest.mark.skipif(not os.path.isdir(REFERENCE), reason='PaddleGAN reference configs not present '
                    '(../shared/reference is only beside the development checkout)')
@pytest.mark.parametrize('name', PADDLEGAN_NAMES)
def test_reference_configs_build_unchanged_and_match_ours(name, data):
    theirs = os.path.join(REFERENCE, f'{name}.yaml')
    build_everything(theirs, data)
    assert to_plain(load_config(theirs)) == to_plain(load_config(
        os.path.join(ROOT, 'configs', f'{name}.yaml')))


def tutorial_config(folder):
    """The EDVR config our users' tutorial spreads over its YAML blocks, written as one file."""
    text = open(TUTORIAL, encoding='utf-8').read()
    merged = {}
    for block in re.findall(r'```\s*yaml\n(.*?)```', text, flags=re.S):
        try:
            part = yaml.safe_load(block)
        except yaml.YAMLError:
            continue
        if isinstance(part, dict) and not {'batch_size', 'total_iters', 'learning_rate'} >= set(part):
            merged.update(part)
    path = os.path.join(folder, 'tutorial.yaml')
    with open(path, 'w') as f:
        yaml.safe_dump(merged, f)
    return path


@pytest.mark.skipif(not os.path.isfile(TUTORIAL), reason='tutorial text not present '
                    '(../shared/seed is only beside the development checkout)')
def test_tutorial_config_block_builds(data, tmp_path):
    path = tutorial_config(str(tmp_path))
    cfg, model, *_ = build_everything(path, data)
    assert cfg.model.generator.predeblur and cfg.model.generator.HR_in
    assert cfg.lr_scheduler.periods == [150000] * 4
    assert sum(p.size for p in model.generator.parameters()) == 22388067
