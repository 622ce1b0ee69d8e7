# SPDX-License-Identifier: Apache-2.0
"""The one writer: beside the target then renamed, own temporaries removed on failure and
stop, stale ones of dead processes removed, outputs never on top of inputs."""
import os
import re
import signal
import subprocess
import sys

import pytest

from edvr.cli.command import run_command
from edvr.errors import EDVRError
from edvr.utils import stopping, writer


def test_a_failed_write_keeps_the_old_content_and_leaves_nothing(tmp_path):
    target = tmp_path / 'out.png'
    target.write_bytes(b'before')
    with pytest.raises(RuntimeError, match='half way'):
        with writer.staged_file(str(target)) as tmp:
            assert re.fullmatch(rf'\.out\.png\.tmp-{os.getpid()}-\d+\.png', os.path.basename(tmp))
            with open(tmp, 'wb') as f:
                f.write(b'half')
            raise RuntimeError('half way')
    assert target.read_bytes() == b'before' and os.listdir(tmp_path) == ['out.png']
    with writer.staged_file(str(target)) as tmp:
        with open(tmp, 'wb') as f:
            f.write(b'after')
    assert target.read_bytes() == b'after' and os.listdir(tmp_path) == ['out.png']


def test_a_folder_is_replaced_whole_and_never_written_over_as_a_file(tmp_path):
    folder = tmp_path / 'frames'
    folder.mkdir()
    (folder / 'old.png').write_bytes(b'old')
    with writer.staged_folder(str(folder)) as tmp:
        with open(os.path.join(tmp, 'new.png'), 'wb') as f:
            f.write(b'new')
    assert os.listdir(folder) == ['new.png'] and os.listdir(tmp_path) == ['frames']
    with pytest.raises(EDVRError, match=r'frames: is a folder, expected a file to write'):
        with writer.staged_file(str(folder)):
            pass


def _dead_pid():
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


def test_stale_temporaries_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    dead = _dead_pid()
    stale_file = tmp_path / f'.out.mp4.tmp-{dead}-0.mp4'
    stale_dir = tmp_path / f'.frames.tmp-{dead}-3'
    live = tmp_path / f'.other.png.tmp-{os.getppid()}-0.png'  # the parent process is alive
    user = tmp_path / '.notes.tmp-backup'
    for path in (stale_file, live, user):
        path.write_bytes(b'x')
    stale_dir.mkdir()
    (stale_dir / '00000000.png').write_bytes(b'x')
    with writer.staged_file(str(tmp_path / 'out.mp4')) as tmp:
        open(tmp, 'wb').close()
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, user.name, 'out.mp4'])


@pytest.mark.parametrize('output, relation', [
    ('frames', 'is'), ('frames/sr', 'lies inside'), ('.', 'contains'), ('link', 'is'),
    ('hard.png', 'is'),
])
def test_outputs_on_inputs_are_refused(tmp_path, monkeypatch, output, relation):
    monkeypatch.chdir(tmp_path)
    os.mkdir('frames')
    os.symlink('frames', 'link')
    open('frames/a.png', 'wb').close()
    os.link('frames/a.png', 'hard.png')
    inputs = [('--input', 'frames'), ('--load', 'frames/a.png')]
    with pytest.raises(EDVRError, match=rf'^out {re.escape(output)}: {relation} the input '):
        writer.refuse_overlap([('out', output)], inputs)
    writer.refuse_overlap([('out', 'elsewhere')], inputs)


def test_a_stop_removes_the_temporaries_and_says_what_is_kept(tmp_path, capsys):
    target = tmp_path / 'out.png'
    target.write_bytes(b'before')

    def work():
        with stopping.task('writing out.png', 'out.png is unchanged'):
            with writer.staged_file(str(target)) as tmp:
                open(tmp, 'wb').close()
                os.kill(os.getpid(), signal.SIGTERM)
                raise AssertionError('not stopped')
    assert run_command(work) == 143
    assert capsys.readouterr().err == ('stopped by SIGTERM while writing out.png; out.png is '
                                       'unchanged; temporary files removed\n')
    assert os.listdir(tmp_path) == ['out.png'] and target.read_bytes() == b'before'
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers restored after


def test_ctrl_c_exits_130(tmp_path, capsys):
    def work():
        os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError('not stopped')
    assert run_command(work) == 130
    assert capsys.readouterr().err.startswith('stopped by SIGINT; files that existed before')


def test_a_handler_installed_on_purpose_is_kept_while_writing(tmp_path):
    """Training's own handler (save a checkpoint, then stop) survives the writer's re-install."""
    def own(signum, frame):
        pass

    def work():
        previous = signal.signal(signal.SIGTERM, own)
        try:
            with writer.staged_file(str(tmp_path / 'x')) as tmp:
                open(tmp, 'wb').close()
            assert signal.getsignal(signal.SIGTERM) is own
        finally:
            signal.signal(signal.SIGTERM, previous)
    assert run_command(work) == 0
