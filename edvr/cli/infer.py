# SPDX-License-Identifier: Apache-2.0
"""Super-resolve a folder of frames, or score a config's test dataset.

edvr-infer --model_path inference_model/NAME --input FRAMES --output_path OUT
edvr-infer -c CONFIG --load WEIGHTS --input FRAMES --output_path OUT
edvr-infer --model_path inference_model/NAME -c CONFIG --dataset test
"""
import os
import sys

from edvr.cli import arg_types
from edvr.cli.command import parse_and_run
from edvr.cli.restore_options import add_restore_options, model_inputs, restore_options
from edvr.errors import EDVRError

RUN_MODES = {'fluid': None, 'trt_fp32': 'fp32', 'trt_fp16': 'fp16'}


def build_parser():
    parser = arg_types.Parser(description='EDVR inference on frames or a test dataset.')
    parser.add_argument('--model_path', type=arg_types.path_text, help='exported model DIR/NAME (edvr-export), or its .onnx file')
    parser.add_argument('-c', '--config-file', type=arg_types.path_text,
                        help='YAML config or shipped config name (dygraph model and/or dataset)')
    parser.add_argument('--load', type=arg_types.path_text, help='weights (.pdparams) to run the config\'s network with')
    parser.add_argument('-o', '--opt', nargs='+', default=[], metavar='KEY=VALUE')
    parser.add_argument('--input', type=arg_types.path_text, help='folder of frames of one clip to restore')
    parser.add_argument('--dataset', choices=['test'],
                        help='score dataset.test of the config (the default without --input)')
    parser.add_argument('--output_path', default='infer_output', type=arg_types.path_text,
                        help='folder for restored frames')
    add_restore_options(parser)
    parser.add_argument('--device', help='cpu, gpu or gpu:N (default: the GPU if any)')
    parser.add_argument('--run_mode', default='fluid', choices=sorted(RUN_MODES),
                        help='fluid (trt_fp32/trt_fp16 are refused: TensorRT is not supported)')
    parser.add_argument('--model_type', default='edvr', help='accepted for PaddleGAN compatibility')
    return parser


def run(args):
    from edvr.config import find_config, load_config
    from edvr.utils.writer import refuse_overlap
    if args.model_type.lower() != 'edvr':
        raise EDVRError(f'--model_type {args.model_type}: only edvr is supported')
    if args.config_file:
        args.config_file = find_config(args.config_file)
    cfg = load_config(args.config_file, args.opt) if args.config_file else None
    if not args.input and cfg is None:
        raise EDVRError('nothing to do: give --input FOLDER, or -c CONFIG [--dataset test]')
    options = restore_options(args)
    if args.input:
        if os.path.isfile(args.output_path):
            raise EDVRError(f'--output_path {args.output_path}: is a file, expected a folder')
        refuse_overlap([('--output_path', args.output_path)],
                       [('--input', args.input)] + model_inputs(args))
    from edvr.deploy.predictor import Predictor
    if args.model_path:
        predictor = Predictor(args.model_path, device=args.device,
                              tensorrt=RUN_MODES[args.run_mode], **options)
    elif cfg and args.load:
        predictor = Predictor.from_config(cfg, args.load, device=args.device,
                                          tensorrt=RUN_MODES[args.run_mode], **options)
    else:
        raise EDVRError('no model: give --model_path DIR/NAME, or -c CONFIG --load WEIGHTS')
    if args.input:
        from edvr.utils.stopping import task
        with task(f'restoring {args.input} into {args.output_path}',
                  f'no frame in {args.output_path} was written or replaced'):
            count = predictor.restore_folder(args.input, args.output_path)
        print(f'restored {count} frames of {args.input} into {args.output_path}')
        return count
    report = predictor.evaluate(cfg, 'test')
    print(f'dataset.test: {report["frames"]} frames')
    for name, value in report['model'].items():
        if name != 'per_clip':
            base = report['bicubic'][name]
            print(f'{name}: model {value:.4f} vs bicubic {base:.4f}')
    return report


def main(argv=None):
    return parse_and_run(build_parser(), run, argv)


if __name__ == '__main__':
    sys.exit(main())
