# SPDX-License-Identifier: Apache-2.0
"""Super-resolve a video: edvr-video INPUT.mp4 -o OUTPUT.mp4 (--model_path | -c --load)."""
import argparse
import sys
import warnings

from edvr.cli.restore_options import add_restore_options, restore_options
from edvr.errors import EDVRError, exit_code


def build_parser():
    parser = argparse.ArgumentParser(description='Super-resolve every frame of a video.')
    parser.add_argument('input', help='video file (anything OpenCV reads)')
    parser.add_argument('-o', '--output', required=True,
                        help='output video (.mp4, .m4v, .mov, .mkv, .avi): H.264 through ffmpeg')
    parser.add_argument('--model_path', help='exported model DIR/NAME (edvr-export), or its .onnx file')
    parser.add_argument('-c', '--config-file',
                        help='config (file or shipped name) of the network (with --load)')
    parser.add_argument('--load', help='weights (.pdparams) for the config\'s network')
    add_restore_options(parser)
    parser.add_argument('--crf', type=int, default=18,
                        help='H.264 quality, 0 (best) to 51; 18 is visually lossless')
    parser.add_argument('--preset', default='medium', help='x264 preset (ultrafast ... veryslow)')
    parser.add_argument('--lossless', action='store_true',
                        help='x264 lossless RGB: decoded frames equal the restored ones '
                             '(large files)')
    parser.add_argument('--frames_out', metavar='DIR',
                        help='also write every restored frame as PNG into DIR')
    parser.add_argument('--no_audio', action='store_true', help='do not copy the audio track')
    return parser


def run(args):
    from edvr.deploy.encoder import PRESETS
    from edvr.deploy.predictor import Predictor
    if not 0 <= args.crf <= 51:
        raise EDVRError(f'--crf {args.crf}: expected 0 (best) to 51')
    if args.preset not in PRESETS:
        raise EDVRError(f'--preset {args.preset!r}: expected one of {", ".join(PRESETS)}')
    options = restore_options(args)
    if args.model_path:
        predictor = Predictor(args.model_path, **options)
    elif args.config_file and args.load:
        predictor = Predictor.from_config(args.config_file, args.load, **options)
    else:
        raise EDVRError('no model: give --model_path DIR/NAME, or -c CONFIG --load WEIGHTS')
    info = predictor.run_video(args.input, args.output, keep_audio=not args.no_audio,
                               crf=args.crf, preset=args.preset, lossless=args.lossless,
                               frames_out=args.frames_out)
    fps = info['fps']
    print(f'wrote {args.output}: {info["frames"]} frames at {float(fps):g} fps ({fps}), '
          f'{info["size"][0]}x{info["size"][1]}, {info["codec"]}, audio: {info["audio"]}'
          + (f'; PNG frames in {args.frames_out}' if args.frames_out else ''))


def _one_line_warning(message, category, filename, lineno, line=None):
    return f'warning: {message}\n'


def main(argv=None):
    warnings.formatwarning = _one_line_warning
    return exit_code(run, build_parser().parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
