# SPDX-License-Identifier: Apache-2.0
"""The settings schema: every known config passes unchanged, every mistake is one clear line."""
import copy
import glob
import os

import pytest

from edvr import settings
from edvr.config import _convert, load_config
from edvr.errors import ConfigError
from edvr.settings import check_settings, reference_markdown
from tests.paddlegan_configs import TUTORIAL_CONFIG, VARIANTS, paddlegan_settings, unflatten
from tests.tiny import ROOT


def paddlegan_config(variant):
    """One of PaddleGAN's six EDVR configs, as loaded by `load_config`."""
    return _convert(unflatten(paddlegan_settings(variant)))


def tutorial_config():
    """The config the tutorial's YAML blocks add up to."""
    return paddlegan_config(TUTORIAL_CONFIG)


@pytest.mark.parametrize('variant', sorted(VARIANTS))
def test_paddlegan_configs_pass_unchanged(variant):
    cfg = paddlegan_config(variant)
    before = copy.deepcopy(cfg)
    assert check_settings(cfg) == []
    assert check_settings(cfg, training=False) == []
    assert cfg == before
    assert settings.unused_keys(cfg) == ['checkpoints_dir']


def test_tutorial_block_passes():
    cfg = tutorial_config()
    assert check_settings(cfg) == []
    assert settings.value(cfg, 'model.tsa_iter') is False


SHIPPED = sorted(glob.glob(os.path.join(ROOT, 'configs', '*.yaml')))


@pytest.mark.parametrize('path', SHIPPED, ids=os.path.basename)
def test_shipped_configs_pass(path):
    cfg = load_config(path)
    assert check_settings(cfg, training=False) == []
    assert check_settings(cfg) == []  # the Vid4 config has no dataset.train: the trainer says so


def test_every_shipped_config_is_tested():
    assert len(SHIPPED) == 12


def _with(cfg, path, value):
    node = cfg
    parts = path.split('.')
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    return cfg


@pytest.mark.parametrize('path, value, message', [
    ('total_iter', 5, r"^total_iter: unknown setting; did you mean total_iters\?$"),
    ('model.tsa_itr', 5, r'^model\.tsa_itr: unknown setting; did you mean tsa_iter\?$'),
    ('dataset.tset', {}, r'^dataset\.tset: unknown setting; did you mean test\?$'),
    ('validate.intervall', 5, r'^validate\.intervall: unknown setting; did you mean interval\?$'),
    ('validate.save_imgs', True, r'^validate\.save_imgs: unknown setting; did you mean save_img\?$'),
    ('log_config.visual_interval', 5,
     r'^log_config\.visual_interval: unknown setting; did you mean visiual_interval, interval\?$'),
    ('snapshot_config.intreval', 5000,
     r'^snapshot_config\.intreval: unknown setting; did you mean interval\?$'),
    ('snapshot_config.max_kept', 5,
     r'^snapshot_config\.max_kept: unknown setting; did you mean max_keep\?$'),
])
def test_mistyped_key_in_each_section(path, value, message):
    with pytest.raises(ConfigError, match=message):
        check_settings(_with(paddlegan_config('edvr_m_wo_tsa'), path, value))


@pytest.mark.parametrize('path, value, message', [
    ('total_iters', 'abc', r"^total_iters: expected an integer >= 1, got 'abc'$"),
    ('total_iters', -5, r'^total_iters: expected an integer >= 1, got -5$'),
    ('total_iters', 0, r'^total_iters: expected an integer >= 1, got 0$'),
    ('total_iters', 2.5, r'^total_iters: expected an integer >= 1, got 2\.5$'),
    ('dataset.train.batch_size', 0, r'^dataset\.train\.batch_size: expected an integer >= 1, got 0$'),
    ('dataset.test.num_workers', -1, r'^dataset\.test\.num_workers: expected an integer >= 0, got -1$'),
    ('dataset.train.use_shared_memory', 'yes',
     r"^dataset\.train\.use_shared_memory: expected true or false, got 'yes'$"),
    ('log_config.interval', -1,
     r'^log_config\.interval: expected an integer >= 0 \(0 = off\), got -1$'),
    ('validate.interval', 'often',
     r"^validate\.interval: expected an integer >= 0 \(0 = off\), got 'often'$"),
    ('snapshot_config.interval', 1.5,
     r'^snapshot_config\.interval: expected an integer >= 0 \(0 = off\), got 1\.5$'),
    ('ema_decay', 1.5, r'^ema_decay: expected a number between 0\.0 and 0\.999999 \(0 = off\), got 1\.5$'),
    ('min_max', (1., 0.), r'^min_max: expected two numbers \(low, high\), low < high, got \(1\.0, 0\.0\)$'),
    ('enable_visualdl', 'no', r"^enable_visualdl: expected true or false, got 'no'$"),
    ('model.tsa_iter', -1, r'^model\.tsa_iter: expected a number >= 0 \(0 = off\), got -1$'),
    ('validate', 5, r'^validate: expected a mapping, got 5$'),
])
def test_wrong_types_and_ranges(path, value, message):
    with pytest.raises(ConfigError, match=message):
        check_settings(_with(paddlegan_config('edvr_m_wo_tsa'), path, value))


def test_intervals_accept_zero_and_null_means_default():
    cfg = paddlegan_config('edvr_m_wo_tsa')
    for path in ('validate.interval', 'log_config.interval', 'log_config.visiual_interval',
                 'snapshot_config.interval'):
        _with(cfg, path, 0)
    cfg.snapshot_config.max_keep = None
    assert check_settings(cfg) == []
    assert settings.value(cfg, 'log_config.interval') == 0
    assert settings.value(cfg, 'snapshot_config.max_keep') == 5
    assert settings.value(cfg, 'dataset.test.batch_size') == 1


def test_total_iters_or_epochs():
    cfg = paddlegan_config('edvr_m_wo_tsa')
    del cfg['total_iters']
    with pytest.raises(ConfigError,
                       match=r'^total_iters: missing; set total_iters \(an integer >= 1\) or epochs$'):
        check_settings(cfg)
    cfg.epochs = 3
    check_settings(cfg)
    assert check_settings(cfg, training=False) == []  # evaluation needs neither
    cfg.total_iters = 6e5  # YAML's 6e5 is a float; an integral one is accepted as an integer
    assert settings.value(cfg, 'total_iters') == 600000


@pytest.mark.parametrize('path, value, message', [
    ('dataset.train.dataset.num_frames', 7,
     r'^dataset\.train\.dataset\.num_frames: 7 frames per sample, but model\.generator\.nframes '
     r'is 5; make them equal$'),
    ('dataset.test.num_frames', 3,
     r'^dataset\.test\.num_frames: 3 frames per sample, but model\.generator\.nframes is 5'),
    ('model.generator.center', 1,
     r'^model\.generator\.center: 1, but the ground truth is the middle frame of '
     r'dataset\.train\.dataset\.num_frames 5 \(index 2\)$'),
    ('model.generator.scale_factor', 2,
     r'^dataset\.train\.dataset\.preprocess\.3\.pipeline\.0\.scale: 4, but '
     r'model\.generator\.scale_factor is 2; the GT/LQ size ratio must match it$'),
    ('snapshot_config.best_metric', 'lpips',
     r"^snapshot_config\.best_metric: 'lpips' is not one of validate\.metrics \(psnr, ssim\)$"),
])
def test_cross_checks(path, value, message):
    with pytest.raises(ConfigError, match=message):
        check_settings(_with(paddlegan_config('edvr_m_wo_tsa'), path, value))


def test_evaluate_only_needs_a_test_dataset():
    cfg = paddlegan_config('edvr_m_wo_tsa')
    del cfg.dataset['test']
    assert check_settings(cfg) == []
    with pytest.raises(ConfigError, match=r'^dataset\.test: missing; --evaluate-only needs a test dataset$'):
        check_settings(cfg, training=False)
    del cfg.dataset['train']
    assert check_settings(cfg) == []  # training without dataset.train: the trainer names it


def test_schedule_not_spanning_total_iters_warns():
    cfg = paddlegan_config('edvr_m_wo_tsa')
    cfg.total_iters = 1000
    assert check_settings(cfg) == [
        'lr_scheduler.periods sum to 600000 but total_iters is 1000: training stops before the '
        'schedule ends (the rate never reaches eta_min)']
    cfg.total_iters = 700000
    assert check_settings(cfg) == [
        'lr_scheduler.periods sum to 600000 but total_iters is 700000: the rate stays at eta_min '
        'after iteration 600000']
    assert check_settings(cfg, training=False) == []


def test_docs_page_matches_the_schema():
    with open(os.path.join(ROOT, 'docs', 'config.md'), encoding='utf-8') as f:
        assert f.read() == reference_markdown(), \
            'docs/config.md is out of date: run python -m edvr.settings docs/config.md'
    for path in settings.SETTINGS:
        assert f'| `{path}` |' in reference_markdown()
