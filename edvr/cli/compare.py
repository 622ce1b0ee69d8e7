# SPDX-License-Identifier: Apache-2.0
"""Comparison image of one test frame: bicubic | EDVR | GT with PSNR labels.

edvr-compare -c CONFIG --load WEIGHTS --key 000/00000012 -o compare.png
    [--crop TOP,LEFT,HEIGHT,WIDTH] [--zoom 2] [--model_path DIR/NAME]
"""
import sys

from edvr.cli import arg_types
from edvr.cli.command import parse_and_run


def build_parser():
    parser = arg_types.Parser(description='Comparison image of one test frame.')
    parser.add_argument('-c', '--config-file', required=True, type=arg_types.path_text,
                        help='config (file or shipped name) with dataset.test')
    parser.add_argument('--load', type=arg_types.path_text, help='weights (.pdparams) for the config\'s network')
    parser.add_argument('--model_path', type=arg_types.path_text, help='exported model DIR/NAME instead of --load')
    parser.add_argument('--key', required=True, help='test frame, e.g. 000/00000012')
    parser.add_argument('--crop', type=arg_types.crop, help='TOP,LEFT,HEIGHT,WIDTH in output pixels')
    parser.add_argument('--zoom', type=arg_types.int_range(1, 64, 'a zoom factor'), default=1, help='enlarge each panel this many times')
    parser.add_argument('-o', '--output', required=True, type=arg_types.image_output,
                        help='image to write (.png, .jpg, ...)')
    return parser


def run(args):
    from edvr.config import find_config, load_config
    from edvr.settings import input_paths
    from edvr.utils.writer import refuse_overlap
    args.config_file = find_config(args.config_file)
    cfg = load_config(args.config_file)
    refuse_overlap([('-o', args.output)], [('-c', args.config_file), ('--load', args.load),
                                           ('--model_path', args.model_path)] + input_paths(cfg))
    from edvr.deploy.compare import write_comparison
    write_comparison(cfg, args.key, args.output, weights=args.load, model_path=args.model_path,
                     crop=args.crop, zoom=args.zoom)
    print(f'wrote {args.output}')


def main(argv=None):
    return parse_and_run(build_parser(), run, argv)


if __name__ == '__main__':
    sys.exit(main())
