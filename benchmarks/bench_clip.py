# SPDX-License-Identifier: Apache-2.0
"""Frames per second of restoring a whole clip, per-frame features reused or not.

`Predictor.run_sequence` over a clip of random LR frames, with the network of a
config (random weights, DCN offsets of a few pixels), once with each frame's
features computed per window (``feature_cache_mib=0``, as before the cache) and
once with them reused across windows (the default). One process holds both
predictors (the same weights); they run window by window in turns, who goes
first alternating, so a busy machine slows both alike. Prints, per mode, frames/s over the
whole clip (the first window computes all its frames) and in steady state (what a frame
of a long clip costs: the median window after the first without feature extraction, plus
one frame's extraction), the process CPU seconds of a steady frame, the frames
whose features were computed, the largest output difference between the modes (uint8
levels, and the share of values that differ at all) and the memory the kept features take.

``--before DIR`` compares this code with another tree's (e.g. ``git archive main | tar -x
-C DIR``): each round runs one process per tree, in turns, the order alternating, and
prints both sides' frames/s and CPU seconds per frame with the load average. ``--profile``
times each stage of a steady video frame (the network's layers, as profile_stages.py).

    python benchmarks/bench_clip.py                                   # EDVR-M and EDVR-L
    python benchmarks/bench_clip.py --nets m --frames 10 --rounds 2
    python benchmarks/bench_clip.py --nets m --modes reused --before /tmp/main --rounds 3
    python benchmarks/bench_clip.py --nets m --modes reused --profile --threads 1 --cpu-time
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
warnings.filterwarnings('ignore', message='No ccache found')

NETS = {'m': ('EDVR-M', 'edvr_m_wo_tsa.yaml'), 'l': ('EDVR-L', 'edvr_l_w_tsa.yaml')}
# profile_stages.STAGES of the per-frame stage (computed once per frame with reused features)
EXTRACT_STAGES = ('feature extraction (first conv, front blocks)',
                  'feature pyramid L2, L3 (stride-2 + 3x3)')
MODES = ('per window', 'reused')


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


def predictors(config, threads, folder, modes):
    """{mode: predictor} of one randomized network's weights."""
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
    cache = {'per window': dict(feature_cache_mib=0), 'reused': {}}
    return {mode: Predictor.from_config(cfg, weights, num_threads=threads, **cache[mode])
            for mode in modes}


class TimedExtract:
    """Wraps a FeatureCache's ``extract``: wall and CPU seconds and frames of its calls."""

    def __init__(self, cache):
        self.inner, self.wall, self.cpu, self.frames = cache.extract, 0.0, 0.0, 0
        cache.extract = self

    def __call__(self, frames):
        start, cpu = time.perf_counter(), time.process_time()
        out = self.inner(frames)
        self.wall += time.perf_counter() - start
        self.cpu += time.process_time() - cpu
        self.frames += frames.shape[0]
        return out


def time_clips(modes, frames, first):
    """Run every mode's run_sequence over ``frames``, window by window in turns.

    Returns:
        {mode: (outputs, wall seconds of each output frame, CPU seconds of each,
        steady wall and CPU seconds of a frame)}. A steady frame is one window's work
        without feature extraction (the median window after the first) plus, with
        reused features, one frame's extraction (their mean): what each frame of a
        long clip costs, whichever windows of a short one happen to extract.
    """
    streams = {mode: predictor.run_sequence(frames) for mode, predictor in modes.items()}
    extracts = {mode: TimedExtract(p.runner.cache) for mode, p in modes.items()
                if p.runner.cache is not None}
    results = {mode: ([], [], [], [], []) for mode in modes}
    order = [first] + [mode for mode in modes if mode != first]
    for _ in frames:
        for mode in order:
            ex = extracts.get(mode)
            ex_wall, ex_cpu = (ex.wall, ex.cpu) if ex else (0.0, 0.0)
            start, cpu = time.perf_counter(), time.process_time()
            out = next(streams[mode])
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            results[mode][0].append(out)
            results[mode][1].append(wall)
            results[mode][2].append(cpu)
            results[mode][3].append(wall - ((ex.wall - ex_wall) if ex else 0.0))
            results[mode][4].append(cpu - ((ex.cpu - ex_cpu) if ex else 0.0))
        order.reverse()   # alternate who goes first
    steady = {}
    for mode, (outputs, wall, cpu, rest_wall, rest_cpu) in results.items():
        ex = extracts.get(mode)
        steady[mode] = (statistics.median(rest_wall[1:]) + (ex.wall / ex.frames if ex else 0),
                        statistics.median(rest_cpu[1:]) + (ex.cpu / ex.frames if ex else 0))
        if ex:
            modes[mode].runner.cache.extract = ex.inner
    return {mode: results[mode][:3] + steady[mode] for mode in modes}


def bench(key, size, num_frames, rounds, threads, modes, timer=None):
    """Time the modes; returns (rows, diff, outputs of the last mode)."""
    import numpy as np
    name, config = NETS[key]
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, size + (3,), dtype=np.uint8) for _ in range(num_frames)]
    with tempfile.TemporaryDirectory() as folder:
        modes = predictors(config, threads, folder, modes)
        for predictor in modes.values():   # warm-up: kernels, allocator
            predictor.restore(np.zeros((1, predictor.num_frames, 3, 16, 16), np.float32))
        if timer is not None:
            timer.attach(modes[list(modes)[-1]].runner.net)
        clip_s = {mode: [] for mode in modes}
        frame_s = {mode: [] for mode in modes}
        frame_cpu = {mode: [] for mode in modes}
        outputs = {}
        for r in range(rounds):
            for predictor in modes.values():
                if predictor.runner.cache is not None:
                    predictor.runner.cache.clear()
                    predictor.runner.cache.computed = 0
            results = time_clips(modes, frames, list(modes)[r % 2])
            for mode, (outputs[mode], seconds, cpu, steady, steady_cpu) in results.items():
                clip_s[mode].append(sum(seconds))
                frame_s[mode].append(steady)
                frame_cpu[mode].append(steady_cpu)
                print(f'  {name} round {r + 1} {mode}: {sum(seconds):.1f} s '
                      f'({", ".join(f"{v:.1f}" for v in seconds)}), CPU s '
                      f'{", ".join(f"{v:.1f}" for v in cpu)}', flush=True)
        computed = {mode: (p.runner.cache.computed if p.runner.cache is not None
                           else num_frames * p.num_frames) for mode, p in modes.items()}
        reused = modes.get('reused')
        if reused is not None:
            print(f'  {name}: features held at the end of the clip: '
                  f'{reused.runner.cache.bytes / 2 ** 20:.0f} MiB', flush=True)
    diff = ''
    if len(outputs) == 2:
        levels = np.abs(np.stack(outputs['per window']).astype(int)
                        - np.stack(outputs['reused']))
        diff = f'{levels.max()} ({(levels > 0).mean():.1e} of values)'
    rows = [(name, mode, num_frames / statistics.median(clip_s[mode]),
             1 / statistics.median(frame_s[mode]), statistics.median(frame_cpu[mode]),
             computed[mode]) for mode in modes]
    return rows, diff, np.stack(outputs[list(modes)[-1]])


class VideoProfile:
    """Per-stage seconds of the steady windows (profile_stages.StageTimer on the net)."""

    def __init__(self):
        sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
        import profile_stages
        self.module = profile_stages
        self.timer = None

    def attach(self, net):
        self.timer = self.module.StageTimer(net)


def print_profile(profile, windows, extracted):
    """Median per-window stage seconds over ``windows`` [(stage seconds, total)] without
    feature extraction, plus ``extracted``: {stage: seconds of one frame's extraction}."""
    rest = 'the rest (data movement, element-wise, predictor I/O)'
    names = [name for name, _ in profile.module.STAGES]
    rows = [(name, extracted[name] if name in extracted else
             statistics.median(s.get(name, 0.0) for s, _ in windows)) for name in names]
    window = statistics.median(t for _, t in windows)
    rows.append((rest, window - sum(s for name, s in rows if name not in extracted)))
    total = sum(s for _, s in rows)
    print(f'\nOne steady video frame: {total:.3f} s (median of {len(windows)} windows after '
          f'the first, without feature extraction, plus one frame\'s extraction)')
    print('| stage | s per frame | share |\n|---|---|---|')
    for name, seconds in rows:
        if seconds:
            print(f'| {name} | {seconds:.3f} | {seconds / total:.1%} |')
    print(f'| total | {total:.3f} | 100% |', flush=True)


def profile_clip(args, size):
    """Run the reused mode alone with every stage timed."""
    import numpy as np
    profile = VideoProfile()
    if args.cpu_time:
        profile.module.CLOCK['now'] = time.process_time
    name, config = NETS[args.nets[0]]
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, size + (3,), dtype=np.uint8) for _ in range(args.frames[0])]
    with tempfile.TemporaryDirectory() as folder:
        predictor = predictors(config, args.threads, folder, ['reused'])['reused']
        predictor.restore(np.zeros((1, predictor.num_frames, 3, 16, 16), np.float32))
        profile.attach(predictor.runner.net)
        windows, extracted, extracted_frames = [], {}, 0
        cache = predictor.runner.cache
        for r in range(args.rounds):
            cache.clear()
            stream = predictor.run_sequence(frames)
            for i in range(len(frames)):
                profile.timer.reset()
                computed = cache.computed
                start = profile.module.now()
                next(stream)
                seconds, total = dict(profile.timer.seconds), profile.module.now() - start
                extracted_frames += cache.computed - computed
                for stage in EXTRACT_STAGES:   # one frame's share, over the whole clip
                    extracted[stage] = extracted.get(stage, 0.0) + seconds.get(stage, 0.0)
                    total -= seconds.pop(stage, 0.0)
                if i:
                    windows.append((seconds, total))
        for stage in EXTRACT_STAGES:
            extracted[stage] /= extracted_frames
    print(f'{name}, LR {size[0]}x{size[1]}, {args.threads} threads, '
          f'{"process CPU" if args.cpu_time else "wall"} seconds, load average '
          f'{os.getloadavg()[0]:.1f}')
    print_profile(profile, windows, extracted)


def child(args, size):
    """One side of --before: time the modes and write a JSON line to args.json_out."""
    import numpy as np
    load = os.getloadavg()[0]
    rows, _, out = bench(args.nets[0], size, args.frames[0], 1, args.threads, args.modes)
    np.save(args.json_out + '.npy', out)
    with open(args.json_out, 'w') as f:
        json.dump({'rows': rows, 'load': [load, os.getloadavg()[0]]}, f)


def compare(args, size):
    """Interleaved processes of this tree and ``--before``'s; prints the table."""
    import numpy as np
    sides = {'before': os.path.abspath(args.before), 'now': ROOT}
    results = {side: [] for side in sides}
    outputs = {}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(sides)[::-1]
            for side in order:
                out = os.path.join(folder, f'{side}.json')
                cmd = [sys.executable, os.path.abspath(__file__), '--root', sides[side],
                       '--nets', args.nets[0], '--frames', str(args.frames[0]),
                       '--threads', str(args.threads), '--modes', *args.modes,
                       '--json-out', out]
                subprocess.run(cmd, check=True)
                with open(out) as f:
                    results[side].append(json.load(f))
                outputs[side] = np.load(out + '.npy')
                row = results[side][-1]
                print(f'round {r + 1} {side}: ' + '; '.join(
                    f'{m}: {steady:.3f} frames/s steady, {cpu:.2f} CPU s/frame'
                    for _, m, _, steady, cpu, _ in row['rows'])
                    + f' (load {row["load"][0]:.1f} -> {row["load"][1]:.1f})', flush=True)
    levels = np.abs(outputs['before'].astype(int) - outputs['now']).max()
    print(f'\n{NETS[args.nets[0]][0]}, LR {size[0]}x{size[1]}, {args.threads} threads, '
          f'{args.frames[0]} frames, {args.rounds} process(es) per side in turns; medians; '
          f'output diff now vs before: {levels} uint8 levels')
    print('| mode | before frames/s (steady) | now frames/s (steady) | before CPU s/frame | '
          'now CPU s/frame | now vs before (CPU) | load average |\n|---|---|---|---|---|---|---|')
    for i, mode in enumerate(args.modes):
        fps = {s: statistics.median(res['rows'][i][3] for res in results[s]) for s in sides}
        cpu = {s: statistics.median(res['rows'][i][4] for res in results[s]) for s in sides}
        loads = [v for s in sides for res in results[s] for v in res['load']]
        print(f'| {mode} | {fps["before"]:.3f} | {fps["now"]:.3f} | {cpu["before"]:.2f} | '
              f'{cpu["now"]:.2f} | {cpu["before"] / cpu["now"]:.2f}x | '
              f'{min(loads):.1f}-{max(loads):.1f} |', flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--nets', nargs='+', default=['m', 'l'], choices=sorted(NETS))
    parser.add_argument('--size', default='180,320', help='LR height,width (default: 720p out)')
    parser.add_argument('--frames', type=int, nargs='+', default=[8, 5],
                        help='clip length per network (one value for all)')
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--modes', nargs='+', default=list(MODES), choices=MODES)
    parser.add_argument('--before', help='another source tree to compare with, in turns')
    parser.add_argument('--profile', action='store_true',
                        help='time each stage of a video frame (reused features)')
    parser.add_argument('--cpu-time', action='store_true',
                        help='--profile in process CPU seconds')
    parser.add_argument('--root', default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument('--json-out', help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, args.root)
    import edvr  # noqa: F401  (from --root, before profile_stages puts this tree first)
    size = tuple(int(v) for v in args.size.split(','))
    if args.json_out:
        return child(args, size)
    if args.before:
        return compare(args, size)
    if args.profile:
        return profile_clip(args, size)
    lengths = args.frames * len(args.nets) if len(args.frames) == 1 else args.frames
    table = []
    for key, num_frames in zip(args.nets, lengths):
        rows, diff, _ = bench(key, size, num_frames, args.rounds, args.threads, args.modes)
        table.extend(row + (diff,) for row in rows)
    print(f'\nLR {size[0]}x{size[1]}, {args.threads} threads, {args.rounds} round(s), '
          f'modes in turns window by window, load average {os.getloadavg()[0]:.1f}')
    print('| network | features | frames/s, clip | frames/s, steady | CPU s per steady frame | '
          'frames extracted | output diff to per window (levels) |')
    print('|---|---|---|---|---|---|---|')
    base = {}
    for name, mode, clip, steady, cpu, computed, diff in table:
        first = name not in base
        base.setdefault(name, (clip, steady))
        ratio = '' if first else f' ({clip / base[name][0]:.2f}x)'
        ratio_steady = '' if first else f' ({steady / base[name][1]:.2f}x)'
        print(f'| {name} | {mode} | {clip:.3f}{ratio} | {steady:.3f}{ratio_steady} | '
              f'{cpu:.2f} | {computed} | {"" if first else diff} |')


if __name__ == '__main__':
    main()
