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


# In process, deterministically: the signal arrives from inside the tool's own writing step.

def _signal_inside(monkeypatch, owner, name, sig=signal.SIGTERM, after=1):
    """Make ``owner.name`` send ``sig`` to this process on its ``after``-th call, mid-write."""
    real, calls = getattr(owner, name), []

    def wrapped(*args, **kwargs):
        calls.append(1)
        result = real(*args, **kwargs)
        if len(calls) == after:
            os.kill(os.getpid(), sig)
        return result
    monkeypatch.setattr(owner, name, wrapped)


@pytest.fixture(scope='module')
def world(tmp_path_factory, ffmpeg):  # noqa: F811
    from tests.edges.world import build_world
    return build_world(tmp_path_factory.mktemp('world'), ffmpeg)


def _case(world, tmp_path, monkeypatch):
    from tests.edges.world import tree_state
    monkeypatch.chdir(tmp_path)
    return lambda: (tree_state(world['root']), tree_state(str(tmp_path)))


def test_export_stopped_while_saving(world, tmp_path, monkeypatch, capsys):
    import paddle

    from tools.export_model import main
    state = _case(world, tmp_path, monkeypatch)
    before = state()
    _signal_inside(monkeypatch, paddle.jit, 'save')
    assert main(['-c', world['cfg'], '--load', world['weights'], '-s', '1,5,3,16,24',
                 '--output_dir', 'exported']) == 143
    assert capsys.readouterr().err.splitlines()[-1] == (
        'stopped by SIGTERM while exporting into exported; files already in exported are '
        'unchanged; temporary files removed')
    assert state() == before  # no model file, and the folder it created is gone again


def test_pack_stopped_keeps_what_it_packed_and_continues(world, tmp_path, monkeypatch, capsys):
    from edvr.prepare import pack
    from tools.prepare_data import main
    monkeypatch.setattr(pack, 'BATCH_FRAMES', 2)
    _signal_inside(monkeypatch, pack, '_commit', after=2)
    src = os.path.join(world['data'], 'train_sharp', 'X4')
    assert main(['pack', src, str(tmp_path / 's.lmdb'), '--workers', '1']) == 143
    assert capsys.readouterr().err.splitlines()[-1].startswith(
        f'stopped by SIGTERM while packing {src} into {tmp_path / "s.lmdb"}; the frames packed '
        f'so far are kept in {tmp_path / "s.lmdb.partial"}; the same command continues')
    assert os.listdir(tmp_path) == ['s.lmdb.partial']
    monkeypatch.undo()
    assert main(['pack', src, str(tmp_path / 's.lmdb'), '--workers', '1']) == 0
    assert os.listdir(tmp_path) == ['s.lmdb']


def test_prepare_video_stopped_leaves_no_half_clip(world, tmp_path, monkeypatch, capsys):
    from edvr.prepare import video
    from tools.prepare_data import main
    _signal_inside(monkeypatch, video, 'write_image', sig=signal.SIGINT, after=2)
    assert main(['video', world['big_video'], '--root', str(tmp_path / 'mine'), '--lq']) == 130
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f'stopped by SIGINT while extracting the frames of {world["big_video"]}')
    assert os.listdir(tmp_path) == []  # no half clip, and no folder it created


def test_convert_stopped_while_writing(world, tmp_path, monkeypatch, capsys):
    from edvr import weights
    from tools.convert_weights import main
    (tmp_path / 'out.pdparams').write_bytes(b'an earlier file')
    _signal_inside(monkeypatch, weights, 'save_weights_file')
    assert main([world['pth'], str(tmp_path / 'out.pdparams')]) == 143
    assert 'stopped by SIGTERM while writing' in capsys.readouterr().err
    assert os.listdir(tmp_path) == ['out.pdparams']
    assert (tmp_path / 'out.pdparams').read_bytes() == b'an earlier file'


def test_folder_inference_stopped_replaces_no_frame(world, tmp_path, monkeypatch, capsys):
    from edvr.deploy import folder
    from tools.inference import main
    out = tmp_path / 'sr'
    out.mkdir()
    (out / '00000000.png').write_bytes(b'an earlier frame')
    _signal_inside(monkeypatch, folder, 'write_atomic', after=2)
    assert main(['--model_path', world['model'], '--input', world['frames'],
                 '--output_path', str(out)]) == 143
    assert capsys.readouterr().err.splitlines()[-1] == (
        f'stopped by SIGTERM while restoring {world["frames"]} into {out}; no frame in {out} '
        f'was written or replaced; temporary files removed')
    assert os.listdir(out) == ['00000000.png']
    assert (out / '00000000.png').read_bytes() == b'an earlier frame'
