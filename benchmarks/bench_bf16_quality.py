# SPDX-License-Identifier: Apache-2.0
"""The bfloat16 inference mode against float32: per-clip PSNR (Y) and the speed of one window.

Quality: stand-in Vid4 clips (no download exists here): a camera panning and zooming over
real photographs bundled with scikit-image that no demo training clip uses, rendered as the
demo renders its clips (`edvr.prepare.demo.render_clip`) into ``ROOT/GT/<clip>/``, and their
BIx4 LQ written by `edvr.prepare.testsets.prepare_testset` (what ``prepare vid4`` does).
Each clip is restored whole (`Predictor.run_sequence`) with ``precision='fp32'`` and
``'bf16'``; PSNR on the Y channel (BT.601, no border cropped, the Vid4 protocol of BasicSR's
EDVR), averaged over each clip's frames, and the bicubic upscale's for scale.

Speed: one window of 5 frames (the clip's first LQ frames, bicubic-resized to ``--window``)
restored whole (no feature reuse) by both predictors in turns, the order alternating every
round; process CPU seconds with one math thread (each side's own work on a shared machine).

Stages (``--stages``): where the difference comes from, the per-stage CPU seconds of
profile_stages.py's EDVR-M (its network, random weights and stages) at LR ``--window``, one
math thread, float32 and bfloat16 passes in turns, the best of ``--passes`` passes of each.

    python benchmarks/bench_bf16_quality.py -c configs/edvr_demo.yaml --load W.pdparams \\
        -o model.generator.nf=64 model.generator.front_RBs=5 model.generator.back_RBs=10
    python benchmarks/bench_bf16_quality.py --stages --skip-quality --skip-speed
"""
import argparse
import glob
import os
import statistics
import sys
import time

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# photo -> clip name; none of them is used by the demo's training clips
CLIPS = {'chelsea': 'cat', 'camera': 'camera', 'brick': 'brick', 'moon': 'moon'}


def make_clips(root, frames, gt_size, seed=0):
    """Render the stand-in clips' GT under ``root/GT`` and their BIx4 LQ (once)."""
    from edvr.datasets.image_io import write_image
    from edvr.prepare.demo import load_photo, render_clip
    from edvr.prepare.testsets import prepare_testset
    for i, (photo, clip) in enumerate(CLIPS.items()):
        folder = os.path.join(root, 'GT', clip)
        if len(glob.glob(os.path.join(folder, '*.png'))) == frames:
            continue
        os.makedirs(folder, exist_ok=True)
        rng = np.random.default_rng([seed, i])
        for k, frame in enumerate(render_clip(load_photo(photo), frames, gt_size, rng)):
            write_image(os.path.join(folder, f'{k:08d}.png'), frame)
    prepare_testset(root, 'Vid4 stand-in', degradations=('BI',))


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def quality(predictors, root):
    """{clip: {'bicubic'|precision: PSNR Y, 'diff': (max, RMS) |bf16 - fp32| grey levels}}."""
    from edvr.metrics import psnr
    table = {}
    for clip in sorted(os.listdir(os.path.join(root, 'GT'))):
        names = sorted(os.listdir(os.path.join(root, 'GT', clip)))
        gt = [read_rgb(os.path.join(root, 'GT', clip, n)) for n in names]
        lq = [read_rgb(os.path.join(root, 'BIx4', clip, n)) for n in names]
        row = {'frames': len(names)}
        h, w = gt[0].shape[:2]
        row['bicubic'] = np.mean([psnr(cv2.resize(x, (w, h), interpolation=cv2.INTER_CUBIC), g,
                                       test_y_channel=True) for x, g in zip(lq, gt)])
        outs = {}
        for name, predictor in predictors.items():
            outs[name] = list(predictor.run_sequence(lq))
            row[name] = np.mean([psnr(o, g, test_y_channel=True) for o, g in zip(outs[name], gt)])
        d = np.abs(np.stack(outs['bf16']).astype(np.float64) - np.stack(outs['fp32']))
        row['diff'] = (d.max(), np.sqrt((d ** 2).mean()))
        table[clip] = row
        print(f'| {clip} | {len(names)} | {row["bicubic"]:.3f} | {row["fp32"]:.4f} | '
              f'{row["bf16"]:.4f} | {row["bf16"] - row["fp32"]:+.4f} | {row["diff"][0]:.0f} / '
              f'{row["diff"][1]:.3f} |', flush=True)
    return table


def speed(predictors, window, rounds):
    """Median process CPU seconds of each predictor on ``window``, interleaved."""
    times = {name: [] for name in predictors}
    ratios = []
    names = list(predictors)
    for name in names:   # warm up
        predictors[name].restore(window)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        seconds = {}
        for name in order:
            start = time.process_time()
            predictors[name].restore(window)
            seconds[name] = time.process_time() - start
            times[name].append(seconds[name])
        ratios.append(seconds['fp32'] / seconds['bf16'])
        print(f'round {r + 1}: fp32 {seconds["fp32"]:.3f} s, bf16 {seconds["bf16"]:.3f} s, '
              f'{ratios[-1]:.2f}x (load average {os.getloadavg()[0]:.1f})', flush=True)
    return {n: statistics.median(t) for n, t in times.items()}, statistics.median(ratios)


def stages(window, passes):
    """Print the per-stage table: {precision: {stage: best CPU seconds}} of EDVR-M at LR
    ``window`` (h, w), one math thread, the precisions' passes in turns."""
    sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
    import paddle
    import profile_stages as ps
    from edvr.models.edvr_net import EDVRNet
    from edvr.ops import bf16
    from edvr.utils.device import set_cpu_threads, tune_cpu_runtime
    tune_cpu_runtime()
    set_cpu_threads(1)
    ps.CLOCK['now'] = time.process_time
    lq = paddle.to_tensor(np.random.RandomState(1).rand(1, 5, 3, *window).astype('float32'))
    nets, best = {}, {}
    for precision in ('fp32', 'bf16'):
        paddle.seed(0)
        net = EDVRNet(**ps.CASES['infer_m']['net'])
        ps._randomize(net)
        net.eval()
        bf16.set_precision(net, precision)   # before the timer wraps the layers' methods
        nets[precision] = (net, ps.StageTimer(net))
    with paddle.no_grad():
        for precision in nets:   # warm up
            nets[precision][0](lq).numpy()
        for r in range(passes):
            for precision in (('fp32', 'bf16') if r % 2 == 0 else ('bf16', 'fp32')):
                net, timer = nets[precision]
                timer.reset()
                start = time.process_time()
                net(lq).numpy()
                total = time.process_time() - start
                row = dict(timer.seconds, total=total)
                row[ps.REST] = total - sum(timer.seconds.values())
                best[precision] = {k: min(v, best.get(precision, {}).get(k, v))
                                   for k, v in row.items()}
    print(f'\nEDVR-M, 5 frames at LR {window[0]}x{window[1]}, random weights, 1 math thread, '
          f'process CPU seconds, best of {passes} passes in turns\n'
          '| stage | fp32 s | bf16 s | speed-up |\n|---|---|---|---|')
    for name in [n for n, _ in ps.STAGES] + [ps.REST, 'total']:
        a, b = best['fp32'].get(name, 0.0), best['bf16'].get(name, 0.0)
        if a or b:
            print(f'| {name} | {a:.3f} | {b:.3f} | {a / b if b > 0 else float("nan"):.2f}x |')
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-c', '--config', help='needed by the quality and speed parts')
    parser.add_argument('--load', help='the generator weights (.pdparams); as --config')
    parser.add_argument('-o', '--opt', nargs='*', default=[], help='config overrides')
    parser.add_argument('--root', default=os.path.join(ROOT, 'data', 'vid4_standin'))
    parser.add_argument('--frames', type=int, default=16, help='frames per clip')
    parser.add_argument('--gt-size', default='288x384', help='GT frame size HxW')
    parser.add_argument('--window', default='180x320', help='LR size of the timed window')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--skip-quality', action='store_true')
    parser.add_argument('--skip-speed', action='store_true')
    parser.add_argument('--stages', action='store_true', help='also the per-stage table')
    parser.add_argument('--passes', type=int, default=2, help='passes per precision (--stages)')
    args = parser.parse_args()
    if not (args.skip_quality and args.skip_speed) and not (args.config and args.load):
        parser.error('-c/--config and --load are needed unless --skip-quality --skip-speed')
    from edvr.deploy.predictor import Predictor
    gt_size = tuple(int(v) for v in args.gt_size.split('x'))
    print(f'load average {os.getloadavg()[0]:.1f} before', flush=True)
    if not (args.skip_quality and args.skip_speed):
        make_clips(args.root, args.frames, gt_size)
    if not args.skip_quality:
        predictors = {p: Predictor.from_config(args.config, args.load, args.opt, num_threads=1,
                                               precision=p) for p in ('fp32', 'bf16')}
        assert predictors['bf16'].precision == 'bf16', 'bf16 did not run'
        print('\n| clip | frames | bicubic | fp32 | bf16 | bf16 - fp32 dB | '
              '|bf16 - fp32| max / RMS (grey levels) |\n|---|---|---|---|---|---|---|')
        quality(predictors, args.root)
    if not args.skip_speed:
        predictors = {p: Predictor.from_config(args.config, args.load, args.opt, num_threads=1,
                                               precision=p, feature_cache_mib=0)
                      for p in ('fp32', 'bf16')}
        h, w = (int(v) for v in args.window.split('x'))
        clip = sorted(os.listdir(os.path.join(args.root, 'BIx4')))[0]
        names = sorted(os.listdir(os.path.join(args.root, 'BIx4', clip)))[:5]
        frames = [cv2.resize(read_rgb(os.path.join(args.root, 'BIx4', clip, n)), (w, h),
                             interpolation=cv2.INTER_CUBIC) for n in names]
        window = (np.stack(frames).astype(np.float32) / 255.).transpose(0, 3, 1, 2)[None]
        print(f'\none window 5x{h}x{w}, 1 math thread, process CPU seconds, '
              f'{args.rounds} rounds in turns')
        medians, ratio = speed(predictors, np.ascontiguousarray(window), args.rounds)
        print(f'median: fp32 {medians["fp32"]:.3f} s, bf16 {medians["bf16"]:.3f} s; '
              f'{medians["fp32"] / medians["bf16"]:.2f}x (median of the rounds\' ratios '
              f'{ratio:.2f}x)')
    if args.stages:
        stages(tuple(int(v) for v in args.window.split('x')), args.passes)
    print(f'load average {os.getloadavg()[0]:.1f} after')


if __name__ == '__main__':
    main()
