# SPDX-License-Identifier: Apache-2.0
"""The options of the commands that restore frames with a `Predictor` (edvr-infer, edvr-video)."""
from edvr.cli import arg_types
from edvr.errors import ConfigError

# edvr.datasets.frame_index.PADDING_MODES, repeated so that parsing imports no Paddle
PADDING_MODES = ('replicate', 'reflection', 'reflection_circle', 'circle')


def add_restore_options(parser):
    """Add --padding, --ensemble, --tile, --tile_overlap and --num_threads to ``parser``."""
    parser.add_argument('--padding', default='reflection_circle', choices=PADDING_MODES,
                        help='temporal padding at clip ends')
    parser.add_argument('--ensemble', action='store_true',
                        help='average over the 8 flips/transposes of each window (8x slower)')
    parser.add_argument('--tile', type=arg_types.tile_size,
                        help='restore frames in overlapping tiles of this many LR pixels')
    parser.add_argument('--tile_overlap', type=arg_types.non_negative_int, default=16,
                        help='tile overlap in LR pixels (less than --tile)')
    parser.add_argument('--num_threads', type=arg_types.thread_count,
                        help='CPU math threads (default: all cores)')


def restore_options(args):
    """The `Predictor` keyword arguments those options give (checked together first)."""
    if args.tile is not None and args.tile_overlap >= args.tile:
        raise ConfigError(f'--tile_overlap {args.tile_overlap}: expected less than --tile '
                          f'{args.tile}')
    return dict(num_threads=args.num_threads, padding=args.padding, ensemble=args.ensemble,
                tile=args.tile, tile_overlap=args.tile_overlap)


def model_inputs(args):
    """(label, path) of the files a restoring command reads its model from."""
    return [('--model_path', getattr(args, 'model_path', None)),
            ('-c', getattr(args, 'config_file', None)), ('--load', getattr(args, 'load', None))]
