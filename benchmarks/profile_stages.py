# SPDX-License-Identifier: Apache-2.0
"""Where EDVR's time goes: each stage of the library's own network, timed in place.

The network is `EDVRNet` with its C++ kernels, run with the settings the Predictor and the
Trainer apply (math threads, `tune_cpu_runtime`); random weights as in bench_model.py (DCN
offsets of about a pixel). Each stage's layers are timed by wrapping their ``forward`` (and
``forward_concat``): Paddle is eager and synchronous on the CPU, so the wall time of the
call is the stage's time. "the rest" is the whole pass minus the timed stages: the data
movement and element-wise work between them (concatenations, slices, pixel shuffles,
upsamplings, activations outside the kernels, the output's bilinear base).

A training step's forward is timed in the step itself; its backward is timed by replaying
each stage alone on the inputs it saw (forward + backward, minus the forward), with an
output gradient of ones; the Adam step is timed in the step; "the rest" is the step minus
all of these.

Nominal GFLOP counts every convolution as ``2 * c_in * c_out * k * k * ho * wo`` (DCN: plus
``8 * c_in * k * k * ho * wo`` for the bilinear sampling; the concatenated input of the
offset convs counts whole, although the reference frame's half runs once per clip), a
backward pass twice its forward. GFLOP/s above the float32 peak means the kernels do fewer
multiplications than the nominal count (Winograd, the shared reference half).

    python benchmarks/profile_stages.py                        # all cases (~4 min on 2 cores)
    python benchmarks/profile_stages.py --only infer_m --repeats 3
    python benchmarks/profile_stages.py --threads 1 --cpu-time   # robust on a shared machine
    python benchmarks/profile_stages.py --peak-fp32 234 --peak-bf16 430   # other peaks
"""
import argparse
import os
import statistics
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
warnings.filterwarnings('ignore', message='No ccache found')

from bench_model import EDVR_L, EDVR_M, _randomize  # noqa: E402  (same networks, same weights)

CASES = {
    'infer_m': dict(net=EDVR_M, mode='infer', batch=1, size=(180, 320),
                    title='EDVR-M inference, 5 frames of LR 180x320'),
    'infer_l': dict(net=EDVR_L, mode='infer', batch=1, size=(180, 320),
                    title='EDVR-L inference, 5 frames of LR 180x320'),
    'train_m': dict(net=EDVR_M, mode='train', batch=2, size=(64, 64),
                    title='EDVR-M training step, batch 2, 5 frames of LR 64x64'),
}
# Per-core peaks of this machine (bench_bf16_conv.py: _mm512_fmadd_ps and _mm512_dpbf16_ps on
# 16 register accumulators, GFLOP per CPU second of one thread, so other jobs do not count).
PEAK_FP32_PER_CORE, PEAK_BF16_PER_CORE = 117.0, 215.0

# (stage, layer paths it covers): a layer belongs to the first stage one of whose
# patterns its path starts with ('*' matches any PCD level prefix).
STAGES = [
    ('feature extraction (first conv, front blocks)', ('conv_first', 'feature_extractor',
                                                       'pre_deblur', 'cov_1')),
    ('feature pyramid L2, L3 (stride-2 + 3x3)', ('fea_L',)),
    ('PCD offset convs', ('PCDModule.*offset_conv',)),
    ('PCD offset/mask convs of the DCNs', ('PCDModule.*conv_offset_mask',)),
    ('deformable convs', ('PCDModule.*dcn.dcn',)),
    ('PCD feature merge convs', ('PCDModule.*fea_conv',)),
    ('TSA fusion (or its 1x1 conv)', ('TSAModule',)),
    ('reconstruction blocks', ('reconstructor',)),
    ('tail: upconv1 (LR)', ('upconv1',)),
    ('tail: upconv2 (2x)', ('upconv2',)),
    ('tail: HRconv, conv_last (4x)', ('HRconv', 'conv_last')),
]
REST = 'the rest (data movement, element-wise)'
# Wall seconds, or (--cpu-time) this process's CPU seconds: with one math thread, each
# stage's own cost whatever else the machine runs.
CLOCK = {'now': time.perf_counter}


def now():
    return CLOCK['now']()


def stage_of(path):
    """The stage name of a layer path, or None."""
    for name, patterns in STAGES:
        for pattern in patterns:
            head, _, tail = pattern.partition('*')
            if path.startswith(head) and (not tail or tail in path[len(head):]):
                return name
    return None


class StageTimer:
    """Times each stage's layers and counts their nominal FLOPs.

    The timed units are the outermost layers that belong to a stage; FLOPs are counted
    on every convolution inside them. ``record`` keeps each unit's inputs of the next
    pass, to replay it alone (training backward).
    """

    def __init__(self, net):
        from edvr.ops import Conv2D, ModulatedDeformConv2D
        self.seconds, self.flops, self.calls = {}, {}, []
        self.record = False
        units = {}
        for path, layer in net.named_sublayers():
            stage = stage_of(path)
            if stage is None:
                continue
            if not any(path.startswith(p + '.') for p in units):
                units[path] = layer
                self._wrap(layer, stage, timed=True)
            if isinstance(layer, (Conv2D, ModulatedDeformConv2D)):
                self._wrap(layer, stage, timed=False,
                           dcn=isinstance(layer, ModulatedDeformConv2D))

    def _wrap(self, layer, stage, timed, dcn=False):
        busy = [False]    # one per layer: forward_concat calls forward, counted once, outside
        for method in ('forward', 'forward_concat', 'forward_pair', 'forward_shuffled',
                       'forward_split_sigmoid', 'forward_residual'):
            inner = getattr(layer, method, None)
            if inner is None:
                continue
            if timed:
                setattr(layer, method, self._timed(layer, method, inner, stage, busy))
            else:
                setattr(layer, method, self._counted(layer, method, inner, stage, dcn, busy))

    def _timed(self, layer, method, inner, stage, busy):
        def call(*args):
            if busy[0]:
                return inner(*args)
            busy[0] = True
            try:
                if self.record:
                    self.calls.append((stage, getattr(layer, method), _detached(args)))
                start = now()
                out = inner(*args)
                self.seconds[stage] = self.seconds.get(stage, 0.0) + now() - start
                return out
            finally:
                busy[0] = False
        return call

    def _counted(self, layer, method, inner, stage, dcn, busy):
        def call(*args):
            if busy[0]:
                return inner(*args)
            busy[0] = True
            try:
                out = inner(*args)
            finally:
                busy[0] = False
            c_in = args[0].shape[1] + (args[1].shape[1] if method in ('forward_concat',
                                                                      'forward_pair') else 0)
            c_out, _, kh, kw = layer.weight.shape
            shape = (out[0] if isinstance(out, (tuple, list)) else out).shape
            positions = shape[0] * shape[2] * shape[3]
            if method == 'forward_shuffled':     # out is pixel-shuffled: 4x the positions
                positions //= 4
            flops = 2 * c_in * c_out * kh * kw * positions
            if dcn:
                flops += 8 * c_in * kh * kw * positions
            self.flops[stage] = self.flops.get(stage, 0) + flops
            return out
        return call

    def reset(self):
        self.seconds, self.flops, self.calls = {}, {}, []


def _detached(args):
    """Each tensor argument detached, keeping whether it takes a gradient."""
    import paddle
    out = []
    for a in args:
        if isinstance(a, paddle.Tensor):
            d = a.detach()
            d.stop_gradient = a.stop_gradient
            a = d
        out.append(a)
    return out


def replay_backward(calls, repeats):
    """Backward seconds per stage: each recorded call run alone, forward + backward
    with an output gradient of ones, minus the forward alone (with gradients on, which
    picks the same kernels as forward + backward; medians)."""
    import paddle
    seconds = {}
    for stage, fn, args in calls:
        def forward():
            fn(*args)

        def both():
            out = fn(*args)    # a tensor, or a tuple (a DCN's offsets and mask)
            outs = list(out) if isinstance(out, (tuple, list)) else [out]
            paddle.autograd.backward(outs, [paddle.ones_like(o) for o in outs])
        forward(), both()          # warm
        fwd = statistics.median(_time(forward) for _ in range(repeats))
        fb = statistics.median(_time(both) for _ in range(repeats))
        seconds[stage] = seconds.get(stage, 0.0) + max(fb - fwd, 0.0)
    return seconds


def _time(fn):
    start = now()
    fn()
    return now() - start


def profile(case, repeats, threads):
    """Per-stage seconds (median over ``repeats`` passes) and nominal GFLOP of one case.

    Returns:
        dict(rows=[(stage, seconds, gflop)], total=seconds, load=(before, after)).
    """
    import numpy as np
    import paddle
    from edvr.models.edvr_net import EDVRNet
    from edvr.models.losses import CharbonnierLoss
    cfg = CASES[case]
    load_before = os.getloadavg()[0]
    paddle.seed(0)
    net = EDVRNet(**cfg['net'])
    _randomize(net)
    timer = StageTimer(net)
    h, w = cfg['size']
    rng = np.random.RandomState(1)
    lq = paddle.to_tensor(rng.rand(cfg['batch'], 5, 3, h, w).astype('float32'))
    runs, flops = [], None
    if cfg['mode'] == 'infer':
        net.eval()
        for r in range(repeats + 1):      # the first pass warms up
            timer.reset()
            with paddle.no_grad():
                start = now()
                net(lq).numpy()
                total = now() - start
            if r:
                runs.append((dict(timer.seconds), total))
        flops = dict(timer.flops)
        rows = _rows(runs, flops)
    else:
        net.train()
        gt = paddle.to_tensor(rng.rand(cfg['batch'], 3, 4 * h, 4 * w).astype('float32'))
        loss_fn = CharbonnierLoss()
        optim = paddle.optimizer.Adam(learning_rate=1e-4, beta1=0.9, beta2=0.99,
                                      parameters=net.parameters())
        adam = []
        for r in range(repeats + 1):
            timer.reset()
            timer.record = r == repeats    # keep the inputs of the last step for the replay
            start = now()
            loss_fn(net(lq), gt).backward()
            mid = now()
            optim.step()
            optim.clear_grad()
            end = now()
            if r:
                runs.append((dict(timer.seconds), end - start))
                adam.append(end - mid)
        timer.record = False
        flops = dict(timer.flops)
        calls = timer.calls
        backward = replay_backward(calls, repeats)
        net.clear_gradients()
        rows = _rows(runs, flops, backward, statistics.median(adam))
    return dict(rows=rows, total=statistics.median(t for _, t in runs),
                load=(load_before, os.getloadavg()[0]))


def _rows(runs, flops, backward=None, adam=None):
    """[(stage, seconds, gflop)] in stage order, then the rest; medians over runs."""
    rows = []
    for name, _ in STAGES:
        if name not in flops and not any(name in s for s, _ in runs):
            continue
        fwd = statistics.median(s.get(name, 0.0) for s, _ in runs)
        gflop = flops.get(name, 0) / 1e9
        if backward is None:
            rows.append((name, fwd, gflop))
        else:
            rows.append((name + ', forward', fwd, gflop))
            rows.append((name + ', backward (replayed)', backward.get(name, 0.0), 2 * gflop))
    if adam is not None:
        rows.append(('Adam step', adam, 0.0))
    total = statistics.median(t for _, t in runs)
    rows.append((REST, total - sum(r[1] for r in rows), 0.0))
    return rows


def print_table(case, result, peak_fp32, peak_bf16):
    total = result['total']
    gflop_total = sum(r[2] for r in result['rows'])
    print(f'\n{CASES[case]["title"]}: {total:.2f} s, {gflop_total:.1f} nominal GFLOP, '
          f'{gflop_total / total:.0f} GFLOP/s (load average {result["load"][0]:.1f} before, '
          f'{result["load"][1]:.1f} after)')
    print(f'| stage | s | share | GFLOP | GFLOP/s | of fp32 peak ({peak_fp32:.0f}) '
          f'| of bf16 peak ({peak_bf16:.0f}) |\n|---|---|---|---|---|---|---|')
    for name, seconds, gflop in result['rows']:
        rate = gflop / seconds if gflop and seconds > 0 else None
        cells = (f'{rate:.0f} | {rate / peak_fp32:.0%} | {rate / peak_bf16:.0%}'
                 if rate else ' | | ')
        print(f'| {name} | {seconds:.3f} | {seconds / total:.1%} | '
              f'{gflop:.1f} | {cells} |' if gflop else
              f'| {name} | {seconds:.3f} | {seconds / total:.1%} | | | | |')
    print(f'| total | {total:.3f} | 100% | {gflop_total:.1f} | {gflop_total / total:.0f} | '
          f'{gflop_total / total / peak_fp32:.0%} | {gflop_total / total / peak_bf16:.0%} |',
          flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--only', nargs='*', choices=list(CASES), help='cases to run')
    parser.add_argument('--repeats', type=int, default=3, help='timed passes (median)')
    parser.add_argument('--threads', type=int, default=2, help='math threads')
    parser.add_argument('--cpu-time', action='store_true',
                        help='time in process CPU seconds (with --threads 1: robust on a '
                             'shared machine)')
    parser.add_argument('--peak-fp32', type=float, help='GFLOP/s; default '
                        f'{PEAK_FP32_PER_CORE:.0f} per thread')
    parser.add_argument('--peak-bf16', type=float, help='GFLOP/s; default '
                        f'{PEAK_BF16_PER_CORE:.0f} per thread')
    args = parser.parse_args()
    if args.cpu_time:
        CLOCK['now'] = time.process_time
    from edvr.utils.device import set_cpu_threads, tune_cpu_runtime
    tuning = tune_cpu_runtime()       # what the Predictor and the Trainer apply first
    threads = set_cpu_threads(args.threads)
    import paddle
    from edvr.ops.cpu_ops import cpu_ops_status, load_cpu_ops
    load_cpu_ops()
    print(f'paddle {paddle.__version__}, {threads} math threads, CPU tuning {tuning}, '
          f'C++ kernels loaded: {cpu_ops_status()["loaded"]}; seconds are '
          f'{"process CPU" if args.cpu_time else "wall"} seconds', flush=True)
    peak_fp32 = args.peak_fp32 or PEAK_FP32_PER_CORE * threads
    peak_bf16 = args.peak_bf16 or PEAK_BF16_PER_CORE * threads
    for case in args.only or list(CASES):
        print_table(case, profile(case, args.repeats, threads), peak_fp32, peak_bf16)


if __name__ == '__main__':
    main()
