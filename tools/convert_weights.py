# SPDX-License-Identifier: Apache-2.0
"""Convert BasicSR/mmagic weights: python tools/convert_weights.py SRC.pth DST.pdparams

The command `edvr-convert` of the installed package, run from a checkout (edvr/cli/convert.py).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from edvr.cli.convert import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
