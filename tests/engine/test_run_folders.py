# SPDX-License-Identifier: Apache-2.0
"""Which checkpoint `--resume auto` picks among several run folders, the names of new run
folders and of the config records a resumed run writes."""
import errno
import os
import re
import time

from edvr.config import AttrDict
from edvr.engine.run_folder import (auto_resume_checkpoint, config_record_path, disk_full_error,
                                   run_folder)
from edvr.weights import latest_checkpoint


def runs(out, layout):
    """Run folders ``{folder: [iterations of its checkpoints]}`` under ``out``."""
    for folder, iterations in layout.items():
        os.makedirs(out / folder)
        for it in iterations:
            (out / folder / f'iter_{it}_checkpoint.pdparams').write_bytes(b'x')
            (out / folder / f'iter_{it}_weight.pdparams').write_bytes(b'x')
    return AttrDict(output_dir=str(out))


def test_the_newest_checkpoint_of_the_newest_run_of_this_config(tmp_path):
    cfg = runs(tmp_path, {
        'edvr_demo-2024-03-01-09-00-00': [2, 4],
        'edvr_demo-2024-03-01-10-00-00': [9, 10, 8],          # newest run: iteration 10
        'edvr_demo-2024-02-28-23-59-59': [50],
        'edvr_m_w_tsa-2024-05-01-00-00-00': [7],               # another config
    })
    assert auto_resume_checkpoint(cfg, 'configs/edvr_demo.yaml') == \
        str(tmp_path / 'edvr_demo-2024-03-01-10-00-00' / 'iter_10_checkpoint.pdparams')
    assert auto_resume_checkpoint(cfg, 'edvr_m_w_tsa.yaml') == \
        str(tmp_path / 'edvr_m_w_tsa-2024-05-01-00-00-00' / 'iter_7_checkpoint.pdparams')
    assert auto_resume_checkpoint(cfg, 'edvr_l_w_tsa.yaml') is None


def test_a_newest_run_without_checkpoint_falls_back_to_the_one_before(tmp_path):
    cfg = runs(tmp_path, {
        'edvr_demo-2024-03-01-09-00-00': [2, 4],
        'edvr_demo-2024-03-01-09-00-00-2': [],                  # started the same second
        'edvr_demo-2024-03-01-08-00-00': [6],
    })
    assert auto_resume_checkpoint(cfg, 'edvr_demo.yaml') == \
        str(tmp_path / 'edvr_demo-2024-03-01-09-00-00' / 'iter_4_checkpoint.pdparams')
    (tmp_path / 'edvr_demo-2024-03-01-09-00-00-2' / 'iter_1_checkpoint.pdparams').write_bytes(b'')
    assert auto_resume_checkpoint(cfg, 'edvr_demo.yaml') == \
        str(tmp_path / 'edvr_demo-2024-03-01-09-00-00-2' / 'iter_1_checkpoint.pdparams')


def test_only_this_configs_own_run_folders_are_candidates(tmp_path):
    """edvr_demo-copy.yaml's runs (named edvr_demo-copy-<time>) and other lookalikes are
    never resumed for edvr_demo.yaml, however new they are."""
    cfg = runs(tmp_path, {
        'edvr_demo-2024-03-01-09-00-00': [4],                   # the one to resume
        'edvr_demo-copy-2024-03-02-00-00-00': [8],              # config edvr_demo-copy.yaml
        'edvr_demo-2024-03-03-00-00-00-old': [9],               # renamed by hand
        'edvr_demo-2024-03-03-00-00-00.bak': [9],
        'edvr_demo-latest': [9],
        'edvr_demo-2024-03-03-00-00': [9],                      # not a whole time stamp
        'edvr_demo-2024-03-03-00-00-000': [9],
        'edvr_demo-x2024-03-03-00-00-00': [9],
        'edvr_demo2024-03-03-00-00-00': [9],
        'edvr_demo-2024-03-03-00-00-00-': [9],
        'xedvr_demo-2024-03-03-00-00-00': [9],
    })
    assert auto_resume_checkpoint(cfg, 'configs/edvr_demo.yaml') == \
        str(tmp_path / 'edvr_demo-2024-03-01-09-00-00' / 'iter_4_checkpoint.pdparams')
    assert auto_resume_checkpoint(cfg, 'configs/edvr_demo-copy.yaml') == \
        str(tmp_path / 'edvr_demo-copy-2024-03-02-00-00-00' / 'iter_8_checkpoint.pdparams')
    (tmp_path / 'edvr_demo-2024-03-03-00-00-00').write_bytes(b'')   # a file, not a folder
    assert auto_resume_checkpoint(cfg, 'edvr_demo.yaml') == \
        str(tmp_path / 'edvr_demo-2024-03-01-09-00-00' / 'iter_4_checkpoint.pdparams')
    assert auto_resume_checkpoint(AttrDict(output_dir=str(tmp_path / 'none')), 'edvr_demo.yaml') is None


def test_runs_started_in_the_same_second_order_by_their_number(tmp_path):
    """``-10`` is newer than ``-9`` and than the first run of that second (no number)."""
    cfg = runs(tmp_path, {
        'edvr_demo-2024-03-01-09-00-00': [1],
        'edvr_demo-2024-03-01-09-00-00-9': [2],
        'edvr_demo-2024-03-01-09-00-00-10': [3],
        'edvr_demo-2024-03-01-08-59-59-11': [4],
    })
    assert auto_resume_checkpoint(cfg, 'edvr_demo.yaml') == \
        str(tmp_path / 'edvr_demo-2024-03-01-09-00-00-10' / 'iter_3_checkpoint.pdparams')
    for folder in ('edvr_demo-2024-03-01-09-00-00-10', 'edvr_demo-2024-03-01-09-00-00-9'):
        os.remove(tmp_path / folder / 'iter_3_checkpoint.pdparams') if folder.endswith('10') else \
            os.remove(tmp_path / folder / 'iter_2_checkpoint.pdparams')
    assert auto_resume_checkpoint(cfg, 'edvr_demo.yaml') == \
        str(tmp_path / 'edvr_demo-2024-03-01-09-00-00' / 'iter_1_checkpoint.pdparams')


def test_an_output_dir_with_pattern_characters(tmp_path):
    out = tmp_path / 'runs [v1] *'
    cfg = runs(out, {'edvr_demo-2024-03-01-09-00-00': [4]})
    assert auto_resume_checkpoint(cfg, 'edvr_demo.yaml') == \
        str(out / 'edvr_demo-2024-03-01-09-00-00' / 'iter_4_checkpoint.pdparams')


def test_latest_checkpoint_compares_iterations_as_numbers(tmp_path):
    runs(tmp_path, {'r': [9, 10, 100, 99]})
    (tmp_path / 'r' / 'iter_x_checkpoint.pdparams').write_bytes(b'')
    assert latest_checkpoint(str(tmp_path / 'r')) == \
        str(tmp_path / 'r' / 'iter_100_checkpoint.pdparams')
    assert latest_checkpoint(str(tmp_path / 'missing')) is None


def test_a_second_run_in_the_same_second_gets_its_own_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(time, 'strftime', lambda fmt: '2024-03-01-09-00-00')
    cfg = AttrDict(output_dir=str(tmp_path))
    first = run_folder(cfg, 'configs/edvr_demo.yaml')
    assert first == str(tmp_path / 'edvr_demo-2024-03-01-09-00-00')
    os.makedirs(first)
    second = run_folder(cfg, 'configs/edvr_demo.yaml')
    assert second == first + '-2'
    os.makedirs(second)
    assert run_folder(cfg, 'configs/edvr_demo.yaml') == first + '-3'
    assert run_folder(cfg, None) == str(tmp_path / 'run-2024-03-01-09-00-00')
    resumed = str(tmp_path / 'x' / 'iter_4_checkpoint.pdparams')
    assert run_folder(cfg, 'configs/edvr_demo.yaml', resumed) == str(tmp_path / 'x')


def test_a_run_folder_is_named_by_the_config_and_the_time(tmp_path):
    before = time.time()
    folder = run_folder(AttrDict(output_dir=str(tmp_path)), 'configs/edvr_demo.yaml')
    name = os.path.basename(folder)
    assert re.fullmatch(r'edvr_demo-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d', name)
    stamp = time.mktime(time.strptime(name[len('edvr_demo-'):], '%Y-%m-%d-%H-%M-%S'))
    assert before - 1 <= stamp <= time.time()


def test_runs_without_a_config_file_are_run_folders(tmp_path):
    cfg = runs(tmp_path, {'run-2024-03-01-09-00-00': [3]})
    assert auto_resume_checkpoint(cfg, None) == \
        str(tmp_path / 'run-2024-03-01-09-00-00' / 'iter_3_checkpoint.pdparams')


def test_a_full_disk_says_what_was_kept_and_how_to_continue(tmp_path):
    runs(tmp_path, {'r': [2, 4]})
    exc = OSError(errno.ENOSPC, 'No space left on device', str(tmp_path / 'r' / 'iter_6_weight.pdparams'))
    kept = tmp_path / 'r' / 'iter_4_checkpoint.pdparams'
    assert str(disk_full_error(exc, str(tmp_path / 'r'), 'configs/x.yaml')) == (
        f'{exc.filename}: no space left on device, not written; kept {kept}; free space, then '
        f'continue: python tools/main.py -c configs/x.yaml --resume {kept}')
    os.makedirs(tmp_path / 'empty')
    assert str(disk_full_error(exc, str(tmp_path / 'empty'), 'configs/x.yaml')) == (
        f'{exc.filename}: no space left on device, not written; kept nothing; free space, then '
        'continue: python tools/main.py -c configs/x.yaml (no checkpoint yet: start again)')


def test_config_records_of_a_run_resumed_twice_at_the_same_iteration(tmp_path):
    assert config_record_path(str(tmp_path)) == str(tmp_path / 'config.yaml')
    first = config_record_path(str(tmp_path), 4)
    assert first == str(tmp_path / 'config.resume-4.yaml')
    open(first, 'w').close()
    second = config_record_path(str(tmp_path), 4)
    assert second == str(tmp_path / 'config.resume-4-2.yaml')
    open(second, 'w').close()
    assert config_record_path(str(tmp_path), 4) == str(tmp_path / 'config.resume-4-3.yaml')
