# SPDX-License-Identifier: Apache-2.0
"""What each rank uses, with Paddle's collectives replaced by simulated ranks: rank 0's
value everywhere, every rank's value gathered in rank order, a decision taken once, and
resume refused when the ranks read checkpoints that differ in seed or iteration."""
import re

import paddle
import pytest

from edvr.engine import distributed
from edvr.errors import WeightsError

HINT = 'output_dir must be one folder shared by all machines'


class Ranks:
    """Paddle's collectives as seen by ``rank`` of ``world`` processes whose values are
    ``values`` (this rank's own value is whatever the caller passes)."""

    def __init__(self, monkeypatch, rank, world, values=()):
        self.rank, self.world, self.values, self.calls = rank, world, list(values), []
        dist = distributed.dist
        monkeypatch.setattr(dist, 'get_rank', lambda: rank)
        monkeypatch.setattr(dist, 'get_world_size', lambda: world)
        monkeypatch.setattr(dist, 'init_parallel_env', lambda: self.calls.append('init'))
        monkeypatch.setattr(dist, 'broadcast_object_list', self.broadcast)
        monkeypatch.setattr(dist, 'all_gather_object', self.all_gather)

    def broadcast(self, holder, src):        # Paddle's signature: src has no default
        self.calls.append(('broadcast', src))
        if self.rank != src:
            holder[:] = [self.values[src]]

    def all_gather(self, out, value):
        self.calls.append('all_gather')
        out.extend(value if r == self.rank else self.values[r] for r in range(self.world))


def test_one_process_runs_no_collective(monkeypatch):
    ranks = Ranks(monkeypatch, 0, 1)
    assert distributed.join_process_group() == (0, 1)
    assert distributed.from_rank0(7) == 7
    assert distributed.gather(7) == [7]
    assert distributed.decide_on_rank0(lambda a, b: a + b, 2, 3) == 5
    assert ranks.calls == []


def test_every_rank_uses_rank_0s_value(monkeypatch):
    ranks = Ranks(monkeypatch, 2, 4, values=[1234, None, None, None])
    assert distributed.join_process_group() == (2, 4)
    assert distributed.from_rank0(99) == 1234            # e.g. the run seed rank 1 drew itself
    assert ranks.calls == ['init', ('broadcast', 0)]


def test_two_processes_join_the_group(monkeypatch):
    ranks = Ranks(monkeypatch, 1, 2)
    assert distributed.join_process_group() == (1, 2)
    assert ranks.calls == ['init']


def test_values_are_gathered_in_rank_order(monkeypatch):
    Ranks(monkeypatch, 1, 3, values=['a', None, 'c'])
    assert distributed.gather('b') == ['a', 'b', 'c']


def test_a_decision_runs_on_rank_0_only(monkeypatch):
    asked = []

    def decide(*args):
        asked.append(args)
        return 'chosen'
    Ranks(monkeypatch, 0, 2)
    assert distributed.decide_on_rank0(decide, 'x', 1) == 'chosen'
    Ranks(monkeypatch, 1, 2, values=['from rank 0'])
    assert distributed.decide_on_rank0(decide, 'x', 1) == 'from rank 0'
    assert asked == [('x', 1)]


@pytest.fixture
def checkpoint(tmp_path):
    path = str(tmp_path / 'iter_4_checkpoint.pdparams')
    paddle.save({'generator': {}, 'optimizer': {}, 'lr_scheduler': {}, 'iter': 4, 'seed': 7}, path)
    return path


def test_ranks_that_read_checkpoints_with_another_seed_stop(checkpoint, monkeypatch):
    answers = iter([[None, None, None], [(4, 7), (4, 7), (4, 8)]])
    monkeypatch.setattr(distributed, 'gather', lambda value: next(answers))
    message = (f'--resume {checkpoint}: the processes read different checkpoints (process 0: '
               'iteration 4, seed 7, process 1: iteration 4, seed 7, process 2: iteration 4, '
               f'seed 8); {HINT}')
    with pytest.raises(WeightsError, match=rf'^{re.escape(message)}$'):
        distributed.read_checkpoint_everywhere(checkpoint)


def test_the_first_rank_that_failed_is_named(checkpoint, monkeypatch):
    monkeypatch.setattr(distributed, 'gather',
                        lambda value: [None, None, 'x: cannot open', 'y: cannot open'])
    with pytest.raises(WeightsError, match=rf'^x: cannot open \(process 2 of 4; {HINT}\)$'):
        distributed.read_checkpoint_everywhere(checkpoint)


def test_one_process_that_cannot_read_names_only_the_file(tmp_path):
    missing = str(tmp_path / 'iter_9_checkpoint.pdparams')
    with pytest.raises(WeightsError, match=rf'^{re.escape(missing)}: checkpoint file not found$'):
        distributed.read_checkpoint_everywhere(missing)
