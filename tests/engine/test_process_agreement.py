# SPDX-License-Identifier: Apache-2.0
"""Resume agreement between processes, with the collectives replaced by a second,
simulated process (the real ones run in test_distributed.py)."""
import os

import paddle
import pytest

from edvr.engine import distributed
from edvr.errors import WeightsError

HINT = 'output_dir must be one folder shared by all machines'


@pytest.fixture
def checkpoint(tmp_path):
    path = str(tmp_path / 'iter_4_checkpoint.pdparams')
    paddle.save({'generator': {}, 'optimizer': {}, 'lr_scheduler': {}, 'iter': 4, 'seed': 7}, path)
    return path


def with_second_process(monkeypatch, *answers):
    """Each gather returns [this process's value, the next simulated answer of process 1]."""
    pending = list(answers)
    monkeypatch.setattr(distributed, 'gather', lambda value: [value, pending.pop(0)])


def test_every_process_reads_the_same_checkpoint(checkpoint, monkeypatch):
    with_second_process(monkeypatch, None, (4, 7))
    assert distributed.read_checkpoint_everywhere(checkpoint)['iter'] == 4


def test_a_process_that_cannot_read_it_stops_all(checkpoint, monkeypatch):
    with_second_process(monkeypatch, f'{checkpoint}: checkpoint file not found')
    with pytest.raises(WeightsError, match=rf'^{checkpoint}: checkpoint file not found '
                                           rf'\(process 1 of 2; {HINT}\)$'):
        distributed.read_checkpoint_everywhere(checkpoint)


def test_processes_that_read_different_checkpoints_stop(checkpoint, monkeypatch):
    with_second_process(monkeypatch, None, (2, 7))
    with pytest.raises(WeightsError, match=rf'^--resume {checkpoint}: the processes read different '
                                           rf'checkpoints \(process 0: iteration 4, seed 7, '
                                           rf'process 1: iteration 2, seed 7\); {HINT}$'):
        distributed.read_checkpoint_everywhere(checkpoint)
    assert os.path.exists(checkpoint)
