# SPDX-License-Identifier: Apache-2.0
"""The settings schema at its edges: bounds equal to the limit, equal pairs, null values
before a mistake, keys with no close match, and the defaults `value` hands out."""
import re

import pytest

from edvr import settings
from edvr.config import _convert
from edvr.errors import ConfigError
from edvr.settings import check_settings
from tests.paddlegan_configs import paddlegan_settings, unflatten

TOP_LEVEL = ('total_iters, epochs, output_dir, checkpoints_dir, is_train, min_max, '
             'enable_visualdl, find_unused_parameters, ema_decay, demo_data, export_model, seed, '
             'model, dataset, lr_scheduler, optimizer, validate, log_config, snapshot_config')


def config(**top):
    cfg = _convert(unflatten(paddlegan_settings('edvr_m_wo_tsa')))
    cfg.update(top)
    return cfg


def refused(cfg, message, training=True):
    with pytest.raises(ConfigError, match=rf'^{re.escape(message)}$'):
        check_settings(cfg, training)


@pytest.mark.parametrize('decay', [0, 0.5, 0.999, 0.999999])
def test_ema_decay_accepts_its_bounds(decay):
    assert check_settings(config(ema_decay=decay)) == []


@pytest.mark.parametrize('decay', [1.0, 0.9999995, -0.1, True, 'x', [0.9]])
def test_ema_decay_refuses_beyond_them(decay):
    refused(config(ema_decay=decay),
            f'ema_decay: expected a number between 0.0 and 0.999999 (0 = off), got {decay!r}')


@pytest.mark.parametrize('pair', [(1, 1), (0.5, 0.5), (0, True), (False, 1), (0, 1, 2), 'ab'])
def test_min_max_needs_two_numbers_low_below_high(pair):
    refused(config(min_max=pair),
            f'min_max: expected two numbers (low, high), low < high, got {pair!r}')


def test_lower_bounds_are_inclusive():
    cfg = config(total_iters=1, seed=0)
    cfg.dataset.train.batch_size = 1
    cfg.dataset.train.num_workers = 0
    cfg.snapshot_config.max_keep = 0
    assert check_settings(cfg) == [
        'lr_scheduler.periods sum to 600000 but total_iters is 1: training stops before the '
        'schedule ends (the rate never reaches eta_min)']
    refused(config(seed=-1), 'seed: expected an integer >= 0, got -1')


def test_a_key_with_no_close_match_lists_the_keys_of_its_section():
    refused(config(zzz=1), f'zzz: unknown setting; known keys here: {TOP_LEVEL}')
    cfg = config()
    cfg.validate.qq = 1
    refused(cfg, 'validate.qq: unknown setting; known keys here: interval, save_img, metrics')


def test_a_top_level_typo_is_not_matched_with_dataset_keys():
    refused(config(batch_siz=1), f'batch_siz: unknown setting; known keys here: {TOP_LEVEL}')


def test_a_null_section_does_not_hide_a_later_mistake():
    cfg = config()
    cfg.validate = None
    cfg.log_config = {'interval': None, 'intervall': 5}
    refused(cfg, 'log_config.intervall: unknown setting; did you mean interval, visiual_interval?')


def test_best_metric_without_any_metric():
    cfg = config()
    cfg.validate.metrics = {}
    cfg.snapshot_config.best_metric = 'psnr'
    refused(cfg, "snapshot_config.best_metric: 'psnr' is not one of validate.metrics (none)")


def test_only_the_paired_crop_is_checked_against_the_scale_factor():
    cfg = config()
    pipeline = cfg.dataset.train.dataset.preprocess[3].pipeline
    pipeline.insert(0, {'name': 'SomeResize', 'scale': 2})       # not SRPairedRandomCrop
    cfg.dataset.train.dataset.preprocess.insert(0, 'GetFrameIdx')  # not a mapping: left to the registry
    assert check_settings(cfg) == []
    pipeline[1]['scale'] = 2
    refused(cfg, 'dataset.train.dataset.preprocess.4.pipeline.1.scale: 2, but '
                 'model.generator.scale_factor is 4; the GT/LQ size ratio must match it')


def test_value_returns_declared_defaults_and_integers():
    cfg = config()
    cfg.log_config.interval = 20.0
    assert settings.value(cfg, 'log_config.interval') == 20
    assert type(settings.value(cfg, 'log_config.interval')) is int
    cfg.dataset.test = None
    assert settings.value(cfg, 'dataset.test.batch_size') == 1
    assert settings.value({}, 'snapshot_config.best_metric') == 'psnr'
    assert settings.value({}, 'min_max') == (0., 1.)
    with pytest.raises(KeyError, match=r"^'log_config\.intervall is not a declared setting'$"):
        settings.value(cfg, 'log_config.intervall')


def test_loader_values_of_a_dataset_block():
    cfg = config()
    train, test = cfg.dataset.train, cfg.dataset.test
    train.batch_size = 32.0
    assert settings.loader_value(train, 'batch_size') == 32
    assert type(settings.loader_value(train, 'batch_size')) is int
    assert settings.loader_value(train, 'num_workers') == train.num_workers
    assert settings.loader_value(test, 'batch_size') == 1
    assert settings.loader_value(test, 'num_workers') == 0
    assert settings.loader_value(test, 'use_shared_memory') is True
    test.use_shared_memory = False
    assert settings.loader_value(test, 'use_shared_memory') is False


def test_input_paths_of_every_dataset_including_wrapped_ones():
    cfg = config()
    cfg.dataset.test.ann_file = ''                 # empty: not a path
    cfg.dataset.test.gt_folder = None
    assert settings.input_paths(cfg) == [
        ('dataset.train.dataset.lq_folder', 'data/REDS/train_sharp_bicubic/X4'),
        ('dataset.train.dataset.gt_folder', 'data/REDS/train_sharp/X4'),
        ('dataset.train.dataset.ann_file', 'data/REDS/meta_info_REDS_GT.txt'),
        ('dataset.test.lq_folder', 'data/REDS/REDS4_test_sharp_bicubic/X4')]
    assert settings.input_paths({}) == []


@pytest.mark.parametrize('path, value, message', [
    ('seed', 2 ** 32, 'seed: expected an integer >= 0 and at most 4294967295, got 4294967296'),
    ('seed', 5e9, 'seed: expected an integer >= 0 and at most 4294967295, got 5000000000.0'),
    ('model.tsa_iter', 2 ** 32,
     'model.tsa_iter: expected a number >= 0 (0 = off) and at most 4294967295, got 4294967296'),
    ('output_dir', '  ', "output_dir: expected a non-empty string, got '  '"),
    ('output_dir', 5, 'output_dir: expected a non-empty string, got 5'),
    ('ema_decay', float('nan'), 'ema_decay: expected a finite number, got nan'),
    ('model.generator.nf', float('inf'), 'model.generator.nf: expected a finite number, got inf'),
    ('lr_scheduler.periods', [3, float('-inf')],
     'lr_scheduler.periods.1: expected a finite number, got -inf'),
])
def test_integers_up_to_the_largest_seed_strings_not_blank_numbers_finite(path, value, message):
    cfg = config()
    node = cfg
    parts = path.split('.')
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    refused(cfg, message)


def test_the_largest_seed_itself_and_a_config_that_is_not_a_mapping():
    assert check_settings(config(seed=2 ** 32 - 1)) == []
    with pytest.raises(ConfigError, match=r'^config: expected a mapping of settings, got list$'):
        check_settings([1])
