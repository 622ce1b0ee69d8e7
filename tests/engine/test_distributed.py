# SPDX-License-Identifier: Apache-2.0
"""Two training processes on CPU through Paddle's own launcher (gloo backend)."""
import glob
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

from edvr.engine.cli import main
from tests.engine.tiny_run import DEMO_CONFIG, ROOT, make_tiny_data, tiny_overrides


def launch(tmp_path, name, *args):
    """Run tools/main.py in 2 processes; returns (run folder, rank-0 log text)."""
    logs = str(tmp_path / f'logs_{name}')
    cmd = [sys.executable, '-m', 'paddle.distributed.launch', '--nproc_per_node', '2',
           '--log_dir', logs, os.path.join(ROOT, 'tools', 'main.py'), '-c', DEMO_CONFIG, *args]
    done = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    worker0 = open(os.path.join(logs, 'workerlog.0')).read()
    assert done.returncode == 0, worker0[-3000:]
    return worker0


def weights(path):
    return {k: v.numpy() for k, v in paddle.load(path)['generator'].items()}


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_data(tmp_path_factory.mktemp('demo'))


def test_two_processes_train_identically_and_split_validation_exactly(data, tmp_path, monkeypatch):
    monkeypatch.setenv('EDVR_NUM_THREADS', '1')  # same arithmetic in every process
    out = str(tmp_path / 'dist')
    log = launch(tmp_path, 'a', '--seed', '3', '-o', *tiny_overrides(data, out, 4))
    assert 'processes: 2' in log and 'iter: 4/4' in log
    assert log.count('weights identical on all 2 processes') == 2  # at iterations 2 and 4
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    two = json.load(open(os.path.join(run, 'final_scores.json')))
    # one process scoring the same weights: the 5 test frames split 3+2 over two ranks add up exactly
    assert main(['-c', DEMO_CONFIG, '--evaluate-only', '--load',
                 os.path.join(run, 'iter_4_weight.pdparams'), '-o',
                 *tiny_overrides(data, str(tmp_path / 'single'), 4)]) == 0
    (single_run,) = glob.glob(str(tmp_path / 'single' / 'edvr_demo-*'))
    one = json.load(open(os.path.join(single_run, 'final_scores.json')))
    assert two['model'] == pytest.approx(one['model'], abs=1e-9)
    assert two['bicubic'] == pytest.approx(one['bicubic'], abs=1e-9)

    # stopped at 2 and resumed to 4 in two processes: the same weights as the unbroken run
    part = str(tmp_path / 'part')
    launch(tmp_path, 'b', '--seed', '3', '-o', *tiny_overrides(data, part, 4), 'total_iters=2')
    (part_run,) = glob.glob(os.path.join(part, 'edvr_demo-*'))
    log = launch(tmp_path, 'c', '--resume', os.path.join(part_run, 'iter_2_checkpoint.pdparams'),
                 '-o', *tiny_overrides(data, part, 4))
    assert 'training iterations 3..4' in log
    a, b = weights(os.path.join(run, 'iter_4_weight.pdparams')), \
        weights(os.path.join(part_run, 'iter_4_weight.pdparams'))
    for key in a:
        np.testing.assert_allclose(b[key], a[key], atol=1e-6, rtol=0, err_msg=key)


def test_tsa_only_stage_under_two_processes(data, tmp_path):
    out = str(tmp_path / 'tsa')
    log = launch(tmp_path, 'tsa', '--seed', '2', '-o',
                 *tiny_overrides(data, out, 4, w_tsa=True, tsa_iter=2))
    assert 'iter: 4/4' in log and log.count('weights identical on all 2 processes') == 2
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    early, late = weights(os.path.join(run, 'iter_2_weight.pdparams')), \
        weights(os.path.join(run, 'iter_4_weight.pdparams'))
    frozen = [k for k in early if 'TSAModule' not in k and k.endswith('weight')]
    assert any(not np.array_equal(early[k], late[k]) for k in frozen)  # unfrozen after the stage
