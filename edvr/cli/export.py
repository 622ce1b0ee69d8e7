# SPDX-License-Identifier: Apache-2.0
"""Export a static inference model with dynamic batch, height and width.

edvr-export -c CONFIG --load WEIGHTS --inputs_size "1,5,3,180,320"
    [--model_name NAME] [--output_dir DIR] [--onnx] [-o key=value ...]
"""
import argparse
import os
import sys
import time

from edvr.errors import EDVRError, exit_code


def build_parser():
    parser = argparse.ArgumentParser(description='Export a static Paddle inference model.')
    parser.add_argument('-c', '--config-file', required=True,
                        help='YAML config file, or the name of a shipped config')
    parser.add_argument('--load', required=True, help='weights (.pdparams) to export')
    parser.add_argument('-s', '--inputs_size', required=True,
                        help='example input shape b,t,c,h,w (";" between inputs); '
                             'b, h and w stay dynamic')
    parser.add_argument('--model_name', help='file name of the model (default <model>_<net>)')
    parser.add_argument('--output_dir', default='inference_model', help='destination folder')
    parser.add_argument('-o', '--opt', nargs='+', default=[], metavar='KEY=VALUE',
                        help='override config keys')
    parser.add_argument('--onnx', action='store_true',
                        help='also convert to ONNX (<name>.onnx; needs paddle2onnx, onnx and '
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
    from edvr.utils.output_paths import check_output_folder, full_disk_raises
    if args.onnx:
        from edvr.deploy.onnx_export import require_onnx_tools
        require_onnx_tools()  # before anything is exported
    cfg = load_config(args.config_file, args.opt)
    check_output_folder(args.output_dir, '--output_dir')
    start = time.perf_counter()
    with full_disk_raises(lambda exc: EDVRError(
            f'--output_dir {args.output_dir}: no space left on device while exporting '
            f'({exc.filename or "model files"}); files already there are unchanged and nothing '
            f'half-written is left; free space and run the export again')):
        written = export_model(cfg, args.load, args.inputs_size, args.output_dir, args.model_name)
    for prefix, files in written.items():
        print(f'exported {prefix} in {time.perf_counter() - start:.1f} s: '
              f'{", ".join(sorted(os.path.basename(f) for f in files))}')
    prefixes = list(written)
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
