# SPDX-License-Identifier: Apache-2.0
"""Convert a BasicSR or mmagic EDVR checkpoint (.pth) to a .pdparams, without PyTorch.

edvr-convert SRC.pth DST.pdparams [--from basicsr|mmagic|auto] [--config CONFIG]

Prints the architecture read off the weights as a config block; with --config,
checks that config's model.generator against it and writes nothing on a mismatch.
"""
import argparse
import sys

from edvr.errors import ConfigError, exit_code


def build_parser():
    parser = argparse.ArgumentParser(description='Convert PyTorch EDVR weights to Paddle.')
    parser.add_argument('src', help='BasicSR or mmagic EDVR checkpoint (.pth)')
    parser.add_argument('dst', help='output weights (.pdparams, PaddleGAN layout)')
    parser.add_argument('--from', dest='source', default='auto',
                        choices=['auto', 'basicsr', 'mmagic'], help='source framework')
    parser.add_argument('--config', help='config (file or shipped name) whose model.generator '
                                             'must match the weights')
    return parser


def run(args):
    from edvr.convert import (config_mismatches, config_snippet, convert_checkpoint,
                              write_paddle_weights)
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
    write_paddle_weights(state, args.dst)
    print(f'wrote {args.dst}')


def main(argv=None):
    return exit_code(run, build_parser().parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
