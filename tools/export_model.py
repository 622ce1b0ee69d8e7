# SPDX-License-Identifier: Apache-2.0
"""Export a static inference model: python tools/export_model.py -c CONFIG --load WEIGHTS -s SHAPE

The command `edvr-export` of the installed package, run from a checkout (edvr/cli/export.py).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from edvr.cli.export import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
