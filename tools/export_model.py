# SPDX-License-Identifier: Apache-2.0
"""Export a static inference model with dynamic batch, height and width.

python tools/export_model.py -c CONFIG --load WEIGHTS --inputs_size "1,5,3,180,320"
    [--model_name NAME] [--output_dir DIR] [--onnx] [-o key=value ...]
"""
import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
warnings.filterwarnings('ignore', message='No ccache found')

from edvr.errors import EDVRError, exit_code  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description='Export a static Paddle inference model.')
    parser.add_argument('-c', '--config-file', required=True, help='YAML config file')
    parser.add_argument('--load', required=True, help='weights (.pdparams) to export')
    parser.add_argument('-s', '--inputs_size', required=True,
                        help='example input shape b,t,c,h,w (";" between inputs); '
                             'b, h and w stay dynamic')
    parser.add_argument('--model_name', help='file name of the model (default <model>_<net>)')
    parser.add_argument('--output_dir', default='inference_model', help='destination folder')
    parser.add_argument('-o', '--opt', nargs='+', default=[], metavar='KEY=VALUE',
                        help='override config keys')
    parser.add_argument('--onnx', action='store_true',
                        help='also convert to ONNX (<name>.onnx; needs paddle2onnx and '
                             'onnxruntime) and check it against the Paddle model')
    parser.add_argument('--export_serving_model', action='store_true',
                        help='accepted for PaddleGAN compatibility; not supported')
    return parser


def run(args):
    from edvr.config import load_config
    from edvr.deploy.export import export_model, parse_inputs_size
    from edvr.utils.device import tune_cpu_runtime
    tune_cpu_runtime()
    if args.export_serving_model:
        raise EDVRError('--export_serving_model: Paddle Serving export is not supported')
    cfg = load_config(args.config_file, args.opt)
    start = time.perf_counter()
    prefixes = export_model(cfg, args.load, args.inputs_size, args.output_dir, args.model_name)
    for prefix in prefixes:
        print(f'exported {prefix} (.json/.pdmodel + .pdiparams + .edvr.yml) '
              f'in {time.perf_counter() - start:.1f} s')
    if args.onnx:
        from edvr.deploy.onnx_export import export_onnx, max_difference
        shape = parse_inputs_size(args.inputs_size)[0]
        for prefix in prefixes:
            onnx_path = export_onnx(prefix)
            diff = max_difference(prefix, onnx_path, shape)
            print(f'exported {onnx_path}; onnxruntime vs paddle.inference on a random '
                  f'{"x".join(map(str, shape))} input: max |difference| {diff:.2e}')
    return prefixes


def main(argv=None):
    return exit_code(run, build_parser().parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
