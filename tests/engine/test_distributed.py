# SPDX-License-Identifier: Apache-2.0
"""Two training processes on CPU through Paddle's own launcher (gloo backend)."""
import glob
import json
import os
import subprocess
import sys

import pytest

from edvr.engine.cli import main
from tests.engine.tiny_run import DEMO_CONFIG, ROOT, make_tiny_data, tiny_overrides


def test_two_process_training_and_exact_split_validation(tmp_path, monkeypatch):
    monkeypatch.setenv('EDVR_NUM_THREADS', '1')  # same arithmetic in every process
    data = make_tiny_data(tmp_path / 'demo')
    out, logs = str(tmp_path / 'dist'), str(tmp_path / 'logs')
    cmd = [sys.executable, '-m', 'paddle.distributed.launch', '--nproc_per_node', '2',
           '--log_dir', logs, os.path.join(ROOT, 'tools', 'main.py'), '-c', DEMO_CONFIG,
           '--seed', '3', '-o', *tiny_overrides(data, out, 4)]
    done = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    worker0 = open(os.path.join(logs, 'workerlog.0')).read()
    assert done.returncode == 0, worker0[-3000:]
    assert 'processes: 2' in worker0 and 'iter: 4/4' in worker0
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
