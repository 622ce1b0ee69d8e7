# SPDX-License-Identifier: Apache-2.0
"""The options of the commands that restore frames with a `Predictor` (edvr-infer, edvr-video)."""


def add_restore_options(parser):
    """Add --padding, --ensemble, --tile, --tile_overlap and --num_threads to ``parser``."""
    parser.add_argument('--padding', default='reflection_circle',
                        help='temporal padding at clip ends: replicate, reflection, '
                             'reflection_circle or circle')
    parser.add_argument('--ensemble', action='store_true',
                        help='average over the 8 flips/transposes of each window (8x slower)')
    parser.add_argument('--tile', type=int,
                        help='restore frames in overlapping tiles of this many LR pixels')
    parser.add_argument('--tile_overlap', type=int, default=16, help='tile overlap in LR pixels')
    parser.add_argument('--num_threads', type=int, help='CPU math threads (default: all cores)')


def restore_options(args):
    """The `Predictor` keyword arguments those options give."""
    return dict(num_threads=args.num_threads, padding=args.padding, ensemble=args.ensemble,
                tile=args.tile, tile_overlap=args.tile_overlap)
