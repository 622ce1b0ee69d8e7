# SPDX-License-Identifier: Apache-2.0
"""Peak memory and time of one window at 1080p output, whole frame vs tiles.

Runs the network of a config (random weights; default configs/edvr_demo.yaml) on a
5-frame window of LR H x W (default 270x480, 1080p at x4), each setting in a fresh
process so the peak resident memory is its own.

    python benchmarks/bench_tiling.py [CONFIG] [--size 270,480] [--tiles 0,128,64]
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


def one_run(config, h, w, tile):
    import numpy as np
    import paddle

    from edvr import components  # noqa: F401  (registers every component)
    from edvr.config import load_config
    from edvr.deploy.predictor import Predictor
    from edvr.registry import NETWORKS, build_from_config
    cfg = load_config(config, ['demo_data=null'])
    net_cfg = cfg.model.generator
    weights = os.path.join('/tmp', f'bench_tiling_{os.getpid()}.pdparams')
    paddle.save({'generator': build_from_config(net_cfg, NETWORKS).state_dict()}, weights)
    predictor = Predictor.from_config(cfg, weights, tile=tile or None, tile_overlap=16)
    lq = np.random.default_rng(0).random((1, net_cfg.get('nframes', 5), 3, h, w), dtype=np.float32)
    start = time.perf_counter()
    out = predictor.restore(lq)
    seconds = time.perf_counter() - start
    os.remove(weights)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'tile {tile or "none":>5}: output {out.shape[-2]}x{out.shape[-1]}, {seconds:6.1f} s, '
          f'peak resident memory {peak:7.0f} MiB', flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('config', nargs='?', default=os.path.join(ROOT, 'configs', 'edvr_demo.yaml'))
    parser.add_argument('--size', default='270,480')
    parser.add_argument('--tiles', default='0,128,64')
    parser.add_argument('--one', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    h, w = (int(v) for v in args.size.split(','))
    if args.one is not None:
        return one_run(args.config, h, w, args.one)
    for tile in (int(v) for v in args.tiles.split(',')):
        subprocess.run([sys.executable, __file__, args.config, '--size', args.size,
                        '--one', str(tile)], check=True)


if __name__ == '__main__':
    main()
