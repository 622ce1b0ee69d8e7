# SPDX-License-Identifier: Apache-2.0
"""Stop requests: repeated SIGTERMs are one request; a later second Ctrl-C stops at once."""
import signal

import pytest

from edvr.engine import stop_signals
from edvr.engine.stop_signals import StopSignals, stop_exit_code


def test_repeated_sigterm_is_one_request():
    with StopSignals() as signals:
        for _ in range(3):  # paddle.distributed.launch: up to 3 SIGTERMs, 0.2 s apart
            signal.raise_signal(signal.SIGTERM)
        assert signals.received == signal.SIGTERM
        assert signals.should_stop(world_size=1)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored on exit


def test_second_ctrl_c_stops_at_once_only_after_the_repeat_window(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(stop_signals.time, 'monotonic', lambda: clock[0])
    with StopSignals() as signals:
        signal.raise_signal(signal.SIGINT)
        clock[0] += stop_signals.SIGINT_REPEAT_WINDOW / 2  # the same key press, repeated
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGTERM)
        assert signals.received == signal.SIGINT
        clock[0] += stop_signals.SIGINT_REPEAT_WINDOW * 2
        with pytest.raises(KeyboardInterrupt, match=r'^$'):
            signal.raise_signal(signal.SIGINT)


def test_exit_code_after_a_clean_stop(monkeypatch):
    assert stop_exit_code(signal.SIGTERM) == 143  # one process: the shell's convention
    monkeypatch.setattr(stop_signals.dist, 'get_world_size', lambda: 2)
    assert stop_exit_code(signal.SIGTERM) == 0  # under the launcher: not a failed pod
