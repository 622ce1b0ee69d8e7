# SPDX-License-Identifier: Apache-2.0
"""The project's text logger: stdout on rank 0, plus a log file in the run folder."""
import logging
import os
import sys

_NAME = 'edvr'


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
        file_handler = logging.FileHandler(os.path.join(output_dir, 'log.txt'))
        file_handler.setFormatter(fmt)
        logger.addHandler(file_handler)
    return logger
