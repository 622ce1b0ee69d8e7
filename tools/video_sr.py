# SPDX-License-Identifier: Apache-2.0
"""Super-resolve a video: python tools/video_sr.py INPUT.mp4 -o OUTPUT.mp4 (--model_path | -c --load)."""
import argparse
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
warnings.filterwarnings('ignore', message='No ccache found')

from edvr.errors import EDVRError, exit_code  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description='Super-resolve every frame of a video.')
    parser.add_argument('input', help='video file (anything OpenCV reads)')
    parser.add_argument('-o', '--output', required=True, help='output video (.mp4, .avi, .mkv, .mov)')
    parser.add_argument('--model_path', help='exported model DIR/NAME (tools/export_model.py), or its .onnx file')
    parser.add_argument('-c', '--config-file', help='config of the network (with --load)')
    parser.add_argument('--load', help='weights (.pdparams) for the config\'s network')
    parser.add_argument('--padding', default='reflection_circle', help='temporal padding at the ends')
    parser.add_argument('--tile', type=int, help='restore in overlapping tiles of this many LR pixels')
    parser.add_argument('--tile_overlap', type=int, default=16, help='tile overlap in LR pixels')
    parser.add_argument('--ensemble', action='store_true', help='x8 flip/transpose ensemble')
    parser.add_argument('--no_audio', action='store_true', help='do not copy the audio track')
    parser.add_argument('--num_threads', type=int, help='CPU math threads (default: all cores)')
    return parser


def run(args):
    from edvr.deploy.predictor import Predictor
    options = dict(num_threads=args.num_threads, padding=args.padding, ensemble=args.ensemble,
                   tile=args.tile, tile_overlap=args.tile_overlap)
    if args.model_path:
        predictor = Predictor(args.model_path, **options)
    elif args.config_file and args.load:
        predictor = Predictor.from_config(args.config_file, args.load, **options)
    else:
        raise EDVRError('no model: give --model_path DIR/NAME, or -c CONFIG --load WEIGHTS')
    info = predictor.run_video(args.input, args.output, keep_audio=not args.no_audio)
    print(f'wrote {args.output}: {info["frames"]} frames at {info["fps"]:g} fps, '
          f'{info["size"][0]}x{info["size"][1]}, audio: {info["audio"]}')


def main(argv=None):
    return exit_code(run, build_parser().parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
