# SPDX-License-Identifier: Apache-2.0
"""Prepare datasets: python tools/prepare_data.py {demo,reds,vimeo90k,vid4,udm10,video,pack} ...

The command `edvr-prepare` of the installed package, run from a checkout (edvr/cli/prepare.py).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from edvr.cli.prepare import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
