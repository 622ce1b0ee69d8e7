# SPDX-License-Identifier: Apache-2.0
"""Several training processes on CPU through Paddle's own launcher (gloo backend):
2 processes on one machine, and 2 "machines" of 1 process each over 127.0.0.1."""
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest

from edvr.cli.train import main
from tests.tiny import DEMO_CONFIG, ROOT, make_tiny_data, tiny_overrides

TIMEOUT = 300  # seconds, per launcher


def start(cwd, logs, args, launcher_args=('--nproc_per_node', '2')):
    """Start `paddle.distributed.launch ... tools/main.py -c DEMO_CONFIG args` in ``cwd``."""
    cmd = [sys.executable, '-m', 'paddle.distributed.launch', *launcher_args, '--log_dir', str(logs),
           os.path.join(ROOT, 'tools', 'main.py'), '-c', DEMO_CONFIG, *args]
    env = dict(os.environ, PYTHONPATH=ROOT, EDVR_NUM_THREADS='1')  # 2 processes on 2 cores
    return subprocess.Popen(cmd, cwd=str(cwd), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(proc, logs):
    """Wait for a launcher; returns (exit code, rank-0 log of that machine, launcher output)."""
    try:
        output, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, open(os.path.join(logs, 'workerlog.0')).read(), output


def launch(tmp_path, name, *args):
    """Run tools/main.py in 2 processes to success; returns the rank-0 log text."""
    logs = tmp_path / f'logs_{name}'
    code, worker0, _ = finish(start(tmp_path, logs, args), logs)
    assert code == 0, worker0[-3000:]
    return worker0


def wait_for_line(path, pattern, timeout=TIMEOUT):
    """Poll the log file ``path`` until ``pattern`` appears (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and re.search(pattern, open(path).read()):
            return
        time.sleep(0.05)
    raise AssertionError(f'{pattern!r} not in {path} after {timeout} s')


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def two_machines(cwds, args_per_machine, name):
    """Two launchers of 1 process each (node ranks 0 and 1) over 127.0.0.1, run at once.

    Returns [(exit code, rank-0 log of the machine)] per machine.
    """
    port = free_port()
    procs = []
    for node, (cwd, args) in enumerate(zip(cwds, args_per_machine)):
        launcher = ('--nnodes', '2', '--master', f'127.0.0.1:{port}', '--host', '127.0.0.1',
                    '--rank', str(node), '--nproc_per_node', '1')
        logs = cwd / f'logs_{name}_n{node}'
        procs.append((start(cwd, logs, args, launcher), logs))
    return [finish(proc, logs) for proc, logs in procs]


def weights(path):
    return {k: v.numpy() for k, v in paddle.load(path)['generator'].items()}


def assert_same_weights(path_a, path_b):
    a, b = weights(path_a), weights(path_b)
    assert sorted(a) == sorted(b)
    for key in a:
        assert np.array_equal(a[key], b[key]), key


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_data(tmp_path_factory.mktemp('demo'))


def test_two_processes_train_identically_and_split_validation_exactly(data, tmp_path, monkeypatch):
    monkeypatch.setenv('EDVR_NUM_THREADS', '1')  # same arithmetic in every process
    out = str(tmp_path / 'dist')
    log = launch(tmp_path, 'a', '--seed', '3', '-o', *tiny_overrides(data, out, 6))
    assert 'processes: 2' in log and 'iter: 6/6' in log
    assert log.count('weights identical on all 2 processes') == 3  # at iterations 2, 4 and 6
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    two = json.load(open(os.path.join(run, 'final_scores.json')))
    # one process scoring the same weights: the 5 test frames split 3+2 over two ranks add up exactly
    assert main(['-c', DEMO_CONFIG, '--evaluate-only', '--load',
                 os.path.join(run, 'iter_6_weight.pdparams'), '-o',
                 *tiny_overrides(data, str(tmp_path / 'single'), 6)]) == 0
    (single_run,) = glob.glob(str(tmp_path / 'single' / 'edvr_demo-*'))
    one = json.load(open(os.path.join(single_run, 'final_scores.json')))
    assert two['model'] == pytest.approx(one['model'], abs=1e-9)
    assert two['bicubic'] == pytest.approx(one['bicubic'], abs=1e-9)

    # SIGTERM to the launcher (what a scheduler sends) once iteration 1 is logged: every process
    # finishes its iteration, rank 0 saves it, and the resumed run equals the unbroken one.
    # The launcher signals whole process groups: loader worker processes get it too.
    part, logs = str(tmp_path / 'part'), tmp_path / 'logs_b'
    proc = start(tmp_path, logs, ['--seed', '3', '-o', *tiny_overrides(data, part, 6),
                                  'dataset.train.num_workers=1'])
    wait_for_line(logs / 'workerlog.0', r'iter: 1/6')
    proc.send_signal(signal.SIGTERM)
    code, log, launcher = finish(proc, logs)
    stopped = int(re.search(r'stopped by SIGTERM after iteration (\d+)', log).group(1))
    assert 1 <= stopped < 6, log[-2000:]
    # Paddle's launcher exits with the signal number it got; it saw no failed worker
    assert code == signal.SIGTERM and 'Terminating with signal 15' in launcher, launcher
    assert 'Pod failed' not in launcher and 'Container failed' not in launcher, launcher
    (part_run,) = glob.glob(os.path.join(part, 'edvr_demo-*'))
    checkpoint = os.path.join(part_run, f'iter_{stopped}_checkpoint.pdparams')
    assert os.path.exists(checkpoint)
    log = launch(tmp_path, 'c', '--resume', checkpoint, '-o', *tiny_overrides(data, part, 6))
    assert f'training iterations {stopped + 1}..6' in log
    assert_same_weights(os.path.join(run, 'iter_6_weight.pdparams'),
                        os.path.join(part_run, 'iter_6_weight.pdparams'))


def test_no_seed_ema_validation_and_saved_frames_match_one_process(data, tmp_path):
    out = str(tmp_path / 'noseed')
    log = launch(tmp_path, 'ema', '-o', *tiny_overrides(data, out, 2), '+ema_decay=0.9',
                 'validate.save_img=true')
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    two = json.load(open(os.path.join(run, 'final_scores.json')))
    seed = int(re.search(r'processes: 2; seed: (\d+)', log).group(1))
    # both ranks' frames of the 5-frame test clip, in rank 0's run folder
    assert sorted(os.listdir(os.path.join(run, 'visual_test', '000'))) == \
        [f'{i:08d}_2.png' for i in range(5)]
    # iter_2_weight holds the EMA weights that validation scored
    single = str(tmp_path / 'single')
    assert main(['-c', DEMO_CONFIG, '--evaluate-only', '--load', os.path.join(run, 'iter_2_weight.pdparams'),
                 '-o', *tiny_overrides(data, single, 2), 'validate.save_img=true']) == 0
    (single_run,) = glob.glob(os.path.join(single, 'edvr_demo-*'))
    one = json.load(open(os.path.join(single_run, 'final_scores.json')))
    assert two['model'] == pytest.approx(one['model'], abs=1e-9), seed
    for i in range(5):
        two_frame = open(os.path.join(run, 'visual_test', '000', f'{i:08d}_2.png'), 'rb').read()
        one_frame = open(os.path.join(single_run, 'visual_test', '000', f'{i:08d}.png'), 'rb').read()
        assert two_frame == one_frame, i


def test_two_machines_resume_from_a_shared_output_dir_and_refuse_separate_ones(data, tmp_path):
    shared = tmp_path / 'shared'
    shared.mkdir()
    # iterations 1..2 in one process, then 3..4 on two machines
    assert main(['-c', DEMO_CONFIG, '--seed', '4', '-o', *tiny_overrides(data, str(shared / 'out'), 4),
                 'total_iters=2']) == 0
    overrides = tiny_overrides(data, 'out', 4)  # relative: each machine resolves it in its cwd
    (checkpoint,) = glob.glob(str(shared / 'out' / 'edvr_demo-*' / 'iter_2_checkpoint.pdparams'))
    results = two_machines([shared, shared], [['--resume', 'auto', '-o', *overrides]] * 2, 'b')
    assert [code for code, _, _ in results] == [0, 0], results[0][1][-2000:] + results[1][1][-2000:]
    expected = f'--resume auto: {os.path.relpath(checkpoint, shared)}'
    assert expected in results[0][1] and expected in results[1][1]  # both machines
    assert 'training iterations 3..4' in results[0][1]
    assert results[0][1].count('weights identical on all 2 processes') == 1  # at iteration 4

    # machine 1 keeps its own (empty) output folder: both stop at once with one line
    own = tmp_path / 'own'
    own.mkdir()
    results = two_machines([shared, own], [['--resume', 'auto', '-o', *overrides]] * 2, 'c')
    assert [code for code, _, _ in results] == [2, 2]
    newest = os.path.relpath(checkpoint.replace('iter_2_', 'iter_4_'), shared)
    for _, log, _ in results:
        assert [text for text in log.splitlines() if text.startswith('error: ')] == [
            f'error: {newest}: checkpoint file not found '
            f'(process 1 of 2; output_dir must be one folder shared by all machines)']


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
