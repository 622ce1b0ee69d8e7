# SPDX-License-Identifier: Apache-2.0
"""SIGTERM and Ctrl-C during a command: stop clean, say what was stopped and what is kept.

`handled_stops` (entered by every command-line tool, `edvr.cli.command`) turns
the first SIGINT or SIGTERM into a `SignalStop` exception. It unwinds through the
writers (`edvr.utils.writer`), which remove their temporaries, so every real
name keeps what it had; the tool prints one line, e.g.::

    stopped by SIGTERM while restoring clip.mp4 into out.mp4; out.mp4 was not written, nothing else changed

and exits with 128 + the signal number (143, 130). Repeats of the signal
while cleaning up are ignored.

Paddle installs its own SIGTERM handler (a fatal-signal report) when it is
imported, which happens after a tool has started; `ensure_installed` puts ours
back and is called by the writers and by the long loops before they start.
Training has its own handler (`edvr.engine.stop_signals`): it saves a
checkpoint first.
"""
import contextlib
import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = {'active': False, 'stopping': False, 'what': None, 'kept': None, 'previous': {}}


class SignalStop(BaseException):
    """Raised in the main thread when SIGINT or SIGTERM arrives during a command.

    Attributes:
        signum: the signal number.
        code: the exit code to end with (128 + signum).
    """

    def __init__(self, signum, message):
        super().__init__(message)
        self.signum = int(signum)
        self.code = 128 + int(signum)


def stop_message(signum):
    """The one line printed when ``signum`` stopped the current task."""
    name = signal.Signals(signum).name
    what = f' while {_state["what"]}' if _state['what'] else ''
    kept = _state['kept'] or 'files that existed before are unchanged'
    return f'stopped by {name}{what}; {kept}; temporary files removed'


def _handle(signum, frame):
    if _state['stopping']:
        return  # a repeat while cleaning up
    _state['stopping'] = True
    raise SignalStop(signum, stop_message(signum))


def ensure_installed():
    """(Re)install the handlers while a command runs (after Paddle replaced them).

    Paddle replaces them in C, where Python still reports ours; a handler another part of
    the project installed on purpose (training's, which saves a checkpoint first) is kept.
    """
    if not _state['active'] or _state['stopping']:
        return
    for sig in SIGNALS:
        if signal.getsignal(sig) is _handle:
            with contextlib.suppress(ValueError):  # not the main thread
                signal.signal(sig, _handle)


@contextlib.contextmanager
def handled_stops():
    """Within this block SIGINT/SIGTERM raise `SignalStop`; earlier handlers come back after it."""
    previous = {}
    for sig in SIGNALS:
        with contextlib.suppress(ValueError):
            previous[sig] = signal.signal(sig, _handle)
    outer = dict(_state)
    _state.update(active=True, stopping=False, what=None, kept=None)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _state.update(outer)


@contextlib.contextmanager
def task(what, kept=None):
    """Name the work of this block for the stop message.

    Args:
        what: e.g. ``'restoring clip.mp4 into out.mp4'``.
        kept: what a stop leaves, e.g. ``'out.mp4 was not written'``.
    """
    before = (_state['what'], _state['kept'])
    _state['what'], _state['kept'] = what, kept
    ensure_installed()
    try:
        yield
    finally:
        _state['what'], _state['kept'] = before
