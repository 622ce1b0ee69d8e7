# SPDX-License-Identifier: Apache-2.0
"""The options of the commands that restore frames with a `Predictor` (edvr-infer, edvr-video)."""
from edvr.cli import arg_types
from edvr.errors import ConfigError

# edvr.datasets.frame_index.PADDING_MODES, repeated so that parsing imports no Paddle
PADDING_MODES = ('replicate', 'reflection', 'reflection_circle', 'circle')
# edvr.deploy.exported.RUNTIMES, likewise
RUNTIMES = ('auto', 'library', 'paddle_inference')


def add_restore_options(parser):
    """Add --padding, --ensemble, --tile, --tile_overlap, --num_threads, --runtime and
    --precision to ``parser``."""
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
    parser.add_argument('--runtime', default='auto', choices=RUNTIMES,
                        help='how an exported model (--model_path) runs: auto (the library\'s '
                             'C++ kernels on the CPU when the export records its network, else '
                             'paddle.inference), library, or paddle_inference')
    parser.add_argument('--precision', type=arg_types.precision, default='fp32',
                        help='fp32 (default) or bf16: the library\'s convolutions with bfloat16 '
                             'products on CPUs with AVX-512 BF16 (elsewhere one line, then fp32)')


def restore_options(args):
    """The `Predictor` keyword arguments those options give (checked together first);
    --runtime is passed on for an exported model only."""
    if getattr(args, 'model_path', None) and getattr(args, 'load', None):
        raise ConfigError(f'--model_path {args.model_path} and --load {args.load}: give one '
                          f'(an exported model, or weights for the config\'s network)')
    if args.tile is not None and args.tile_overlap >= args.tile:
        raise ConfigError(f'--tile_overlap {args.tile_overlap}: expected less than --tile '
                          f'{args.tile}')
    if args.runtime != 'auto' and not getattr(args, 'model_path', None):
        raise ConfigError(f'--runtime {args.runtime}: chooses how an exported model runs; give '
                          f'--model_path (-c/--load always runs the library)')
    options = dict(num_threads=args.num_threads, padding=args.padding, ensemble=args.ensemble,
                   tile=args.tile, tile_overlap=args.tile_overlap,
                   precision=getattr(args, 'precision', 'fp32'))
    if getattr(args, 'model_path', None):
        options['runtime'] = args.runtime
    return options


def model_inputs(args):
    """(label, path) of the files a restoring command reads its model from."""
    return [('--model_path', getattr(args, 'model_path', None)),
            ('-c', getattr(args, 'config_file', None)), ('--load', getattr(args, 'load', None))]
