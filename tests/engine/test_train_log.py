# SPDX-License-Identifier: Apache-2.0
"""The training log line: speed and ETA follow the recent iterations, not the run's average."""
import collections
import types

from edvr.engine.trainer import Trainer
from edvr.utils.logger import setup_logger


class _NoRecords:
    def scalars(self, *args):
        pass


def test_eta_follows_the_recent_window(capsys):
    trainer = Trainer.__new__(Trainer)  # only what _log reads
    trainer.total_iters, trainer.batch_size = 110, 2
    trainer.logger, trainer.writer = setup_logger(None, 0), _NoRecords()
    trainer.model = types.SimpleNamespace(generator=object())
    # The window holds the last interval: 2 s per iteration now, whatever came before.
    window = {'batch_cost': collections.deque([2.0, 2.0], maxlen=2),
              'reader_cost': collections.deque([0.5, 0.5], maxlen=2),
              'loss_pixel': collections.deque([1.0, 3.0], maxlen=2)}
    trainer._log(10, 1e-3, window)
    line = capsys.readouterr().out.strip()
    assert line.endswith('iter: 10/110 lr: 1.000e-03 loss_pixel: 2.0000 batch_cost: 2.0000 sec, '
                         'reader_cost: 0.5000 sec, ips: 1.0000 samples/s eta: 00:03:20')
