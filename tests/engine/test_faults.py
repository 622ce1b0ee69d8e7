# SPDX-License-Identifier: Apache-2.0
"""Runs that stop early keep their work: signals, NaN losses, --resume auto."""
import glob
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest

from edvr.config import load_config
from edvr.cli.train import main
from edvr.engine.trainer import Trainer
from edvr.errors import TrainingError
from tests.tiny import DEMO_CONFIG, ROOT, make_tiny_data, tiny_overrides


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_data(tmp_path_factory.mktemp('demo'))


def test_sigterm_saves_the_last_iteration_and_resume_continues(data, tmp_path):
    out = str(tmp_path / 'out')
    cmd = [sys.executable, os.path.join(ROOT, 'tools', 'main.py'), '-c', DEMO_CONFIG, '--seed', '4',
           '-o', *tiny_overrides(data, out, 100000), 'snapshot_config.interval=50000']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if 'iter: 5/' in line:
            proc.send_signal(signal.SIGTERM)
            break
    lines += proc.stdout.readlines()
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM, ''.join(lines[-20:])
    log = ''.join(lines)
    stopped = int(re.search(r'stopped by SIGTERM after iteration (\d+)', log).group(1))
    assert stopped >= 5
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    assert sorted(os.path.basename(p) for p in glob.glob(os.path.join(run, 'iter_*'))) == \
        [f'iter_{stopped}_checkpoint.pdparams', f'iter_{stopped}_weight.pdparams']
    assert main(['-c', DEMO_CONFIG, '--resume', 'auto', '-o', *tiny_overrides(data, out, stopped + 2)]) == 0
    assert os.path.exists(os.path.join(run, f'iter_{stopped + 2}_checkpoint.pdparams'))
    assert f'training iterations {stopped + 1}..{stopped + 2}' in open(os.path.join(run, 'log.txt')).read()


def test_nan_loss_stops_before_the_weights_change(data, tmp_path):
    cfg = load_config(DEMO_CONFIG, tiny_overrides(data, str(tmp_path), 6))
    trainer = Trainer(cfg, DEMO_CONFIG, seed=1)
    criterion, calls = trainer.model.pixel_criterion, []

    def poisoned(pred, target):
        calls.append(1)
        loss = criterion(pred, target)
        return loss * float('nan') if len(calls) == 3 else loss
    trainer.model.pixel_criterion = poisoned
    with pytest.raises(TrainingError, match=r'iteration 3: the loss is nan .*last good checkpoint: '
                                            r'.*iter_2_checkpoint\.pdparams'):
        trainer.train()
    saved = paddle.load(os.path.join(trainer.run_dir, 'iter_2_weight.pdparams'))['generator']
    now = trainer.generator.state_dict()
    for key, value in saved.items():
        np.testing.assert_array_equal(now[key].numpy(), value.numpy(), err_msg=key)


def test_nan_gradient_with_a_finite_loss_also_stops(data, tmp_path):
    cfg = load_config(DEMO_CONFIG, tiny_overrides(data, str(tmp_path), 6))
    trainer = Trainer(cfg, DEMO_CONFIG, seed=1)
    criterion = trainer.model.pixel_criterion
    before = {k: v.numpy().copy() for k, v in trainer.generator.state_dict().items()}

    class NanGradient(paddle.autograd.PyLayer):  # identity forward, NaN backward
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, grad):
            return grad * float('nan')

    def poisoned(pred, target):
        return criterion(NanGradient.apply(pred), target)
    trainer.model.pixel_criterion = poisoned
    with pytest.raises(TrainingError, match=r'iteration 1: a gradient is NaN or infinite'):
        trainer.train()
    for key, value in trainer.generator.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key], err_msg=key)


@pytest.mark.skipif(paddle.is_compiled_with_cuda(), reason='checks the CPU-only message')
def test_amp_on_cpu_says_it_trains_in_float32(data, tmp_path, capsys):
    out = str(tmp_path / 'amp')
    assert main(['-c', DEMO_CONFIG, '--amp', '--seed', '1', '-o', *tiny_overrides(data, out, 3)]) == 0
    printed = capsys.readouterr().out
    assert '--amp: Paddle runs mixed precision only on GPU-like devices; on CPU this run trains ' \
           'in float32' in printed
    losses = [float(v) for v in re.findall(r'loss_pixel: ([0-9.]+)', printed)]
    assert len(losses) == 3 and all(np.isfinite(losses))


def test_resume_auto_without_checkpoint_starts_fresh(data, tmp_path, capsys):
    out = str(tmp_path / 'fresh')
    assert main(['-c', DEMO_CONFIG, '--resume', 'auto', '-o', *tiny_overrides(data, out, 2)]) == 0
    assert 'no checkpoint found, starting a new run' in capsys.readouterr().out
    assert len(glob.glob(os.path.join(out, 'edvr_demo-*', 'iter_2_checkpoint.pdparams'))) == 1


def _wait_for(predicate, proc, what):
    """Poll until ``predicate()`` holds; fail if the process ends first."""
    while not predicate():
        assert proc.poll() is None, f'training ended before {what}'
        time.sleep(0.001)


def test_sigkill_during_training_leaves_a_loadable_checkpoint(data, tmp_path):
    """SIGKILL while a checkpoint is being written, once iteration 8's checkpoint is in place."""
    out = str(tmp_path / 'killed')
    cmd = [sys.executable, os.path.join(ROOT, 'tools', 'main.py'), '-c', DEMO_CONFIG, '--seed', '4',
           '-o', *tiny_overrides(data, out, 100000), 'snapshot_config.interval=1',
           'snapshot_config.max_keep=2', 'log_config.visiual_interval=0']
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    marker = os.path.join(out, 'edvr_demo-*', 'iter_8_checkpoint.pdparams')
    try:
        _wait_for(lambda: glob.glob(marker), proc, 'iteration 8')
        run = os.path.dirname(glob.glob(marker)[0])
        # a temporary file beside the real names marks a write in progress
        _wait_for(lambda: any('.tmp-' in n or n.startswith('iter_30_') for n in os.listdir(run)),
                  proc, 'a later write')
        proc.kill()
    finally:
        proc.kill()
        proc.wait(timeout=60)
    for path in glob.glob(os.path.join(run, 'iter_*.pdparams')):   # every real name loads whole
        assert paddle.load(path)['generator'], path
    assert main(['-c', DEMO_CONFIG, '--resume', 'auto', '-o', *tiny_overrides(data, out, 12),
                 'snapshot_config.interval=1']) == 0
    log = open(os.path.join(run, 'log.txt')).read()
    resumed_at = int(re.search(r'resumed from .*iter_(\d+)_checkpoint\.pdparams', log).group(1))
    assert resumed_at >= 8
    assert os.path.exists(os.path.join(run, 'iter_12_checkpoint.pdparams'))
