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


class Stopped(Exception):
    """A command stopped cleanly on request (a signal); ``code`` is its exit code.

    Not an error: what was kept has been said already, so the tool prints nothing more.
    """

    def __init__(self, code):
        super().__init__(code)
        self.code = int(code)


def exit_code(func, *args):
    """Call ``func(*args)`` for a command-line tool and return its exit code.

    0 on success; an EDVRError prints one ``error: ...`` line on stderr and gives 2;
    `Stopped` gives its own code; Ctrl-C that reached Python prints ``interrupted``
    and gives 130.
    """
    try:
        func(*args)
    except EDVRError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    except Stopped as stop:
        return stop.code
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130
    return 0
