# SPDX-License-Identifier: Apache-2.0
"""Super-resolve a video: edvr-video INPUT.mp4 -o OUTPUT.mp4 (--model_path | -c --load)."""
import sys
import warnings

from edvr.cli import arg_types
from edvr.cli.command import parse_and_run
from edvr.cli.restore_options import add_restore_options, model_inputs, restore_options
from edvr.errors import EDVRError


def build_parser():
    parser = arg_types.Parser(description='Super-resolve every frame of a video.')
    parser.add_argument('input', type=arg_types.path_text, help='video file (anything OpenCV reads)')
    parser.add_argument('-o', '--output', required=True, type=arg_types.video_output,
                        help='output video (.mp4, .m4v, .mov, .mkv, .avi): H.264 through ffmpeg')
    parser.add_argument('--model_path', type=arg_types.path_text, help='exported model DIR/NAME (edvr-export), or its .onnx file')
    parser.add_argument('-c', '--config-file', type=arg_types.path_text,
                        help='config (file or shipped name) of the network (with --load)')
    parser.add_argument('--load', type=arg_types.path_text, help='weights (.pdparams) for the config\'s network')
    add_restore_options(parser)
    parser.add_argument('--crf', type=arg_types.int_range(0, 51, 'an x264 quality'), default=18,
                        help='H.264 quality, 0 (best) to 51; 18 is visually lossless')
    parser.add_argument('--preset', default='medium', help='x264 preset (ultrafast ... veryslow)')
    parser.add_argument('--lossless', action='store_true',
                        help='x264 lossless RGB: decoded frames equal the restored ones '
                             '(large files)')
    parser.add_argument('--frames_out', metavar='DIR', type=arg_types.path_text,
                        help='also write every restored frame as PNG into DIR')
    parser.add_argument('--no_audio', action='store_true', help='do not copy the audio track')
    return parser


def run(args):
    from edvr.config import find_config
    from edvr.deploy.encoder import PRESETS
    from edvr.utils.writer import refuse_overlap
    if args.preset not in PRESETS:
        raise EDVRError(f'--preset {args.preset!r}: expected one of {", ".join(PRESETS)}')
    options = restore_options(args)
    if args.config_file:
        args.config_file = find_config(args.config_file)
    refuse_overlap([('-o', args.output), ('--frames_out', args.frames_out)],
                   [('video', args.input)] + model_inputs(args))
    from edvr.deploy.predictor import Predictor
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
    return parse_and_run(build_parser(), run, argv)


if __name__ == '__main__':
    sys.exit(main())
