# SPDX-License-Identifier: Apache-2.0
"""Super-resolve a folder of frames, or score a config's test dataset.

edvr-infer --model_path inference_model/NAME --input FRAMES --output_path OUT
edvr-infer -c CONFIG --load WEIGHTS --input FRAMES --output_path OUT
edvr-infer --model_path inference_model/NAME -c CONFIG --dataset test
"""
import argparse
import os
import sys

from edvr.cli.restore_options import add_restore_options, restore_options
from edvr.errors import EDVRError, exit_code

RUN_MODES = {'fluid': None, 'trt_fp32': 'fp32', 'trt_fp16': 'fp16'}


def build_parser():
    parser = argparse.ArgumentParser(description='EDVR inference on frames or a test dataset.')
    parser.add_argument('--model_path', help='exported model DIR/NAME (edvr-export), or its .onnx file')
    parser.add_argument('-c', '--config-file',
                        help='YAML config or shipped config name (dygraph model and/or dataset)')
    parser.add_argument('--load', help='weights (.pdparams) to run the config\'s network with')
    parser.add_argument('-o', '--opt', nargs='+', default=[], metavar='KEY=VALUE')
    parser.add_argument('--input', help='folder of frames of one clip to restore')
    parser.add_argument('--dataset', choices=['test'],
                        help='score dataset.test of the config (the default without --input)')
    parser.add_argument('--output_path', default='infer_output', help='folder for restored frames')
    add_restore_options(parser)
    parser.add_argument('--device', help='cpu, gpu or gpu:N (default: the GPU if any)')
    parser.add_argument('--run_mode', default='fluid', choices=sorted(RUN_MODES),
                        help='fluid (trt_fp32/trt_fp16 are refused: TensorRT is not supported)')
    parser.add_argument('--model_type', default='edvr', help='accepted for PaddleGAN compatibility')
    return parser


def run(args):
    from edvr.config import load_config
    from edvr.deploy.predictor import Predictor
    if args.model_type.lower() != 'edvr':
        raise EDVRError(f'--model_type {args.model_type}: only edvr is supported')
    cfg = load_config(args.config_file, args.opt) if args.config_file else None
    if not args.input and cfg is None:
        raise EDVRError('nothing to do: give --input FOLDER, or -c CONFIG [--dataset test]')
    if args.input and os.path.isfile(args.output_path):
        raise EDVRError(f'--output_path {args.output_path}: is a file, expected a folder')
    if args.model_path:
        predictor = Predictor(args.model_path, device=args.device,
                              tensorrt=RUN_MODES[args.run_mode], **restore_options(args))
    elif cfg and args.load:
        predictor = Predictor.from_config(cfg, args.load, device=args.device,
                                          tensorrt=RUN_MODES[args.run_mode], **restore_options(args))
    else:
        raise EDVRError('no model: give --model_path DIR/NAME, or -c CONFIG --load WEIGHTS')
    if args.input:
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
    return exit_code(run, build_parser().parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
