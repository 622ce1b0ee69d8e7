# SPDX-License-Identifier: Apache-2.0
"""SIGINT/SIGTERM during training: remember them so the loop can save and stop cleanly.

A stop request is honoured at the end of the current iteration on every
process. Repeats of the request are ignored: ``paddle.distributed.launch``
forwards one SIGTERM up to three times 0.2 s apart, and a scheduler may repeat
it too (the launcher's own SIGKILL after 30 s is the hard stop). Only Ctrl-C
escalates: a second SIGINT more than `SIGINT_REPEAT_WINDOW` seconds after the
first stops at once.
"""
import os
import signal
import time

import paddle
import paddle.distributed as dist

SIGINT_REPEAT_WINDOW = 1.0  # seconds: a SIGINT closer to the first one is the same press


class StopSignals:
    """Records SIGINT/SIGTERM during training so the loop can save and stop cleanly."""

    def __init__(self):
        self.received = None
        self._first_sigint = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum, frame):
        now = time.monotonic()
        if signum == signal.SIGINT:
            if self._first_sigint is not None and now - self._first_sigint > SIGINT_REPEAT_WINDOW:
                self._stop_now(signum, frame)
                return
            if self._first_sigint is None:
                self._first_sigint = now
        if self.received is None:
            self.received = signum

    def _stop_now(self, signum, frame):
        """Second Ctrl-C: act as if this object had never handled SIGINT."""
        previous = self._previous.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)  # Python's default: KeyboardInterrupt
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def should_stop(self, world_size):
        """Whether any process got a signal (all processes stop at the same iteration)."""
        flag = int(self.received is not None)
        if world_size > 1:
            tensor = paddle.to_tensor([flag], dtype='int32')
            dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
            flag = int(tensor.numpy()[0])
        return bool(flag)

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def stop_exit_code(signum):
    """Exit code after a clean stop (checkpoint written, every process done).

    One process: 128 + signal number, the shell's convention for "ended by a
    signal". Several processes: 0, because ``paddle.distributed.launch`` counts
    any other code as a failed pod and then kills the processes still saving.
    """
    return 0 if dist.get_world_size() > 1 else 128 + int(signum)
