# SPDX-License-Identifier: Apache-2.0
"""Values that are each well-typed but make a component meaningless: one line, before anything runs."""
import inspect

import pytest

from edvr.config import load_config
from edvr.errors import ConfigError
from edvr.models.edvr_net import EDVRNet
from edvr.prepare.demo import make_demo_dataset
from edvr.settings import check_settings
from edvr.settings_cross import DEMO_DATA_KEYS, max_workers
from edvr.solver import CosineAnnealingRestartLR


def demo(*overrides):
    return load_config('edvr_demo', list(overrides))


@pytest.mark.parametrize('overrides, message', [
    (['lr_scheduler.eta_min=0.01'], r'lr_scheduler.eta_min: 0.01 is above '
                                    r'lr_scheduler.learning_rate 0.001 \(the rate would rise'),
    (['lr_scheduler.learning_rate=-1'], r'lr_scheduler.learning_rate: expected a number > 0, '
                                        r'got -1'),
    (['dataset.train.num_workers=100000'], r'dataset.train.num_workers: 100000 worker processes; '
                                           r'this machine can start at most \d+'),
    (['demo_data={root: data/demo, num_clips: 3}'], r'demo_data.num_clips: unknown key; did you '
                                                    r'mean num_train_clips\?'),
    (['demo_data={num_frames: 3}'], r'demo_data.root: expected a folder, got None'),
    (['+export_model=[{name: generator, inputs: 1}]'], r'export_model.0.inputs: unknown key; '
                                                       r'did you mean inputs_num'),
    (['+export_model=[{name: generator, inputs_num: 0}]'], r'export_model.0.inputs_num: expected '
                                                           r'a whole number from 1 to 16, got 0'),
    (['+export_model=[generator]'], r"export_model.0: expected a mapping"),
])
def test_meaningless_settings_are_one_line(overrides, message):
    with pytest.raises(ConfigError, match=message):
        check_settings(demo(*overrides))


def test_the_shipped_demo_passes_and_the_worker_limit_is_reasonable():
    assert check_settings(demo()) == []
    assert max_workers() >= 16


def test_demo_data_keys_are_the_builders_arguments():
    assert set(DEMO_DATA_KEYS) == set(inspect.signature(make_demo_dataset).parameters)


@pytest.mark.parametrize('kwargs, message', [
    (dict(groups=0), r'EDVRNet: groups=0; expected a whole number from 1 to 4096'),
    (dict(nf=64, groups=5), r'EDVRNet: nf=64 must be divisible by groups=5'),
    (dict(nf='lots'), r"EDVRNet: nf='lots'; expected a whole number from 1 to 4096"),
    (dict(nframes=2.5), r'EDVRNet: nframes=2.5; expected a whole number'),
    (dict(front_RBs=-1), r'EDVRNet: front_RBs=-1; expected a whole number from 0 to 4096'),
    (dict(in_nf=True), r'EDVRNet: in_nf=True; expected a whole number'),
])
def test_edvrnet_names_the_argument(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        EDVRNet(**kwargs)


def test_scheduler_refuses_a_floor_above_the_rate():
    with pytest.raises(ConfigError, match=r'lr_scheduler.eta_min: 0.1; expected 0 <= eta_min <= '
                                          r'learning_rate 0.01 \(else the rate rises\)'):
        CosineAnnealingRestartLR(0.01, [10], [1], eta_min=0.1)
