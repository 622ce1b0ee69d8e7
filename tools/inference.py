# SPDX-License-Identifier: Apache-2.0
"""Super-resolve frames or score a test set: python tools/inference.py --model_path ... --input ...

The command `edvr-infer` of the installed package, run from a checkout (edvr/cli/infer.py).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from edvr.cli.infer import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
