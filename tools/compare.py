# SPDX-License-Identifier: Apache-2.0
"""Comparison image of a test frame: python tools/compare.py -c CONFIG --load W --key K -o OUT

The command `edvr-compare` of the installed package, run from a checkout (edvr/cli/compare.py).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from edvr.cli.compare import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
