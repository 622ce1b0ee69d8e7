# SPDX-License-Identifier: Apache-2.0
"""tools/main.py with bad settings, bad outputs and a full disk: exit 2, one line, nothing damaged."""
import errno
import glob
import json
import os
import re

import pytest

from edvr import weights as ckpt
from edvr.cli.train import main
from tests.engine.test_bad_input import fails_with as fails_with_message
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_data(tmp_path_factory.mktemp('demo'))


def args(data, out, *overrides, flags=(), total_iters=2):
    return ['-c', DEMO_CONFIG, *flags, '-o', *tiny_overrides(data, out, total_iters), *overrides]


def fails_with(capsys, argv, pattern):
    """Exit 2 with one error line matching ``pattern`` (``^error: ...$`` whole, else a part);
    returns that line."""
    if pattern.startswith('^error: ') and pattern.endswith('$'):
        regex = pattern[len('^error: '):-1]
    else:
        regex = f'.*{pattern}.*'
    return 'error: ' + fails_with_message(capsys, argv, re.compile(regex))


def snapshot(folder):
    """{relative path: bytes} of every file under ``folder``."""
    files = {}
    for path in glob.glob(os.path.join(folder, '**', '*'), recursive=True):
        if os.path.isfile(path):
            with open(path, 'rb') as f:
                files[os.path.relpath(path, folder)] = f.read()
    return files


@pytest.mark.parametrize('override, pattern', [
    ('total_iters=abc', r"^error: total_iters: expected an integer >= 1, got 'abc'$"),
    ('total_iters=-5', r'^error: total_iters: expected an integer >= 1, got -5$'),
    ('total_iters=0', r'^error: total_iters: expected an integer >= 1, got 0$'),
    ('dataset.train.batch_size=0', r'^error: dataset\.train\.batch_size: expected an integer >= 1, got 0$'),
    ('dataset.train.num_workers=-1',
     r'^error: dataset\.train\.num_workers: expected an integer >= 0, got -1$'),
    ('log_config.interval=-2',
     r'^error: log_config\.interval: expected an integer >= 0 \(0 = off\), got -2$'),
    ('dataset.train.dataset.num_frames=7',
     r'^error: dataset\.train\.dataset\.num_frames: 7 frames per sample, but '
     r'model\.generator\.nframes is 5; make them equal$'),
    ('+snapshot_config.intreval=5000',
     r'^error: snapshot_config\.intreval: unknown setting; did you mean interval\?$'),
])
def test_bad_settings_fail_before_any_file(data, tmp_path, capsys, override, pattern):
    out = tmp_path / 'out'
    fails_with(capsys, args(data, str(out), override), pattern)
    assert not out.exists()


def test_evaluate_only_without_test_dataset(data, tmp_path, capsys):
    out = tmp_path / 'out'
    weights = tmp_path / 'w.pdparams'
    fails_with(capsys, args(data, str(out), 'dataset.test=null',
                            flags=['--evaluate-only', '--load', str(weights)]),
               r'^error: dataset\.test: missing; --evaluate-only needs a test dataset$')
    assert not out.exists()


def test_output_dir_that_is_a_file_or_cannot_be_created(data, tmp_path, capsys):
    blocker = tmp_path / 'taken'
    blocker.write_bytes(b'an earlier file')
    fails_with(capsys, args(data, str(blocker)),
               rf'^error: output_dir {re.escape(str(blocker))}: is a file, expected a folder$')
    fails_with(capsys, args(data, str(blocker / 'runs')),
               rf'^error: output_dir .*runs: cannot be created, {re.escape(str(blocker))} is a file$')
    assert blocker.read_bytes() == b'an earlier file'
    assert sorted(os.listdir(tmp_path)) == ['taken']


def test_log_off_unused_keys_listed_full_disk_skips_visuals(data, tmp_path, capsys, monkeypatch):
    import edvr.engine.train_visual as train_visual

    def full_disk(path, payload):
        raise OSError(errno.ENOSPC, 'No space left on device', path)
    monkeypatch.setattr(train_visual, 'write_image', full_disk)
    out = tmp_path / 'out'
    assert main(args(data, str(out), 'log_config.interval=0', 'log_config.visiual_interval=1',
                     '+checkpoints_dir=checkpoints')) == 0
    (run,) = glob.glob(str(out / '*'))
    log = open(os.path.join(run, 'log.txt')).read()
    assert log.count('accepted but unused (PaddleGAN keys): checkpoints_dir\n') == 1
    assert not re.search(r'iter: \d+/2', log)
    assert re.search(r'WARNING: .*visual_train/iter_00000001\.png: no space left on device; '
                     r'training image skipped, training goes on', log)
    assert not os.path.exists(os.path.join(run, 'visual_train', 'iter_00000001.png'))
    assert os.path.exists(os.path.join(run, 'iter_2_checkpoint.pdparams'))
    scores = json.load(open(os.path.join(run, 'final_scores.json')))
    clip = scores['per_clip']['psnr']['000']
    assert set(clip) == {'model', 'bicubic'} and clip['bicubic'] == scores['bicubic']['psnr']
    assert re.search(r'psnr per clip, model vs bicubic: 000: \d+\.\d{4} vs \d+\.\d{4}', log)
    assert re.search(r'psnr per clip \(bicubic\): 000: \d+\.\d{4} \(\d+\.\d{4}\)', log)


@pytest.fixture
def finished_run(data, tmp_path):
    """A 2-iteration run with checkpoints at 1 and 2; returns its folder."""
    out = tmp_path / 'out'
    assert main(args(data, str(out), 'snapshot_config.interval=1')) == 0
    (run,) = glob.glob(str(out / '*'))
    return run


def test_failed_resume_touches_nothing_and_resume_keeps_config(data, finished_run, capsys):
    run = finished_run
    before = snapshot(run)
    checkpoint = os.path.join(run, 'iter_2_checkpoint.pdparams')
    fails_with(capsys, args(data, os.path.dirname(run), 'dataset.train.batch_size=0',
                            flags=['--resume', checkpoint], total_iters=4),
               r'^error: dataset\.train\.batch_size: expected an integer >= 1, got 0$')
    fails_with(capsys, args(data, os.path.dirname(run), 'dataset.train.dataset.lq_folder=/nonexistent/lq',
                            flags=['--resume', checkpoint], total_iters=4),
               r'/nonexistent/lq')
    assert snapshot(run) == before
    capsys.readouterr()
    assert main(args(data, os.path.dirname(run), 'lr_scheduler.periods=[2]', 'snapshot_config.interval=1',
                     flags=['--resume', checkpoint], total_iters=4)) == 0
    after = snapshot(run)
    assert after['config.yaml'] == before['config.yaml']
    assert after['log.txt'].startswith(before['log.txt'])
    assert b'total_iters: 4' in after['config.resume-2.yaml']
    log = after['log.txt'][len(before['log.txt']):].decode()
    assert 'WARNING: lr_scheduler.periods sum to 2 but total_iters is 4: the rate stays at ' \
           'eta_min after iteration 2' in log
    assert 'resumed from' in log and 'accepted but unused' not in log


def test_full_disk_while_saving_a_checkpoint(data, finished_run, capsys, monkeypatch):
    run = finished_run
    before = snapshot(run)
    real_save = ckpt.paddle.save

    def full_disk(obj, path, *rest, **kw):
        real_save(obj, path, *rest, **kw)  # a partly written temporary file, then the error
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(ckpt.paddle, 'save', full_disk)
    checkpoint = os.path.join(run, 'iter_2_checkpoint.pdparams')
    line = fails_with(capsys, args(data, os.path.dirname(run), 'lr_scheduler.periods=[3]',
                                   'snapshot_config.interval=1', flags=['--resume', checkpoint],
                                   total_iters=3), r'no space left on device')
    want = (f'error: {os.path.join(run, "iter_3_checkpoint.pdparams")}: no space left on device, '
            f'not written; kept {checkpoint}; free space, then continue: python tools/main.py '
            f'-c {DEMO_CONFIG} --resume {checkpoint}; last good checkpoint: {checkpoint}')
    assert line == want
    after = snapshot(run)
    for name, content in before.items():
        if name != 'log.txt':
            assert after[name] == content, name
    new = sorted(set(after) - set(before))
    # the weights file is written before the checkpoint; no temporary file is left
    assert new == ['config.resume-2.yaml', 'iter_3_weight.pdparams', 'visual_train/iter_00000003.png']


def test_full_disk_while_logging(tmp_path, monkeypatch):
    from edvr.errors import EDVRError
    from edvr.utils.logger import setup_logger
    logger = setup_logger(str(tmp_path), 0)
    logger.info('first line')
    handler = logger.handlers[-1]

    def full_disk(text):
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(handler.stream, 'write', full_disk)
    with pytest.raises(EDVRError, match=r'log\.txt: no space left on device while logging; the '
                                        r'checkpoints written so far are kept; free space, then '
                                        r'continue with --resume auto$'):
        logger.info('second line')
    monkeypatch.undo()
    setup_logger(None, 0)
    assert open(tmp_path / 'log.txt').read().endswith('first line\n')
