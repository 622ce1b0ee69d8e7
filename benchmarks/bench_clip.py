# SPDX-License-Identifier: Apache-2.0
"""Frames per second of restoring a whole clip, per-frame features reused or not.

`Predictor.run_sequence` over a clip of random LR frames, with the network of a
config (random weights, DCN offsets of a few pixels), once with each frame's
features computed per window (``feature_cache_mib=0``, as before the cache) and
once with them reused across windows (the default). One process holds both
predictors (the same weights); they run window by window in turns, who goes
first alternating, so a busy machine slows both alike. Prints, per mode, frames/s over the
whole clip (the first window computes all its frames) and in steady state (the
median window after the first), the frames whose features were computed, and
the largest output difference between the modes (uint8 levels, and the share of
values that differ at all) and the memory the kept features take.

    python benchmarks/bench_clip.py                                   # EDVR-M and EDVR-L
    python benchmarks/bench_clip.py --nets m --frames 10 --rounds 2
    python benchmarks/bench_clip.py --size 92,160
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
warnings.filterwarnings('ignore', message='No ccache found')

NETS = {'m': ('EDVR-M', 'edvr_m_wo_tsa.yaml'), 'l': ('EDVR-L', 'edvr_l_w_tsa.yaml')}


def randomize(net, seed=0):
    """He-normal weights (x0.5), small biases, DCN offsets of about a pixel."""
    import numpy as np
    rng = np.random.default_rng(seed)
    for name, param in net.named_parameters():
        shape = param.shape
        if len(shape) == 4:
            std = np.sqrt(2.0 / np.prod(shape[1:])) * (0.1 if 'conv_offset_mask' in name else 0.5)
            value = rng.normal(0, std, shape)
        elif name.endswith('conv_offset_mask.bias'):
            value = rng.normal(0, 1.0, shape)
        else:
            value = rng.normal(0, 0.01, shape)
        param.set_value(value.astype('float32'))


def predictors(config, threads, folder):
    """(whole windows, reused features) predictors of one randomized network's weights."""
    import paddle

    from edvr import components  # noqa: F401  (registers every component)
    from edvr.config import load_config
    from edvr.deploy.predictor import Predictor
    cfg = load_config(os.path.join(ROOT, 'configs', config))
    from edvr.registry import NETWORKS, build_from_config
    cfg.pop('demo_data', None)   # the network alone is measured
    paddle.seed(0)
    net = build_from_config(cfg.model.generator, NETWORKS)
    randomize(net)
    weights = os.path.join(folder, 'weights.pdparams')
    paddle.save({'generator': net.state_dict()}, weights)
    whole = Predictor.from_config(cfg, weights, num_threads=threads, feature_cache_mib=0)
    reused = Predictor.from_config(cfg, weights, num_threads=threads)
    return whole, reused


def time_clips(modes, frames, first):
    """Run every mode's run_sequence over ``frames``, window by window in turns.

    Returns:
        {mode: (outputs, seconds of each output frame)}.
    """
    streams = {mode: predictor.run_sequence(frames) for mode, predictor in modes.items()}
    results = {mode: ([], []) for mode in modes}
    order = [first] + [mode for mode in modes if mode != first]
    for _ in frames:
        for mode in order:
            start = time.perf_counter()
            out = next(streams[mode])
            results[mode][1].append(time.perf_counter() - start)
            results[mode][0].append(out)
        order.reverse()   # alternate who goes first
    return results


def bench(key, size, num_frames, rounds, threads):
    import numpy as np
    name, config = NETS[key]
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, size + (3,), dtype=np.uint8) for _ in range(num_frames)]
    with tempfile.TemporaryDirectory() as folder:
        modes = dict(zip(('per window', 'reused'), predictors(config, threads, folder)))
        for predictor in modes.values():   # warm-up: kernels, allocator
            predictor.restore(np.zeros((1, predictor.num_frames, 3, 16, 16), np.float32))
        clip_s = {mode: [] for mode in modes}
        window_s = {mode: [] for mode in modes}
        outputs = {}
        for r in range(rounds):
            for predictor in modes.values():
                if predictor.runner.cache is not None:
                    predictor.runner.cache.clear()
                    predictor.runner.cache.computed = 0
            results = time_clips(modes, frames, list(modes)[r % 2])
            for mode, (outputs[mode], seconds) in results.items():
                clip_s[mode].append(sum(seconds))
                window_s[mode].extend(seconds[1:])
                print(f'  {name} round {r + 1} {mode}: {sum(seconds):.1f} s '
                      f'({", ".join(f"{v:.1f}" for v in seconds)})', flush=True)
        computed = {'per window': num_frames * modes['per window'].num_frames,
                    'reused': modes['reused'].runner.cache.computed}
        cache_mib = modes['reused'].runner.cache.bytes / 2 ** 20
    levels = np.abs(np.stack(outputs['per window']).astype(int) - np.stack(outputs['reused']))
    diff = f'{levels.max()} ({(levels > 0).mean():.1e} of values)'
    print(f'  {name}: features held at the end of the clip: {cache_mib:.0f} MiB', flush=True)
    rows = []
    for mode in modes:
        clip = statistics.median(clip_s[mode])
        steady = statistics.median(window_s[mode])
        rows.append((name, mode, num_frames / clip, 1 / steady, computed[mode]))
    return rows, diff


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--nets', nargs='+', default=['m', 'l'], choices=sorted(NETS))
    parser.add_argument('--size', default='180,320', help='LR height,width (default: 720p out)')
    parser.add_argument('--frames', type=int, nargs='+', default=[8, 5],
                        help='clip length per network (one value for all)')
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split(','))
    lengths = args.frames * len(args.nets) if len(args.frames) == 1 else args.frames
    table = []
    for key, num_frames in zip(args.nets, lengths):
        rows, diff = bench(key, size, num_frames, args.rounds, args.threads)
        table.extend(row + (diff,) for row in rows)
    print(f'\nLR {size[0]}x{size[1]}, {args.threads} threads, {args.rounds} round(s), '
          f'modes in turns window by window')
    print('| network | features | frames/s, clip | frames/s, steady | frames extracted | '
          'output diff to per window (levels) |')
    print('|---|---|---|---|---|---|')
    base = {}
    for name, mode, clip, steady, computed, diff in table:
        ratio = '' if mode == 'per window' else \
            f' ({clip / base[name][0]:.2f}x)'
        ratio_steady = '' if mode == 'per window' else f' ({steady / base[name][1]:.2f}x)'
        base.setdefault(name, (clip, steady))
        print(f'| {name} | {mode} | {clip:.3f}{ratio} | {steady:.3f}{ratio_steady} | '
              f'{computed} | {"" if mode == "per window" else diff} |')


if __name__ == '__main__':
    main()
