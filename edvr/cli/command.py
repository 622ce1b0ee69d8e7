# SPDX-License-Identifier: Apache-2.0
"""How every command ends: 0, 2 with one ``error: ...`` line, or 143/130 after a clean stop."""
import sys

from edvr.errors import EDVRError, Stopped
from edvr.utils import stopping, writer


def run_command(func, *args):
    """Call ``func(*args)`` for a command-line tool and return its exit code.

    An `EDVRError` prints one ``error: ...`` line and gives 2. SIGTERM or Ctrl-C
    (`edvr.utils.stopping`) removes this process's temporaries, prints one line
    saying what was stopped and what is kept, and gives 128 + the signal number.
    """
    with stopping.handled_stops():
        try:
            func(*args)
        except EDVRError as exc:
            writer.discard_all()
            print(f'error: {exc}', file=sys.stderr)
            return 2
        except stopping.SignalStop as stop:
            writer.discard_all()
            print(str(stop), file=sys.stderr)
            return stop.code
        except Stopped as stop:  # training stopped itself cleanly and logged what it kept
            return stop.code
    return 0


def parse_and_run(parser, run, argv=None):
    """Parse ``argv`` with ``parser`` (an `arg_types.Parser`) and `run_command` ``run(args)``.

    A flag with a wrong value is one ``error: argument ...`` line and exit code 2, like any
    other mistake.
    """
    return run_command(lambda: run(parser.parse_args(argv)))
