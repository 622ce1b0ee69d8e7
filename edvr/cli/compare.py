# SPDX-License-Identifier: Apache-2.0
"""Comparison image of one test frame: bicubic | EDVR | GT with PSNR labels.

edvr-compare -c CONFIG --load WEIGHTS --key 000/00000012 -o compare.png
    [--crop TOP,LEFT,HEIGHT,WIDTH] [--zoom 2] [--model_path DIR/NAME]
"""
import argparse
import sys

from edvr.errors import EDVRError, exit_code


def build_parser():
    parser = argparse.ArgumentParser(description='Comparison image of one test frame.')
    parser.add_argument('-c', '--config-file', required=True,
                        help='config (file or shipped name) with dataset.test')
    parser.add_argument('--load', help='weights (.pdparams) for the config\'s network')
    parser.add_argument('--model_path', help='exported model DIR/NAME instead of --load')
    parser.add_argument('--key', required=True, help='test frame, e.g. 000/00000012')
    parser.add_argument('--crop', help='TOP,LEFT,HEIGHT,WIDTH in output pixels')
    parser.add_argument('--zoom', type=int, default=1, help='enlarge each panel this many times')
    parser.add_argument('-o', '--output', required=True, help='PNG file to write')
    return parser


def run(args):
    from edvr.config import load_config
    from edvr.deploy.compare import write_comparison
    cfg = load_config(args.config_file)
    crop = tuple(int(v) for v in args.crop.split(',')) if args.crop else None
    if crop is not None and len(crop) != 4:
        raise EDVRError(f'--crop {args.crop}: expected TOP,LEFT,HEIGHT,WIDTH')
    write_comparison(cfg, args.key, args.output, weights=args.load, model_path=args.model_path,
                     crop=crop, zoom=args.zoom)
    print(f'wrote {args.output}')


def main(argv=None):
    return exit_code(run, build_parser().parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
