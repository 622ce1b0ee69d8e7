# SPDX-License-Identifier: Apache-2.0
"""The command-line programs, one module per command (console scripts of the package).

=============  ==========================  ================================
command        module                      in a checkout
=============  ==========================  ================================
edvr-train     edvr.cli.train              python tools/main.py
edvr-export    edvr.cli.export             python tools/export_model.py
edvr-infer     edvr.cli.infer              python tools/inference.py
edvr-video     edvr.cli.video              python tools/video_sr.py
edvr-prepare   edvr.cli.prepare            python tools/prepare_data.py
edvr-convert   edvr.cli.convert            python tools/convert_weights.py
edvr-compare   edvr.cli.compare            python tools/compare.py
=============  ==========================  ================================

Each module has ``main(argv=None)`` returning the exit code (0, or 2 for bad input with
one ``error: ...`` line). ``-c`` takes a config file or the name of a shipped config
(`edvr.config.find_config`). Arguments are checked before Paddle is imported.

Importing this package checks the installed Paddle first (`edvr.utils.paddle_compat`):
below 2.6, or none, every command stops with one ``error: ...`` line naming the version
and the install command, exit code 2, before anything else runs.
"""
import sys
import warnings

from edvr.utils.paddle_compat import two_paddles_warning, unsupported_paddle


def _check_paddle():
    refusal, warning = unsupported_paddle(), two_paddles_warning()
    if refusal:
        print(f'error: {refusal}', file=sys.stderr)
        sys.exit(2)
    if warning:
        print(warning, file=sys.stderr)


_check_paddle()

# Building the C++ kernels on first use notes that ccache is absent; not the user's concern.
warnings.filterwarnings('ignore', message='No ccache found')
