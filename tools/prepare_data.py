# SPDX-License-Identifier: Apache-2.0
"""Prepare datasets: python tools/prepare_data.py demo [--root data/demo] [--force]."""
import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
warnings.filterwarnings('ignore', message='No ccache found')

from edvr.datasets.demo import demo_is_complete, make_demo_dataset  # noqa: E402
from edvr.errors import exit_code  # noqa: E402


def run_demo(args):
    if demo_is_complete(args.root) and not args.force:
        print(f'demo dataset in {args.root} is complete; reusing it (--force rebuilds)')
        return 0
    start = time.perf_counter()
    info = make_demo_dataset(args.root)
    h, w = info['gt_size']
    lh, lw = info['lq_size']
    print(f'demo dataset written to {args.root} in {time.perf_counter() - start:.1f} s: '
          f'{len(info["train_clips"])} training clips, held-out clip(s) '
          f'{", ".join(info["test_clips"])}; GT {h}x{w}, LQ {lh}x{lw}')
    return 0


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest='command', required=True)
    demo = sub.add_parser('demo', help='build the REDS-layout demo dataset from bundled photos')
    demo.add_argument('--root', default='data/demo', help='destination folder')
    demo.add_argument('--force', action='store_true', help='rebuild even if complete')
    demo.set_defaults(func=run_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return exit_code(args.func, args)


if __name__ == '__main__':
    sys.exit(main())
