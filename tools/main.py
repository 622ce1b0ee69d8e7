# SPDX-License-Identifier: Apache-2.0
"""Train or evaluate EDVR: python tools/main.py -c CONFIG [-o key=value ...]

The command `edvr-train` of the installed package, run from a checkout (edvr/cli/train.py).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from edvr.cli.train import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
