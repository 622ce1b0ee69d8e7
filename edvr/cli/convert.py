# SPDX-License-Identifier: Apache-2.0
"""Convert a BasicSR or mmagic EDVR checkpoint (.pth) to a .pdparams, without PyTorch.

edvr-convert SRC.pth DST.pdparams [--from basicsr|mmagic|auto] [--config CONFIG]

Prints the architecture read off the weights as a config block; with --config,
checks that config's model.generator against it and writes nothing on a mismatch.
"""
import sys

from edvr.cli import arg_types
from edvr.cli.command import parse_and_run
from edvr.errors import ConfigError


def build_parser():
    parser = arg_types.Parser(description='Convert PyTorch EDVR weights to Paddle.')
    parser.add_argument('src', type=arg_types.path_text,
                        help='BasicSR or mmagic EDVR checkpoint (.pth)')
    parser.add_argument('dst', type=arg_types.weights_output,
                        help='output weights (.pdparams, PaddleGAN layout)')
    parser.add_argument('--from', dest='source', default='auto',
                        choices=['auto', 'basicsr', 'mmagic'], help='source framework')
    parser.add_argument('--config', type=arg_types.path_text,
                        help='config (file or shipped name) whose model.generator must match '
                             'the weights')
    return parser


def run(args):
    from edvr.convert import (config_mismatches, config_snippet, convert_checkpoint,
                              write_paddle_weights)
    from edvr.config import find_config
    from edvr.utils.stopping import task
    from edvr.utils.writer import refuse_overlap
    if args.config:
        args.config = find_config(args.config)
    refuse_overlap([('dst', args.dst)], [('src', args.src), ('--config', args.config)])
    state, arch, info = convert_checkpoint(args.src, args.source)
    count = sum(int(v.size) for v in state.values())
    print(f'read {args.src}: {info["source"]} EDVR weights from {info["found"]}, '
          f'{len(state)} tensors, {count:,} parameters')
    print('matching config:')
    print(config_snippet(arch))
    if args.config:
        problems = config_mismatches(arch, args.config)
        if problems:
            raise ConfigError(f'{args.config} does not match the weights: ' + '; '.join(problems))
        print(f'{args.config}: model.generator matches the weights')
    with task(f'writing {args.dst}', f'{args.dst} was not written or changed'):
        write_paddle_weights(state, args.dst)
    print(f'wrote {args.dst}')


def main(argv=None):
    return parse_and_run(build_parser(), run, argv)


if __name__ == '__main__':
    sys.exit(main())
