# SPDX-License-Identifier: Apache-2.0
"""SIGTERM and Ctrl-C during a long tool: one line, exit 143/130, nothing half-written left.

Each tool runs as its own process and is stopped once its first temporary file exists
(the work is under way); Paddle's fatal-signal report must not appear.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from edvr.deploy.export import network_info, save_inference_model
from tests.tiny import ROOT, tiny_net
from tests.deploy.video_clips import ffmpeg, make_clip  # noqa: F401  (fixture)


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    net = tiny_net()
    prefix = str(tmp_path_factory.mktemp('model') / 'tiny')
    save_inference_model(net, prefix, [[1, 5, 3, 16, 24]], network_info(net))
    return prefix


def _stop_when(proc, folder, ready, sig, timeout=120):
    start = time.monotonic()
    while not any(ready(n) for n in os.listdir(folder)):
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() - start < timeout, 'the work never started'
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.parametrize('sig, code', [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_video_stops_clean(ffmpeg, tmp_path, model, sig, code):  # noqa: F811
    clip = make_clip(ffmpeg, tmp_path / 'in.mp4', (64, 48), '25', 400)
    (tmp_path / 'out.mp4').write_bytes(b'an earlier result')
    before = sorted(os.listdir(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, 'tools', 'video_sr.py'), str(clip), '-o',
         str(tmp_path / 'out.mp4'), '--model_path', model, '--frames_out',
         str(tmp_path / 'frames')], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=str(tmp_path))
    returncode, err = _stop_when(proc, tmp_path, lambda n: n.startswith('.out.mp4.tmp-'), sig)
    assert returncode == code, err[-3000:]
    last = err.replace('\r', '\n').strip().splitlines()[-1]
    name = signal.Signals(sig).name
    assert last == (f'stopped by {name} while restoring frames into {tmp_path / "out.mp4"}; '
                    f'{tmp_path / "out.mp4"} is unchanged, nor any frame in '
                    f'{tmp_path / "frames"}; temporary files removed'), err[-3000:]
    assert 'Traceback' not in err and 'FatalError' not in err and 'C++' not in err
    assert sorted(os.listdir(tmp_path)) == before
    assert (tmp_path / 'out.mp4').read_bytes() == b'an earlier result'
