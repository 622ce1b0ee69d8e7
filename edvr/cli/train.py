# SPDX-License-Identifier: Apache-2.0
"""Train or evaluate EDVR: edvr-train -c CONFIG [-o key=value ...] [--resume | --load ...].

The command lives in `edvr.engine.cli` (beside the Trainer it drives); this is its
console entry point.
"""
import sys

from edvr.engine.cli import main

if __name__ == '__main__':
    sys.exit(main())
