# SPDX-License-Identifier: Apache-2.0
"""One unseeded run with a TSA-only stage of 2 iterations and a learning-rate restart after
iteration 2: the stage ends exactly there, the rates follow the restart, a resume from
the iteration before or after that boundary ends as the unbroken run did, and the seed
the log names reproduces the run."""
import glob
import math
import os
import re
import shutil

import numpy as np
import paddle
import pytest

from edvr.cli.train import main
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides

BASE, ETA = 1e-3, 1e-5
SCHEDULE = ['lr_scheduler.periods=[2, 2]', 'lr_scheduler.restart_weights=[1, 0.5]',
            f'lr_scheduler.learning_rate={BASE}', f'lr_scheduler.eta_min={ETA}',
            'snapshot_config.interval=1']


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_data(tmp_path_factory.mktemp('demo'), num_train_clips=1)


def overrides(data, out, total=4):
    return [*tiny_overrides(data, out, total, w_tsa=True, tsa_iter=2), *SCHEDULE]


@pytest.fixture(scope='module')
def unbroken(data, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('unbroken'))
    assert main(['-c', DEMO_CONFIG, '-o', *overrides(data, out)]) == 0
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    return run


def weights(run, it):
    return {k: v.numpy() for k, v in
            paddle.load(os.path.join(run, f'iter_{it}_weight.pdparams'))['generator'].items()}


def logged(run, pattern):
    return re.findall(pattern, open(os.path.join(run, 'log.txt')).read())


def test_the_tsa_only_stage_ends_after_its_last_iteration(unbroken):
    w1, w2, w3 = (weights(unbroken, it) for it in (1, 2, 3))
    frozen = [k for k in w1 if 'TSAModule' not in k]
    tsa = [k for k in w1 if 'TSAModule' in k]
    assert frozen and tsa
    assert all(np.array_equal(w1[k], w2[k]) for k in frozen)       # iteration 2: still frozen
    assert any(not np.array_equal(w1[k], w2[k]) for k in tsa)
    assert any(not np.array_equal(w2[k], w3[k]) for k in frozen)   # iteration 3: all train


def test_the_logged_rates_follow_the_restart(unbroken):
    rates = {int(k): float(v) for k, v in logged(unbroken, r'iter: (\d+)/\d+ lr: ([0-9.e+-]+)')}

    def rate(step):   # steps 0..2 in the first cycle (step 2 at eta_min), 3 in the second
        start, weight = (0, 1.0) if step <= 2 else (2, 0.5)
        return ETA + 0.5 * weight * (BASE - ETA) * (1 + math.cos(math.pi * (step - start) / 2))
    assert sorted(rates) == [1, 2, 3, 4]
    for k, lr in rates.items():
        assert lr == pytest.approx(rate(k - 1), rel=1e-3), k


@pytest.mark.parametrize('resume_at', [1, 3])
def test_a_resume_either_side_of_the_boundary_ends_as_the_unbroken_run(data, unbroken, tmp_path,
                                                                       resume_at):
    folder = tmp_path / 'part'
    folder.mkdir()
    checkpoint = str(folder / f'iter_{resume_at}_checkpoint.pdparams')
    shutil.copy(os.path.join(unbroken, f'iter_{resume_at}_checkpoint.pdparams'), checkpoint)
    assert main(['-c', DEMO_CONFIG, '--resume', checkpoint, '-o',
                 *overrides(data, str(tmp_path / 'unused'))]) == 0
    expected, got = weights(unbroken, 4), weights(str(folder), 4)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=1e-6, err_msg=key)


def test_the_logged_seed_reproduces_the_run(data, unbroken, tmp_path):
    (seed,) = logged(unbroken, r'processes: 1; seed: (\d+)')
    state = paddle.load(os.path.join(unbroken, 'iter_1_checkpoint.pdparams'))
    assert state['seed'] == int(seed)
    out = str(tmp_path / 'again')
    assert main(['-c', DEMO_CONFIG, '--seed', seed, '-o', *overrides(data, out, 1)]) == 0
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    expected, got = weights(unbroken, 1), weights(run, 1)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
