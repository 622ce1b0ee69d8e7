# SPDX-License-Identifier: Apache-2.0
"""Where temporaries go (beside the target: same folder, same file system, hidden, same
extension), what a failed write names, moves across file systems, and the refusals of
outputs that overlap inputs, each matched on its whole line."""
import errno
import os
import re

import pytest

from edvr.errors import EDVRError
from edvr.utils import output_paths, writer


def exactly(message):
    return rf'^{re.escape(message)}$'


@pytest.mark.parametrize('name', ['best_weight.pdparams', 'video.mp4', 'log'])
def test_a_temporary_lies_beside_its_target(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'out').mkdir()
    seen = []

    def write(tmp):
        seen.append((tmp, os.stat(os.path.dirname(tmp)).st_dev))
        with open(tmp, 'wb') as f:
            f.write(b'new')
    output_paths.replace_atomically(os.path.join('out', name), write)   # a relative target
    (tmp, device), = seen
    folder, base = os.path.split(tmp)
    assert folder == str(tmp_path / 'out')
    assert device == os.stat(tmp_path / 'out').st_dev
    ext = os.path.splitext(name)[1]
    assert re.fullmatch(rf'\.{re.escape(name)}\.tmp-{os.getpid()}-\d+{re.escape(ext)}', base)
    assert writer.is_temporary(base) and not writer.is_temporary(name)
    assert os.listdir(tmp_path / 'out') == [name]
    assert (tmp_path / 'out' / name).read_bytes() == b'new'


def test_each_temporary_name_is_new(tmp_path):
    first, second = (writer.temporary_path(tmp_path / 'a.png') for _ in range(2))
    assert first != second and os.path.dirname(first) == os.path.dirname(second) == str(tmp_path)
    writer.discard(first)
    writer.discard(second)


def test_a_full_disk_names_the_target_and_keeps_its_content(tmp_path):
    target = tmp_path / 'config.yaml'
    target.write_text('old')

    def full(tmp):
        with open(tmp, 'wb') as f:
            f.write(b'half')
        raise OSError(errno.ENOSPC, 'No space left on device', tmp)
    with pytest.raises(OSError) as caught:
        output_paths.replace_atomically(str(target), full)
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, str(target))
    assert str(caught.value) == f"[Errno {errno.ENOSPC}] No space left on device: '{target}'"
    assert target.read_text() == 'old' and os.listdir(tmp_path) == ['config.yaml']
    assert output_paths.written_unless_disk_full(output_paths.replace_atomically,
                                                 str(target), full) is False
    with pytest.raises(OSError, match=r'Permission denied'):
        output_paths.written_unless_disk_full(
            output_paths.replace_atomically, str(target),
            lambda tmp: (_ for _ in ()).throw(OSError(errno.EACCES, 'Permission denied', tmp)))
    assert output_paths.written_unless_disk_full(output_paths.write_atomic, str(target), 'x')
    assert target.read_text() == 'x'


def test_disk_full_means_no_space_or_no_quota():
    assert output_paths.is_disk_full(OSError(errno.ENOSPC, 'full'))
    assert output_paths.is_disk_full(OSError(errno.EDQUOT, 'quota'))
    assert not output_paths.is_disk_full(OSError(errno.EACCES, 'denied'))
    assert not output_paths.is_disk_full(ValueError(errno.ENOSPC))


def test_a_move_across_file_systems_copies(tmp_path, monkeypatch):
    src, dst = tmp_path / 'src.txt', tmp_path / 'dst.txt'
    src.write_text('moved')

    def cross_device(a, b):
        raise OSError(errno.EXDEV, 'Invalid cross-device link')
    monkeypatch.setattr(writer.os, 'replace', cross_device)
    writer.move_into_place(str(src), str(dst))
    assert dst.read_text() == 'moved' and not src.exists()
    monkeypatch.setattr(writer.os, 'replace',
                        lambda a, b: (_ for _ in ()).throw(OSError(errno.EACCES, 'denied')))
    with pytest.raises(OSError, match='denied'):
        writer.move_into_place(str(dst), str(src))


def test_output_folders_checked_first(tmp_path):
    (tmp_path / 'file').write_text('x')
    output_paths.check_output_folder(str(tmp_path / 'new' / 'deeper'), 'output_dir')
    with pytest.raises(EDVRError, match=exactly(
            f'output_dir {tmp_path / "file"}: is a file, expected a folder')):
        output_paths.check_output_folder(str(tmp_path / 'file'), 'output_dir')
    with pytest.raises(EDVRError, match=exactly(
            f'--output_path {tmp_path / "file" / "x" / "y"}: cannot be created, '
            f'{tmp_path / "file"} is a file')):
        output_paths.check_output_folder(str(tmp_path / 'file' / 'x' / 'y'), '--output_path')
    locked = tmp_path / 'locked'
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):      # root may write anywhere
            with pytest.raises(EDVRError, match=exactly(
                    f'output_dir {locked / "run"}: cannot be created or written, {locked} is '
                    'not writable')):
                output_paths.check_output_folder(str(locked / 'run'), 'output_dir')
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize('output, relation', [('in', 'is'), ('in/sub', 'lies inside'),
                                              ('.', 'contains')])
def test_outputs_overlapping_inputs_are_refused(tmp_path, output, relation):
    (tmp_path / 'in' / 'sub').mkdir(parents=True)
    out, src = os.path.normpath(tmp_path / output), str(tmp_path / 'in')
    with pytest.raises(EDVRError, match=exactly(
            f'--output {out}: {relation} the input --input {src}; write the output elsewhere '
            '(inputs are never written over)')):
        writer.refuse_overlap([('--output', out)], [('--input', src)])
    if relation == 'contains':
        writer.refuse_overlap([('--output', out)], [('--input', src)], contains=False)
    writer.refuse_overlap([('--output', None), ('--other', str(tmp_path / 'other'))],
                          [('--input', src), ('--none', None)])


def test_none_entries_are_skipped_not_the_end_of_the_list(tmp_path):
    src = str(tmp_path / 'in')
    with pytest.raises(EDVRError, match=exactly(
            f'--b {src}: is the input --in {src}; write the output elsewhere (inputs are '
            'never written over)')):
        writer.refuse_overlap([('--a', None), ('--b', src)], [('--none', None), ('--in', src)])


def test_a_path_that_does_not_exist_yet_is_still_the_same_path(tmp_path):
    path = str(tmp_path / 'not-yet' / 'clip.mp4')
    with pytest.raises(EDVRError, match=exactly(
            f'--output {path}: is the input --input {path}; write the output elsewhere (inputs '
            'are never written over)')):
        writer.refuse_overlap([('--output', path)], [('--input', path)])


def test_this_processs_own_temporaries_are_never_stale(tmp_path):
    mine = tmp_path / f'.a.png.tmp-{os.getpid()}-0.png'
    mine.write_bytes(b'being written')
    assert writer.remove_stale(str(tmp_path)) == []
    assert mine.exists()


def test_an_error_without_errno_names_the_target(tmp_path):
    target = tmp_path / 'best_weight.pdparams'

    def fails(tmp):
        raise OSError('disk full')
    with pytest.raises(OSError) as caught:
        output_paths.replace_atomically(str(target), fails)
    assert str(caught.value) == f"[Errno None] disk full: '{target}'"


def test_a_move_on_one_file_system_renames(tmp_path):
    (tmp_path / 'src').write_text('moved')
    (tmp_path / 'dst').write_text('old')
    writer.move_into_place(str(tmp_path / 'src'), str(tmp_path / 'dst'))
    assert os.listdir(tmp_path) == ['dst'] and (tmp_path / 'dst').read_text() == 'moved'


def test_stale_temporaries_are_named_when_removed(tmp_path):
    import subprocess
    import sys
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])   # a process that has ended
    dead.wait()
    name = f'.a.png.tmp-{dead.pid}-0.png'
    (tmp_path / name).write_bytes(b'left by a killed run')
    (tmp_path / 'a.png').write_bytes(b'kept')
    assert writer.remove_stale(str(tmp_path)) == [name]
    assert os.listdir(tmp_path) == ['a.png']


def test_a_temporary_of_a_process_owned_by_someone_else_is_kept(tmp_path, monkeypatch):
    name = '.a.png.tmp-1-0.png'
    (tmp_path / name).write_bytes(b'x')

    def not_permitted(pid, sig):
        raise PermissionError(1, 'Operation not permitted')
    monkeypatch.setattr(writer.os, 'kill', not_permitted)
    assert writer.remove_stale(str(tmp_path)) == [] and (tmp_path / name).exists()


def test_removing_a_temporary_that_cannot_be_removed_is_quiet(tmp_path, monkeypatch):
    tmp = writer.temporary_path(tmp_path / 'x.png')
    open(tmp, 'wb').close()
    monkeypatch.setattr(writer.os, 'remove', lambda path: (_ for _ in ()).throw(OSError(16, 'busy')))
    writer.discard(tmp)
    monkeypatch.undo()
    writer.discard(tmp)
    assert os.listdir(tmp_path) == []


def test_a_staged_folder_creates_a_new_folder(tmp_path):
    with writer.staged_folder(str(tmp_path / 'new')) as tmp:
        (open(os.path.join(tmp, 'f.txt'), 'w')).write('inside')
    assert os.listdir(tmp_path) == ['new']
    assert (tmp_path / 'new' / 'f.txt').read_text() == 'inside'


def test_a_folder_that_cannot_be_put_in_place_leaves_the_old_one(tmp_path, monkeypatch):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'old.txt').write_text('old')
    real_replace = os.replace

    def fail_on_the_new_folder(src, dst):
        if os.path.basename(src).startswith('.out.tmp-') and os.path.basename(dst) == 'out' \
                and os.path.exists(os.path.join(src, 'new.txt')):
            raise OSError(errno.EIO, 'Input/output error')
        real_replace(src, dst)
    monkeypatch.setattr(writer.os, 'replace', fail_on_the_new_folder)
    with pytest.raises(OSError, match='Input/output error'):
        with writer.staged_folder(str(out)) as tmp:
            (open(os.path.join(tmp, 'new.txt'), 'w')).write('new')
    assert os.listdir(tmp_path) == ['out'] and os.listdir(out) == ['old.txt']
    assert (out / 'old.txt').read_text() == 'old'


def test_a_short_write_without_errno_is_a_full_disk():
    assert output_paths.is_disk_full(OSError('1048576 requested and 4096 written'))
    assert output_paths.is_disk_full(OSError(None, '8 requested and 0 written'))
    assert not output_paths.is_disk_full(OSError('1048576 requested'))
    assert not output_paths.is_disk_full(OSError(errno.EIO, '8 requested and 0 written'))
    assert not output_paths.is_disk_full(OSError())


def test_a_failed_command_removes_only_the_empty_folders_it_made(tmp_path):
    writer.make_folders(str(tmp_path / 'a' / 'b' / 'c'))
    writer.make_folders(str(tmp_path / 'x' / 'y'))
    (tmp_path / 'x' / 'y' / 'kept.txt').write_text('work')
    writer.undo_created()
    assert sorted(os.listdir(tmp_path)) == ['x'] and os.listdir(tmp_path / 'x' / 'y') == ['kept.txt']


def test_outputs_may_not_overlap_each_other(tmp_path):
    a, b = str(tmp_path / 'out'), str(tmp_path / 'out' / 'frames')
    with pytest.raises(EDVRError, match=exactly(
            f'--output {a}: contains --frames {b}; give outputs that do not overlap')):
        writer.refuse_overlap([('--output', a), ('--frames', b)], [])
    with pytest.raises(EDVRError, match=exactly(
            f'--frames {b}: lies inside --output {a}; give outputs that do not overlap')):
        writer.refuse_overlap([('--frames', b), ('--output', a)], [], contains=False)
