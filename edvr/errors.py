# SPDX-License-Identifier: Apache-2.0
"""The one exception type a user sees: a one-line message naming what to fix."""
import sys


class EDVRError(Exception):
    """A user-facing error: bad config, missing file, mismatched weights.

    `tools/main.py` prints its message on one line and exits non-zero, so the
    message must name the file, key or value and what was expected.
    """


class ConfigError(EDVRError):
    """A config file, key or value is wrong."""


class DataError(EDVRError):
    """A dataset folder, meta file or frame is missing or malformed."""


class WeightsError(EDVRError):
    """A weights or checkpoint file is missing, unreadable or does not fit."""


class TrainingError(EDVRError):
    """Training cannot go on (e.g. the loss became NaN or infinite)."""


def exit_code(func, *args):
    """Call ``func(*args)`` for a command-line tool: 0 on success; an EDVRError
    prints one ``error: ...`` line on stderr and gives 2."""
    try:
        func(*args)
    except EDVRError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    return 0
