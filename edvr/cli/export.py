# SPDX-License-Identifier: Apache-2.0
"""Export a static inference model with dynamic batch, height and width.

edvr-export -c CONFIG --load WEIGHTS --inputs_size "1,5,3,180,320"
    [--model_name NAME] [--output_dir DIR] [--onnx] [-o key=value ...]
"""
import os
import sys
import time

from edvr.cli import arg_types
from edvr.cli.command import parse_and_run
from edvr.errors import EDVRError


def model_name(text):
    """A file name without folders (the exported files are <output_dir>/<name>.*)."""
    import argparse
    if not text.strip() or os.sep in text or '/' in text or text in ('.', '..') or '\0' in text:
        raise argparse.ArgumentTypeError(f'expected a file name without folders, got {text!r}')
    return text


def output_files(cfg, output_dir, name, onnx=False):
    """(label, path) of every file the export writes."""
    entries = list(cfg.get('export_model') or [{'name': 'generator'}])
    model = str((cfg.get('model') or {}).get('name', 'model')).lower()
    files = []
    for entry in entries:
        net = entry.get('name') if isinstance(entry, dict) else None
        stem = (name if len(entries) == 1 else f'{name}_{net}') if name else f'{model}_{net}'
        exts = ('.json', '.pdmodel', '.pdiparams', '.pdparams', '.edvr.yml') + \
            (('.onnx',) if onnx else ())
        files += [('--output_dir', os.path.join(output_dir, stem + ext)) for ext in exts]
    return files


def build_parser():
    parser = arg_types.Parser(description='Export a static Paddle inference model.')
    parser.add_argument('-c', '--config-file', required=True, type=arg_types.path_text,
                        help='YAML config file, or the name of a shipped config')
    parser.add_argument('--load', required=True, type=arg_types.path_text, help='weights (.pdparams) to export')
    parser.add_argument('-s', '--inputs_size', required=True, type=arg_types.inputs_size,
                        help='example input shape b,t,c,h,w (";" between inputs); '
                             'b, h and w stay dynamic')
    parser.add_argument('--model_name', type=model_name, help='file name of the model (default <model>_<net>)')
    parser.add_argument('--output_dir', default='inference_model', type=arg_types.path_text,
                        help='destination folder')
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
    from edvr.config import find_config
    from edvr.utils.stopping import task
    from edvr.utils.writer import refuse_overlap, removed_if_failed
    args.config_file = find_config(args.config_file)
    cfg = load_config(args.config_file, args.opt)
    check_output_folder(args.output_dir, '--output_dir')
    refuse_overlap(output_files(cfg, args.output_dir, args.model_name, args.onnx),
                   [('-c', args.config_file), ('--load', args.load)])
    start = time.perf_counter()
    with full_disk_raises(lambda exc: EDVRError(
            f'--output_dir {args.output_dir}: no space left on device while exporting '
            f'({exc.filename or "model files"}); files already there are unchanged and nothing '
            f'half-written is left; free space and run the export again')):
        with task(f'exporting into {args.output_dir}',
                  f'files already in {args.output_dir} are unchanged'), \
                removed_if_failed(args.output_dir):
            written = export_model(cfg, args.load, args.inputs_size, args.output_dir,
                                   args.model_name)
    for prefix, files in written.items():
        print(f'exported {prefix} in {time.perf_counter() - start:.1f} s: '
              f'{", ".join(sorted(os.path.basename(f) for f in files))}')
    prefixes = list(written)
    if args.onnx:
        from edvr.deploy.onnx_export import export_onnx, max_difference
        shape = parse_inputs_size(args.inputs_size)[0]
        for prefix in prefixes:
            with task(f'converting {prefix} to ONNX', f'the Paddle model {prefix} is kept, '
                      f'no .onnx file was written or changed'):
                onnx_path = export_onnx(prefix)
            diff = max_difference(prefix, onnx_path, shape)
            print(f'exported {onnx_path}; onnxruntime vs paddle.inference on a random '
                  f'{"x".join(map(str, shape))} input: max |difference| {diff:.2e}')
    return prefixes


def main(argv=None):
    return parse_and_run(build_parser(), run, argv)


if __name__ == '__main__':
    sys.exit(main())
