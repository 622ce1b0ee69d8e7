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
"""
import warnings

# Building the C++ kernels on first use notes that ccache is absent; not the user's concern.
warnings.filterwarnings('ignore', message='No ccache found')
