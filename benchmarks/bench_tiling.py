# SPDX-License-Identifier: Apache-2.0
"""Peak memory and time of one window at 1080p output, whole frame vs tiles.

Runs the network of a config (random weights; default configs/edvr_demo.yaml) on a
5-frame window of LR H x W (default 270x480, 1080p at x4), each setting in a fresh
process so the peak resident memory is its own. ``--backend onnx`` exports the
network, converts it to ONNX and runs that with onnxruntime (needs paddle2onnx
and onnxruntime); ``dygraph`` runs the Paddle network directly.

    python benchmarks/bench_tiling.py [CONFIG] [--size 270,480] [--tiles 0,128,64]
        [--backend dygraph|onnx]
"""
import argparse
import os
import resource
import subprocess
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
warnings.filterwarnings('ignore', message='No ccache found')


def make_predictor(cfg, backend, tile, folder):
    """A `Predictor` of the config's network with random weights, on ``backend``."""
    import paddle

    from edvr.deploy.export import network_info, save_inference_model
    from edvr.deploy.predictor import Predictor
    from edvr.registry import NETWORKS, build_from_config
    net = build_from_config(cfg.model.generator, NETWORKS)
    options = dict(tile=tile or None, tile_overlap=16)
    if backend == 'dygraph':
        weights = os.path.join(folder, 'weights.pdparams')
        paddle.save({'generator': net.state_dict()}, weights)
        return Predictor.from_config(cfg, weights, **options)
    from edvr.deploy.onnx_export import export_onnx
    prefix = os.path.join(folder, 'net')
    save_inference_model(net, prefix, [[1, net.nframes, 3, 64, 64]], network_info(net))
    return Predictor(export_onnx(prefix), **options)


def one_run(config, h, w, tile, backend):
    import tempfile

    import numpy as np

    from edvr import components  # noqa: F401  (registers every component)
    from edvr.config import load_config
    cfg = load_config(config)
    cfg.pop('demo_data', None)  # the network alone is measured
    with tempfile.TemporaryDirectory() as folder:
        predictor = make_predictor(cfg, backend, tile, folder)
        lq = np.random.default_rng(0).random((1, predictor.num_frames, 3, h, w), dtype=np.float32)
        start = time.perf_counter()
        out = predictor.restore(lq)
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'{backend} tile {tile or "none":>5}: output {out.shape[-2]}x{out.shape[-1]}, '
          f'{seconds:6.1f} s, peak resident memory {peak:7.0f} MiB', flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('config', nargs='?', default=os.path.join(ROOT, 'configs', 'edvr_demo.yaml'))
    parser.add_argument('--size', default='270,480')
    parser.add_argument('--tiles', default='0,128,64')
    parser.add_argument('--backend', default='dygraph', choices=('dygraph', 'onnx'))
    parser.add_argument('--one', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    h, w = (int(v) for v in args.size.split(','))
    if args.one is not None:
        return one_run(args.config, h, w, args.one, args.backend)
    for tile in (int(v) for v in args.tiles.split(',')):
        subprocess.run([sys.executable, __file__, args.config, '--size', args.size,
                        '--backend', args.backend, '--one', str(tile)], check=True)


if __name__ == '__main__':
    main()
