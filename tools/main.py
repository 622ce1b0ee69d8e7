# SPDX-License-Identifier: Apache-2.0
"""Train or evaluate EDVR: python tools/main.py --config-file CONFIG [-o key=value ...]."""
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
warnings.filterwarnings('ignore', message='No ccache found')

from edvr.engine.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
