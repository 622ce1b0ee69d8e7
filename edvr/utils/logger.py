# SPDX-License-Identifier: Apache-2.0
"""The project's text logger: stdout on rank 0, plus a log file in the run folder."""
import logging
import os
import sys

from edvr.errors import EDVRError
from edvr.utils.output_paths import is_disk_full

_NAME = 'edvr'


class _LogFile(logging.FileHandler):
    """The run's log.txt; a full disk ends the run with one line instead of a logging traceback."""

    def handleError(self, record):
        exc = sys.exc_info()[1]
        if is_disk_full(exc):
            raise EDVRError(f'{self.baseFilename}: no space left on device while logging; the '
                            f'checkpoints written so far are kept; free space, then continue '
                            f'with --resume auto') from None
        super().handleError(record)


def get_logger():
    return logging.getLogger(_NAME)


def setup_logger(output_dir=None, rank=0):
    """Configure the 'edvr' logger once per process; other ranks only log warnings."""
    logger = logging.getLogger(_NAME)
    logger.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    fmt = logging.Formatter('[%(asctime)s] %(levelname)s: %(message)s', '%Y-%m-%d %H:%M:%S')
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(fmt)
    logger.addHandler(stream)
    if output_dir and rank == 0:
        os.makedirs(output_dir, exist_ok=True)
        file_handler = _LogFile(os.path.join(output_dir, 'log.txt'))
        file_handler.setFormatter(fmt)
        logger.addHandler(file_handler)
    return logger
