# SPDX-License-Identifier: Apache-2.0
"""--evaluate-only --resume CKPT scores that checkpoint's weights (its EMA weights when the run
kept them) in a new run folder; the training run's folder stays byte for byte as it was."""
import glob
import json
import os

import pytest

from tests.edges.world import tree_state
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides
from tools.main import main


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    data = make_tiny_data(tmp_path_factory.mktemp('demo'))
    out = str(tmp_path_factory.mktemp('runs'))
    assert main(['-c', DEMO_CONFIG, '--seed', '3', '-o', *tiny_overrides(data, out, 4),
                 '+ema_decay=0.5', 'log_config.visiual_interval=0']) == 0
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    return data, out, run


def _scores(out, data, *flags):
    before = set(glob.glob(os.path.join(out, 'edvr_demo-*')))
    assert main(['-c', DEMO_CONFIG, '--evaluate-only', *flags, '-o',
                 *tiny_overrides(data, out, 4)]) == 0
    (new,) = set(glob.glob(os.path.join(out, 'edvr_demo-*'))) - before
    with open(os.path.join(new, 'final_scores.json')) as f:
        return json.load(f), new


def test_evaluating_a_checkpoint_scores_its_ema_weights_and_writes_nothing_there(trained):
    data, out, run = trained
    checkpoint = os.path.join(run, 'iter_4_checkpoint.pdparams')
    untouched = tree_state(run)
    by_resume, folder = _scores(out, data, '--resume', checkpoint)
    assert tree_state(run) == untouched  # final_scores.json, log, configs: as the run left them
    assert by_resume['iteration'] == 4
    # iter_4_weight.pdparams holds the EMA weights the run published
    by_load, _ = _scores(out, data, '--load', os.path.join(run, 'iter_4_weight.pdparams'))
    assert by_resume['model'] == by_load['model']
    fresh, _ = _scores(out, data)
    assert abs(fresh['model']['psnr'] - by_resume['model']['psnr']) > 0.1
    with open(os.path.join(folder, 'log.txt')) as f:
        assert f'evaluating the EMA weights of {checkpoint} (iteration 4)' in f.read()
