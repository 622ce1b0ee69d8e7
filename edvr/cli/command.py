# SPDX-License-Identifier: Apache-2.0
"""How every command ends: 0, 2 with one ``error: ...`` line, or 143/130 after a clean stop."""
import errno
import sys

from edvr.errors import EDVRError, Stopped
from edvr.utils import stopping, writer
from edvr.utils.output_paths import is_disk_full

# What the machine refuses about a path the user gave (not a fault of the program).
_USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EMLINK,
                errno.EFBIG, errno.EXDEV, errno.ETXTBSY, errno.EBUSY, errno.EIO}


def _os_error_line(exc):
    """The one line for an OSError about a file the user named, or None for other errors."""
    if not (is_disk_full(exc) or exc.errno in _USER_ERRNOS):
        return None
    where = exc.filename or 'an output file'
    if is_disk_full(exc):
        return (f'{where}: no space left on device; nothing half-written is left and files '
                f'that existed are unchanged; free space and run again')
    return f'{where}: {exc.strerror or exc}; nothing half-written is left'


def _failed():
    writer.discard_all()
    writer.undo_created()


def run_command(func, *args):
    """Call ``func(*args)`` for a command-line tool and return its exit code.

    An `EDVRError`, or an OSError the machine raised about a user's path (full disk,
    read-only or not permitted), prints one ``error: ...`` line and gives 2. SIGTERM
    or Ctrl-C (`edvr.utils.stopping`) prints one line saying what was stopped and what
    is kept, and gives 128 + the signal number. Either way this process's temporaries
    and the empty folders it created are removed first.
    """
    with stopping.handled_stops():
        try:
            func(*args)
        except EDVRError as exc:
            _failed()
            print(f'error: {exc}', file=sys.stderr)
            return 2
        except OSError as exc:
            line = _os_error_line(exc)
            if line is None:
                raise
            _failed()
            print(f'error: {line}', file=sys.stderr)
            return 2
        except stopping.SignalStop as stop:
            _failed()
            print(str(stop), file=sys.stderr)
            return stop.code
        except Stopped as stop:  # training stopped itself cleanly and logged what it kept
            return stop.code
    writer.keep_created()
    return 0


def parse_and_run(parser, run, argv=None):
    """Parse ``argv`` with ``parser`` (an `arg_types.Parser`) and `run_command` ``run(args)``.

    A flag with a wrong value is one ``error: argument ...`` line and exit code 2, like any
    other mistake.
    """
    return run_command(lambda: run(parser.parse_args(argv)))
