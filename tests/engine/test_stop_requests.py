# SPDX-License-Identifier: Apache-2.0
"""Stop requests across ranks (the all-reduce replaced by simulated ranks) and what a
second Ctrl-C does under each handler that was installed before training."""
import os
import signal

import numpy as np
import paddle
import pytest

from edvr.engine import stop_signals
from edvr.engine.stop_signals import StopSignals

REDUCE = {stop_signals.dist.ReduceOp.MAX: np.maximum, stop_signals.dist.ReduceOp.MIN: np.minimum,
          stop_signals.dist.ReduceOp.SUM: np.add, stop_signals.dist.ReduceOp.PROD: np.multiply}


def other_ranks(monkeypatch, *flags):
    """all_reduce over this rank's tensor and the other ranks' ``flags``, in place."""
    seen = []

    def all_reduce(tensor, op=stop_signals.dist.ReduceOp.SUM, group=None, sync_op=True):
        seen.append(tensor.dtype)
        values = tensor.numpy()
        for flag in flags:
            values = REDUCE[op](values, np.array([flag], values.dtype))
        tensor.set_value(paddle.to_tensor(values, dtype=tensor.dtype))
    monkeypatch.setattr(stop_signals.dist, 'all_reduce', all_reduce)
    return seen


@pytest.mark.parametrize('mine, others, stop', [
    (None, [0], False), (None, [1], True), (signal.SIGTERM, [0], True),
    (None, [0, 0, 1], True), (signal.SIGINT, [1, 1, 1], True), (None, [0, 0, 0], False)])
def test_a_request_on_any_rank_stops_every_rank(monkeypatch, mine, others, stop):
    seen = other_ranks(monkeypatch, *others)
    signals = StopSignals()
    signals.received = mine
    assert signals.should_stop(world_size=1 + len(others)) is stop
    assert seen == [paddle.int32]


def test_one_process_runs_no_collective(monkeypatch):
    seen = other_ranks(monkeypatch, 1)
    assert StopSignals().should_stop(world_size=1) is False
    assert seen == []


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(stop_signals.time, 'monotonic', lambda: now[0])
    return now


@pytest.fixture
def kills(monkeypatch):
    sent = []
    monkeypatch.setattr(stop_signals.os, 'kill', lambda pid, sig: sent.append((pid, sig)))
    return sent


@pytest.fixture
def sigint_handler():
    before = signal.getsignal(signal.SIGINT)
    yield lambda handler: signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGINT, before)


def test_a_second_ctrl_c_exactly_one_window_later_is_the_same_press(clock, kills):
    with StopSignals() as signals:
        signal.raise_signal(signal.SIGINT)
        clock[0] += stop_signals.SIGINT_REPEAT_WINDOW
        signal.raise_signal(signal.SIGINT)
        assert signals.received == signal.SIGINT and kills == []


def test_a_later_second_ctrl_c_calls_the_handler_installed_before(clock, kills, sigint_handler):
    calls = []
    sigint_handler(lambda signum, frame: calls.append((signum, type(frame).__name__)))
    with StopSignals():
        signal.raise_signal(signal.SIGINT)
        assert calls == []
        clock[0] += 2 * stop_signals.SIGINT_REPEAT_WINDOW
        signal.raise_signal(signal.SIGINT)
        assert calls == [(signal.SIGINT, 'frame')]
    assert kills == []


def test_a_later_second_ctrl_c_under_the_default_handler_ends_the_process(clock, kills,
                                                                           sigint_handler):
    sigint_handler(signal.SIG_DFL)
    with StopSignals():
        signal.raise_signal(signal.SIGINT)
        clock[0] += 2 * stop_signals.SIGINT_REPEAT_WINDOW
        signal.raise_signal(signal.SIGINT)
        # the default handler back in place, then the signal sent again: the process ends
        assert signal.getsignal(signal.SIGINT) == signal.SIG_DFL
        assert kills == [(os.getpid(), signal.SIGINT)]
    assert signal.getsignal(signal.SIGINT) == signal.SIG_DFL


def test_a_later_second_ctrl_c_stays_ignored_when_it_was(clock, kills, sigint_handler):
    sigint_handler(signal.SIG_IGN)
    with StopSignals() as signals:
        signal.raise_signal(signal.SIGINT)
        clock[0] += 2 * stop_signals.SIGINT_REPEAT_WINDOW
        signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) == signals._handle
        assert kills == [] and signals.received == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
