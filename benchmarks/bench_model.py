# SPDX-License-Identifier: Apache-2.0
"""EDVR speed and memory: this project's network against the straightforward one.

The baseline is `tests/models/reference_edvr.py` (Paddle's Conv2D and
DeformConv2D, one PCD call per neighbour frame, temporal correlation in a Python
loop); it gets the same weights (same state_dict) and the same math-thread count.
Each configuration runs in its own child process, baseline and ours interleaved,
and prints: median seconds of each, the ratio, the largest absolute difference of
the outputs (and, for training, of the parameter gradients, also relative to the
largest gradient), GFLOP/s of ours (convolution FLOPs counted analytically:
2*c_in*c_out*k*k*ho*wo per conv, the same per DCN plus 8*c_in*k*k*ho*wo for the
bilinear sampling; a training step counts 3x the forward), frames/s for
inference, and the peak resident memory (VmHWM) of a one-pass child per network.

    python benchmarks/bench_model.py                       # everything (~30-60 min on 2 cores)
    python benchmarks/bench_model.py --only train_m_b2 infer_m_92x160 --repeats 3
    python benchmarks/bench_model.py --only infer_m_92x160 --onnx  # also ours through ONNX
    python benchmarks/bench_model.py --baseline-defaults   # also the baseline untuned, alone
    python benchmarks/bench_model.py --memory-only
    python benchmarks/bench_model.py --levers --repeats 2  # each lever alone (ours only)
    python benchmarks/bench_model.py --list

Environment levers can be compared by running twice, e.g. with EDVR_CPU_TUNING=0
(Paddle's default allocator and MKL code path) or EDVR_DCN_KERNEL=sampling.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
warnings.filterwarnings('ignore', message='No ccache found')

EDVR_M = dict(nf=64, groups=8, front_RBs=5, back_RBs=10, w_TSA=False)
EDVR_L = dict(nf=128, groups=8, front_RBs=5, back_RBs=40, w_TSA=True)
CONFIGS = {
    'train_m_b2': dict(net=EDVR_M, mode='train', batch=2, size=(64, 64)),
    'train_m_b4': dict(net=EDVR_M, mode='train', batch=4, size=(64, 64)),
    'infer_m_92x160': dict(net=EDVR_M, mode='infer', batch=1, size=(92, 160)),
    'infer_m_180x320': dict(net=EDVR_M, mode='infer', batch=1, size=(180, 320)),
    'infer_l_92x160': dict(net=EDVR_L, mode='infer', batch=1, size=(92, 160)),
    'infer_l_180x320': dict(net=EDVR_L, mode='infer', batch=1, size=(180, 320)),
}
# Peak memory of ours, whole frame and tiled (tile 64 LR pixels, overlap 8).
MEMORY = {f'mem_{net}_{h}x{w}_{"tiled" if tiled else "whole"}':
          dict(net=args, size=(h, w), tiled=tiled)
          for net, args in (('m', EDVR_M), ('l', EDVR_L))
          for h, w in ((180, 320), (270, 480)) for tiled in (False, True)}
TILE, OVERLAP = 64, 8


def peak_rss_mib():
    """This process's resident-memory high-water mark (VmHWM) in MiB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- child side

def _setup(threads):
    from edvr.utils.device import set_cpu_threads, tune_cpu_runtime
    set_cpu_threads(threads)
    return tune_cpu_runtime()


def _randomize(net, seed=0):
    """He-normal weights (x0.5), small biases, and DCN offsets of about +-1.5 pixels.

    Offsets are set mostly by the bias of ``conv_offset_mask`` so that sample
    positions are spread over the pixel grid: at offsets within ~1e-9 of a whole
    pixel the bilinear gradient jumps, and rounding-level differences would pick
    the other side (see "Gradients at full size" in docs/speed.md)."""
    import numpy as np
    rng = np.random.RandomState(seed)
    for name, p in net.named_parameters():
        if len(p.shape) == 4:
            std = np.sqrt(2.0 / np.prod(p.shape[1:])) * (0.1 if 'conv_offset_mask' in name else 0.5)
            p.set_value((rng.randn(*p.shape) * std).astype('float32'))
        elif name.endswith('conv_offset_mask.bias'):
            offsets = p.shape[0] * 2 // 3
            value = rng.randn(p.shape[0]) * 0.5
            value[:offsets] = rng.randn(offsets) * 1.5
            p.set_value(value.astype('float32'))
        else:
            p.set_value((rng.randn(*p.shape) * 0.01).astype('float32'))


def _networks(args):
    import paddle
    from edvr.models.edvr_net import EDVRNet
    from tests.models.reference_edvr import ReferenceEDVR
    paddle.seed(0)
    ours = EDVRNet(**args)
    _randomize(ours)
    base = ReferenceEDVR(**args)
    base.set_state_dict(ours.state_dict())
    return base, ours


def count_flops(net, x):
    """Forward convolution FLOPs of ``net`` on ``x`` (one no-grad pass)."""
    import paddle
    from paddle.vision.ops import DeformConv2D
    from edvr.ops import ModulatedDeformConv2D
    total = [0]

    def conv_hook(layer, inputs, output):
        c_in = inputs[0].shape[1]
        c_out, _, kh, kw = layer.weight.shape
        positions = output.shape[0] * output.shape[2] * output.shape[3]
        total[0] += 2 * c_in * c_out * kh * kw * positions
        if isinstance(layer, (ModulatedDeformConv2D, DeformConv2D)):
            total[0] += 8 * c_in * kh * kw * positions
    hooks = [layer.register_forward_post_hook(conv_hook) for layer in net.sublayers()
             if isinstance(layer, (paddle.nn.Conv2D, ModulatedDeformConv2D, DeformConv2D))]
    with paddle.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return total[0]


def _max_diffs(a_list, b_list):
    import numpy as np
    abs_diff = max(float(np.abs(a - b).max()) for a, b in zip(a_list, b_list))
    rel = max(float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12))
              for a, b in zip(a_list, b_list))
    return abs_diff, rel


def run_timing(name, repeats, threads, impls=('base', 'ours')):
    import numpy as np
    import paddle
    from edvr.models.losses import CharbonnierLoss
    cfg = CONFIGS[name]
    tuning = _setup(threads)
    base, ours = _networks(cfg['net'])
    h, w = cfg['size']
    rng = np.random.RandomState(1)
    lq = paddle.to_tensor(rng.rand(cfg['batch'], 5, 3, h, w).astype('float32'))
    small = lq[..., :h // 2 // 4 * 4, :w // 2 // 4 * 4]
    result = dict(name=name, threads=threads, repeats=repeats, tuning=tuning)
    # the nominal EDVR FLOPs, counted on the baseline (ours skips some of them, e.g. the
    # reference frame's share of the PCD offset convs is computed once per sample)
    result['gflop'] = count_flops(base, lq) / 1e9 * (3 if cfg['mode'] == 'train' else 1)

    if cfg['mode'] == 'train':
        gt = paddle.to_tensor(rng.rand(cfg['batch'], 3, 4 * h, 4 * w).astype('float32'))
        loss_fn = CharbonnierLoss()
        outs, grads = [], []
        for net in (base, ours):       # equivalence: same weights, one forward and backward
            net.train()
            out = net(lq)
            loss_fn(out, gt).backward()
            outs.append(out.numpy())
            grads.append([p.grad.numpy() for p in net.parameters()])
            net.clear_gradients()
        result['out_diff'], result['out_rel'] = _max_diffs([outs[0]], [outs[1]])
        result['grad_diff'], result['grad_rel'] = _max_diffs(grads[0], grads[1])
        # How much the baseline's own gradients move when its input moves by ~1e-6
        # (relative): the scale at which rounding-level differences show at the kinks.
        nudged = lq * paddle.to_tensor((1 + 1e-6 * rng.randn(*lq.shape)).astype('float32'))
        loss_fn(base(nudged), gt).backward()
        nudged_grads = [p.grad.numpy() for p in base.parameters()]
        _, result['grad_self_rel'] = _max_diffs(grads[0], nudged_grads)
        base.clear_gradients()
        optims = {id(net): paddle.optimizer.Adam(learning_rate=1e-4, beta1=0.9, beta2=0.99,
                                                 parameters=net.parameters())
                  for net in (base, ours)}

        def step(net, x=lq, target=gt):
            loss = loss_fn(net(x), target)
            loss.backward()
            optims[id(net)].step()
            optims[id(net)].clear_grad()
        warm = {'base': lambda: step(base), 'ours': lambda: step(ours)}
        fns = warm
    else:
        outs = []
        with paddle.no_grad():
            for net in (base, ours):
                net.eval()
                outs.append(net(lq).numpy())
        result['out_diff'], result['out_rel'] = _max_diffs([outs[0]], [outs[1]])

        def infer(net, x=lq):
            with paddle.no_grad():
                net(x).numpy()
        warm = {'base': lambda: infer(base, small), 'ours': lambda: infer(ours, small)}
        fns = {'base': lambda: infer(base), 'ours': lambda: infer(ours)}
        session = _onnx_session(ours, threads) if os.environ.get('BENCH_ONNX') == '1' else None
        if session is not None:  # the exported network through onnxruntime, same threads
            from edvr.deploy.onnx_export import run_onnx
            frames = lq.numpy()
            diff, rel = _max_diffs([outs[0]], [run_onnx(session, frames)])
            result['onnx_out_diff'], result['onnx_out_rel'] = diff, rel
            warm['onnx'] = lambda: run_onnx(session, small.numpy())
            fns['onnx'] = lambda: run_onnx(session, frames)
    fns = {k: fn for k, fn in fns.items() if k in impls or k == 'onnx'}
    for key in fns:
        warm[key]()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    result['times'] = times
    for key in impls:
        result[f'{key}_s'] = float(np.median(times[key]))
    if 'onnx' in times:
        result['onnx_s'] = float(np.median(times['onnx']))
    return result


def _onnx_session(net, threads):
    """An onnxruntime session of ``net`` exported and converted, or None without paddle2onnx."""
    import tempfile
    try:
        from edvr.deploy.export import network_info, save_inference_model
        from edvr.deploy.onnx_export import export_onnx, onnx_session
        folder = tempfile.mkdtemp(prefix='bench_onnx_')
        save_inference_model(net, os.path.join(folder, 'net'), [[1, 5, 3, 64, 64]],
                             network_info(net))
        return onnx_session(export_onnx(os.path.join(folder, 'net')), num_threads=threads)
    except Exception as exc:  # noqa: BLE001  (the row is then left out, said once)
        print(f'ONNX row skipped: {exc}', file=sys.stderr)
        return None


def run_peak(name, impl, threads):
    """One pass of one network; returns its peak resident memory."""
    import numpy as np
    import paddle
    from edvr.models.losses import CharbonnierLoss
    cfg = CONFIGS[name]
    _setup(threads)
    base, ours = _networks(cfg['net'])
    net = base if impl == 'base' else ours
    del base, ours
    h, w = cfg['size']
    rng = np.random.RandomState(1)
    lq = paddle.to_tensor(rng.rand(cfg['batch'], 5, 3, h, w).astype('float32'))
    if cfg['mode'] == 'train':
        gt = paddle.to_tensor(rng.rand(cfg['batch'], 3, 4 * h, 4 * w).astype('float32'))
        optim = paddle.optimizer.Adam(learning_rate=1e-4, parameters=net.parameters())
        CharbonnierLoss()(net(lq), gt).backward()
        optim.step()
    else:
        net.eval()
        with paddle.no_grad():
            net(lq).numpy()
    return dict(name=name, impl=impl, peak_mib=peak_rss_mib())


def run_memory(name, threads):
    """Peak memory of ours restoring one window, whole or tiled (padded to a multiple of 4)."""
    import numpy as np
    import paddle
    from edvr.utils.padding import pad_to_multiple
    from edvr.deploy.tiling import restore_tiled
    from edvr.models.edvr_net import EDVRNet
    cfg = MEMORY[name]
    _setup(threads)
    paddle.seed(0)
    net = EDVRNet(**cfg['net'])
    _randomize(net)
    net.eval()
    h, w = cfg['size']
    lq = np.random.RandomState(1).rand(1, 5, 3, h, w).astype('float32')

    def restore(frames):
        padded, box = pad_to_multiple(frames, net.size_multiple, scale=4)
        with paddle.no_grad():
            return box.crop(net(paddle.to_tensor(np.ascontiguousarray(padded))).numpy())
    start = time.perf_counter()
    if cfg['tiled']:
        out = restore_tiled(restore, lq, TILE, OVERLAP, 4)
    else:
        out = restore(lq)
    seconds = time.perf_counter() - start
    assert out.shape == (1, 3, 4 * h, 4 * w)
    return dict(name=name, peak_mib=peak_rss_mib(), seconds=seconds)


LEVERS = {   # name: (dcn kernel, conv kernel, to_static)
    'all fast paths (default)': ('auto', 'auto', False),
    'conv: direct, no Winograd (DCN C++)': ('auto', 'direct', False),
    'conv: columns (DCN C++)': ('auto', 'columns', False),
    'conv: paddle (DCN C++)': ('auto', 'paddle', False),
    'DCN: sampling (conv C++)': ('sampling', 'auto', False),
    'DCN: paddle (conv C++)': ('paddle', 'auto', False),
    'paddle kernels (batching only)': ('paddle', 'paddle', False),
    'paddle.jit.to_static (paddle kernels)': ('paddle', 'paddle', True),
}


def run_levers(repeats, threads):
    """Ours only, EDVR-M: one training step (batch 2, LR 64x64) and one inference
    (LR 92x160) per kernel choice, interleaved; median seconds."""
    import numpy as np
    import paddle
    from edvr.ops import set_conv_kernel
    from edvr.ops import set_dcn_kernel
    from edvr.models.losses import CharbonnierLoss
    tuning = _setup(threads)
    _, ours = _networks(EDVR_M)
    rng = np.random.RandomState(1)
    lq = paddle.to_tensor(rng.rand(2, 5, 3, 64, 64).astype('float32'))
    gt = paddle.to_tensor(rng.rand(2, 3, 256, 256).astype('float32'))
    lq_infer = paddle.to_tensor(rng.rand(1, 5, 3, 92, 160).astype('float32'))
    optims = {}
    _, static = _networks(EDVR_M)      # to_static converts the layer it is given in place
    static = paddle.jit.to_static(static, full_graph=True)
    loss_fn = CharbonnierLoss()

    def train(net):
        net.train()
        loss_fn(net(lq), gt).backward()
        optim = optims.setdefault(id(net), paddle.optimizer.Adam(learning_rate=1e-5,
                                                                 parameters=net.parameters()))
        optim.step()
        optim.clear_grad()

    def infer(net):
        net.eval()
        with paddle.no_grad():
            net(lq_infer).numpy()
    times = {}
    for r in range(repeats + 1):
        for name, (dcn_kernel, conv_kernel, to_static) in LEVERS.items():
            set_dcn_kernel(dcn_kernel)
            set_conv_kernel(conv_kernel)
            for task, fn in (('train', train), ('infer', infer)):
                start = time.perf_counter()
                fn(static if to_static else ours)
                if r:
                    times.setdefault(name, {}).setdefault(task, []).append(
                        time.perf_counter() - start)
    return dict(tuning=tuning, medians={n: {t: float(np.median(v)) for t, v in d.items()}
                                        for n, d in times.items()}, times=times)


# ---------------------------------------------------------------- parent side

def _child(args, threads, env=None):
    cmd = [sys.executable, os.path.abspath(__file__), '--threads', str(threads)] + args
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith('RESULT '):
            return json.loads(line[len('RESULT '):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {'error': ' | '.join(tail) or f'exit code {proc.returncode}'}


def _fmt_row(r, peaks):
    cfg = CONFIGS[r['name']]
    ratio = r['base_s'] / r['ours_s']
    fps = '' if cfg['mode'] == 'train' else f"{1 / r['base_s']:.3f} / {1 / r['ours_s']:.3f}"
    grad = f"{r['grad_diff']:.1e} ({r['grad_rel']:.1e})" if 'grad_diff' in r else '-'
    mem = ' / '.join(f"{peaks.get((r['name'], k), float('nan')):.0f}" for k in ('base', 'ours'))
    return (f"| {r['name']} | {r['base_s']:.2f} | {r['ours_s']:.2f} | {ratio:.2f}x | "
            f"{r['out_diff']:.1e} ({r['out_rel']:.1e}) | {grad} | "
            f"{r['gflop'] / r['base_s']:.1f} / {r['gflop'] / r['ours_s']:.1f} | {fps} | {mem} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--only', nargs='*', help='configurations to run (see --list)')
    parser.add_argument('--repeats', type=int, default=3, help='timed runs of each (median)')
    parser.add_argument('--threads', type=int, default=2, help='math threads for both')
    parser.add_argument('--no-peaks', action='store_true',
                        help='skip the one-pass peak-memory children of the timing table')
    parser.add_argument('--memory-only', action='store_true', help='only the memory study')
    parser.add_argument('--no-memory', action='store_true', help='skip the memory study')
    parser.add_argument('--levers', action='store_true',
                        help='only the per-lever table (ours, EDVR-M), with and without '
                             'the CPU runtime tuning')
    parser.add_argument('--onnx', action='store_true',
                        help='also time inference of our network exported to ONNX and run by '
                             'onnxruntime (needs paddle2onnx and onnxruntime)')
    parser.add_argument('--baseline-defaults', action='store_true',
                        help='also time the baseline in a process of its own with Paddle\'s '
                             'defaults (no CPU runtime tuning), as the straightforward EDVR '
                             'runs elsewhere')
    parser.add_argument('--list', action='store_true')
    parser.add_argument('--child', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, name = args.child[0], args.child[1]
        if kind == 'time':
            res = run_timing(name, args.repeats, args.threads)
        elif kind == 'time-base':
            res = run_timing(name, args.repeats, args.threads, impls=('base',))
        elif kind == 'peak':
            res = run_peak(name, args.child[2], args.threads)
        elif kind == 'levers':
            res = run_levers(args.repeats, args.threads)
        else:
            res = run_memory(name, args.threads)
        print('RESULT ' + json.dumps(res), flush=True)
        return
    if args.list:
        print('\n'.join(list(CONFIGS) + list(MEMORY)))
        return

    if args.levers:
        print('Levers, ours, EDVR-M; median s of train step (batch 2, LR 64x64) / inference '
              '(LR 92x160):', flush=True)
        for tuning in ('1', '0'):
            os.environ['EDVR_CPU_TUNING'] = tuning
            res = _child(['--repeats', str(args.repeats), '--child', 'levers', '-'],
                         args.threads)
            if 'error' in res:
                print(f'FAILED: {res["error"]}')
                continue
            print(f'\nCPU runtime tuning {res["tuning"]}')
            print('| lever | train s | infer s |\n|---|---|---|')
            for name, med in res['medians'].items():
                print(f'| {name} | {med["train"]:.2f} | {med["infer"]:.2f} |', flush=True)
        return

    if args.onnx:
        os.environ['BENCH_ONNX'] = '1'  # read by the timing children
    import paddle
    from edvr.ops.cpu_ops import cpu_ops_status, load_cpu_ops
    start = time.perf_counter()
    load_cpu_ops()
    status = cpu_ops_status()
    ops = (f'built/loaded in {status["build_seconds"]:.1f} s ({status["flags"]})'
           if status['loaded'] else status['error'])
    print(f'paddle {paddle.__version__}; {args.threads} math threads for both; C++ ops: {ops}; '
          f'{time.perf_counter() - start:.1f} s', flush=True)
    selected = args.only or (list(CONFIGS) + list(MEMORY))
    unknown = [n for n in selected if n not in CONFIGS and n not in MEMORY]
    if unknown:
        sys.exit(f'unknown configuration(s) {unknown}; see --list')
    if args.memory_only:
        selected = [n for n in selected if n in MEMORY]
    if args.no_memory:
        selected = [n for n in selected if n in CONFIGS]

    rows, peaks, memory_rows = [], {}, []
    for name in selected:             # in the order given
        if name in MEMORY:
            res = _child(['--child', 'memory', name], args.threads)
            line = (f'| {name} | FAILED: {res["error"]} | |' if 'error' in res else
                    f'| {name} | {res["peak_mib"]:.0f} | {res["seconds"]:.1f} |')
            memory_rows.append(line)
            print(f'{name}: {line}', flush=True)
            continue
        res = _child(['--repeats', str(args.repeats), '--child', 'time', name], args.threads)
        if 'error' in res:
            print(f'{name}: FAILED: {res["error"]}', flush=True)
            continue
        if not args.no_peaks:
            for impl in ('base', 'ours'):
                peak = _child(['--child', 'peak', name, impl], args.threads)
                peaks[(name, impl)] = peak.get('peak_mib', float('nan'))
        rows.append(res)
        print(f'{name}: runs (s) {json.dumps(res["times"])}; CPU tuning {res["tuning"]}\n'
              f'  {_fmt_row(res, peaks)}', flush=True)
        if 'grad_self_rel' in res:
            print(f'  the baseline\'s own gradients, input nudged by 1e-6: max abs diff '
                  f'(rel) {res["grad_self_rel"]:.1e}', flush=True)
        if args.baseline_defaults:
            env = dict(os.environ, EDVR_CPU_TUNING='0')
            env.pop('MKL_DEBUG_CPU_TYPE', None)   # set on importing edvr when tuning is on
            alone = _child(['--repeats', str(args.repeats), '--child', 'time-base', name],
                           args.threads, env)
            if 'error' in alone:
                print(f'  baseline with Paddle defaults: FAILED: {alone["error"]}')
            else:
                res['base_default_s'] = alone['base_s']
                print(f'  baseline with Paddle defaults (own process, runs '
                      f'{json.dumps(alone["times"]["base"])}): {alone["base_s"]:.2f} s, '
                      f'{alone["base_s"] / res["ours_s"]:.2f}x ours', flush=True)
        if 'onnx_s' in res:
            print(f'  onnxruntime (exported ours): {res["onnx_s"]:.2f} s, '
                  f'{res["base_s"] / res["onnx_s"]:.2f}x the baseline, '
                  f'{1 / res["onnx_s"]:.3f} frames/s, {res["gflop"] / res["onnx_s"]:.1f} GFLOP/s, '
                  f'max abs diff output {res["onnx_out_diff"]:.1e} '
                  f'({res["onnx_out_rel"]:.1e})', flush=True)
    if rows:
        print('\n| configuration | baseline s | ours s | speed-up | max abs diff output (rel) '
              '| max abs diff gradients (rel) | GFLOP/s base / ours | frames/s base / ours '
              '| peak MiB base / ours |')
        print('|---|---|---|---|---|---|---|---|---|')
        for r in rows:
            print(_fmt_row(r, peaks))
        if any('base_default_s' in r for r in rows):
            print('\n| configuration | baseline, Paddle defaults, own process s | ours s '
                  '| speed-up |\n|---|---|---|---|')
            for r in rows:
                if 'base_default_s' in r:
                    print(f"| {r['name']} | {r['base_default_s']:.2f} | {r['ours_s']:.2f} | "
                          f"{r['base_default_s'] / r['ours_s']:.2f}x |")
    if memory_rows:
        print(f'\nPeak memory of ours, one 5-frame window (tiles {TILE} LR px, overlap {OVERLAP}):')
        print('| configuration | peak MiB | seconds |\n|---|---|---|')
        print('\n'.join(memory_rows))


if __name__ == '__main__':
    main()
