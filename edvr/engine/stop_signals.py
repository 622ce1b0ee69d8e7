# SPDX-License-Identifier: Apache-2.0
"""SIGINT/SIGTERM during training: remember them so the loop can save and stop cleanly."""
import signal

import paddle
import paddle.distributed as dist


class StopSignals:
    """Records SIGINT/SIGTERM during training so the loop can save and stop cleanly.

    A second signal of the same kind acts immediately (default handling).
    """

    def __init__(self):
        self.received = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum, frame):
        self.received = signum
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

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
