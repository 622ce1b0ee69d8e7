# SPDX-License-Identifier: Apache-2.0
"""EDVR-M side by side: BasicSR on PyTorch against this project, each in its own processes.

The peer runs as its users run it: BasicSR's `EDVR` (``basicsr.archs.edvr_arch``, DCN through
``torchvision.ops.deform_conv2d``), its `CharbonnierLoss` (sum, as its EDVR configs) and
Adam, in a process of its own with PyTorch's defaults and 2 math threads. Ours is `EDVRNet`
with the settings its Trainer and Predictor apply (2 math threads, `tune_cpu_runtime`).
Both get the same kind of random weights (He-normal x0.5, DCN offsets of about 1.5 px) and
random inputs. Each round starts one process per side, in turns (who goes first
alternating); a process warms up once and times ``--runs`` passes. Figures are medians over
all timed passes; the ratio is peer / ours. On a machine other jobs share, wall times swing
with the load, and a side whose threads wait for each other suffers more; ``--threads 1
--cpu-time`` compares each side's own CPU seconds instead.

The peer's environment (a separate venv; nothing of it is committed here). The PyPI wheel of
torchvision needs the CUDA build of torch (it does not load beside the CPU-only wheel); both
run on the CPU:

    python -m venv /work/venv-torch
    /work/venv-torch/bin/pip install torch==2.14.1 torchvision==0.29.1
    /work/venv-torch/bin/pip install numpy addict future lmdb opencv-python Pillow pyyaml \\
        requests scikit-image scipy tqdm yapf setuptools wheel
    /work/venv-torch/bin/pip install --no-build-isolation --no-deps basicsr==1.4.2

BasicSR 1.4.2 imports ``torchvision.transforms.functional_tensor``, which torchvision
removed in 0.17; the peer process maps that name to ``torchvision.transforms.functional``
(which has the one function it takes) before importing BasicSR. Nothing else is changed.

    python benchmarks/bench_peer.py                                   # all configs, 3 rounds
    python benchmarks/bench_peer.py --only infer_m_92x160 --rounds 2 --peer-python PATH

``--before DIR`` adds a third side: ours with the code of another checkout (e.g. main, from
``git archive main | tar -x -C DIR``), in the same turns, for before/after figures of a change;
``--sides before ours`` leaves the peer out.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_PYTHON = os.environ.get('EDVR_PEER_PYTHON', '/work/venv-torch/bin/python')
CONFIGS = {
    'train_m_b2': dict(mode='train', batch=2, size=(64, 64)),
    'infer_m_92x160': dict(mode='infer', batch=1, size=(92, 160)),
    'infer_m_180x320': dict(mode='infer', batch=1, size=(180, 320)),
}
EDVR_M = dict(nf=64, groups=8, front_RBs=5, back_RBs=10)


def _random_weights(named_params, is_offset_conv, seed=0):
    """(name, array) pairs: He-normal x0.5 (x0.1 for the offset convs), DCN offsets of
    about 1.5 px from the offset convs' bias, small other biases (numpy, either framework)."""
    import numpy as np
    rng = np.random.RandomState(seed)
    for name, shape in named_params:
        if len(shape) == 4:
            std = np.sqrt(2.0 / np.prod(shape[1:])) * (0.1 if is_offset_conv(name) else 0.5)
            yield name, (rng.randn(*shape) * std).astype('float32')
        elif is_offset_conv(name):
            value = rng.randn(shape[0]) * 0.5
            value[:shape[0] * 2 // 3] = rng.randn(shape[0] * 2 // 3) * 1.5
            yield name, value.astype('float32')
        else:
            yield name, (rng.randn(*shape) * 0.01).astype('float32')


# ---------------------------------------------------------------- the peer (PyTorch)

def peer_step(cfg, threads):
    """The BasicSR EDVR-M pass of ``cfg`` as a zero-argument function."""
    import numpy as np
    import torch
    import torchvision.transforms.functional
    sys.modules.setdefault('torchvision.transforms.functional_tensor',
                           torchvision.transforms.functional)
    from basicsr.archs.edvr_arch import EDVR
    from basicsr.losses.basic_loss import CharbonnierLoss
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = EDVR(num_in_ch=3, num_out_ch=3, num_feat=EDVR_M['nf'], num_frame=5,
               deformable_groups=EDVR_M['groups'], num_extract_block=EDVR_M['front_RBs'],
               num_reconstruct_block=EDVR_M['back_RBs'], with_tsa=False)
    params = dict(net.named_parameters())
    with torch.no_grad():
        for name, value in _random_weights([(n, tuple(p.shape)) for n, p in params.items()],
                                           lambda n: 'conv_offset' in n):
            params[name].copy_(torch.from_numpy(value))
    h, w = cfg['size']
    rng = np.random.RandomState(1)
    lq = torch.from_numpy(rng.rand(cfg['batch'], 5, 3, h, w).astype('float32'))
    if cfg['mode'] == 'infer':
        net.eval()

        def infer():
            with torch.no_grad():
                net(lq).numpy()
        return infer
    gt = torch.from_numpy(rng.rand(cfg['batch'], 3, 4 * h, 4 * w).astype('float32'))
    loss_fn = CharbonnierLoss(reduction='sum')
    optim = torch.optim.Adam(net.parameters(), lr=4e-4, betas=(0.9, 0.99))
    net.train()

    def train():
        optim.zero_grad()
        loss_fn(net(lq), gt).backward()
        optim.step()
    return train


# ---------------------------------------------------------------- ours (Paddle)

def ours_step(cfg, threads, tree=ROOT):
    """This project's EDVR-M pass of ``cfg``, with the code of checkout ``tree``, as a
    zero-argument function."""
    sys.path.insert(0, tree)
    from edvr.utils.device import set_cpu_threads, tune_cpu_runtime
    tune_cpu_runtime()
    set_cpu_threads(threads)
    import numpy as np
    import paddle
    from edvr.models.edvr_net import EDVRNet
    from edvr.models.losses import CharbonnierLoss
    paddle.seed(0)
    net = EDVRNet(w_TSA=False, **EDVR_M)
    params = dict(net.named_parameters())
    for name, value in _random_weights([(n, tuple(p.shape)) for n, p in params.items()],
                                       lambda n: 'conv_offset_mask' in n):
        params[name].set_value(value)
    h, w = cfg['size']
    rng = np.random.RandomState(1)
    lq = paddle.to_tensor(rng.rand(cfg['batch'], 5, 3, h, w).astype('float32'))
    if cfg['mode'] == 'infer':
        net.eval()

        def infer():
            with paddle.no_grad():
                net(lq).numpy()
        return infer
    gt = paddle.to_tensor(rng.rand(cfg['batch'], 3, 4 * h, 4 * w).astype('float32'))
    loss_fn = CharbonnierLoss()
    optim = paddle.optimizer.Adam(learning_rate=4e-4, beta1=0.9, beta2=0.99,
                                  parameters=net.parameters())
    net.train()

    def train():
        loss_fn(net(lq), gt).backward()
        optim.step()
        optim.clear_grad()
    return train


def child(side, name, runs, threads, tree):
    """Warm up once, then time ``runs`` passes (wall and process CPU seconds); prints one
    RESULT line."""
    if side == 'peer':
        step = peer_step(CONFIGS[name], threads)
    else:
        step = ours_step(CONFIGS[name], threads, tree)
    step()
    wall, cpu = [], []
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    print('RESULT ' + json.dumps({'wall': wall, 'cpu': cpu}), flush=True)


# ---------------------------------------------------------------- parent

def _run_child(side, name, args):
    python = args.peer_python if side == 'peer' else sys.executable
    tree = os.path.abspath(args.before) if side == 'before' else ROOT
    cmd = [python, os.path.abspath(__file__), '--child', side, name, '--runs', str(args.runs),
           '--threads', str(args.threads), '--tree', tree]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    for line in proc.stdout.splitlines():
        if line.startswith('RESULT '):
            return json.loads(line[len('RESULT '):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    raise RuntimeError(f'{side} {name} failed: ' + ' | '.join(tail))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--only', nargs='*', choices=list(CONFIGS))
    parser.add_argument('--rounds', type=int, default=3, help='processes per side')
    parser.add_argument('--runs', type=int, default=2, help='timed passes per process')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--peer-python', default=PEER_PYTHON,
                        help='python of the venv with torch and basicsr (EDVR_PEER_PYTHON)')
    parser.add_argument('--before', help='another checkout: ours with its code as a third side')
    parser.add_argument('--sides', nargs='+', choices=('peer', 'before', 'ours'),
                        help='default: peer and ours, and before with --before')
    parser.add_argument('--cpu-time', action='store_true',
                        help='compare process CPU seconds instead of wall seconds (with '
                             '--threads 1: each side\'s own work, whatever else runs)')
    parser.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    parser.add_argument('--tree', default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.runs, args.threads, args.tree)
        return
    sides = args.sides or ['peer'] + (['before'] if args.before else []) + ['ours']
    if 'before' in sides and not args.before:
        parser.error('--sides before needs --before DIR')
    rows = []
    for name in args.only or list(CONFIGS):
        times = {side: [] for side in sides}
        cpu = {side: [] for side in sides}
        loads = [os.getloadavg()[0]]
        for r in range(args.rounds):
            for side in (sides if r % 2 == 0 else sides[::-1]):   # who goes first alternates
                result = _run_child(side, name, args)
                times[side] += result['wall']
                cpu[side] += result['cpu']
                loads.append(os.getloadavg()[0])
        key = cpu if args.cpu_time else times
        medians = {side: statistics.median(t) for side, t in key.items()}
        rows.append((name, medians, min(loads), max(loads)))
        print(f'{name}: ' + '; '.join(f'{side} runs {[round(t, 2) for t in times[side]]} '
                                       f'(CPU {[round(t, 2) for t in cpu[side]]})'
                                       for side in sides) +
              f'; load average {min(loads):.1f}-{max(loads):.1f}', flush=True)
    names = {'peer': 'BasicSR on PyTorch', 'before': 'ours before', 'ours': 'ours'}
    unit = 'CPU s' if args.cpu_time else 's'
    ratios = [(a, b) for a, b in (('peer', 'ours'), ('before', 'ours'), ('peer', 'before'))
              if a in sides and b in sides]
    print(f'\n{args.threads} math threads; medians of {args.rounds} processes x {args.runs} '
          f'passes per side')
    print('\n| EDVR-M | ' + ' | '.join(f'{names[s]} {unit}' for s in sides) + ' | ' +
          ' | '.join(f'{names[b]} vs {names[a]}' for a, b in ratios) + ' | load average |')
    print('|---' * (2 + len(sides) + len(ratios)) + '|')
    for name, medians, lo, hi in rows:
        print(f'| {name} | ' + ' | '.join(f'{medians[s]:.2f}' for s in sides) + ' | ' +
              ' | '.join(f'{medians[a] / medians[b]:.2f}x' for a, b in ratios) +
              f' | {lo:.1f}-{hi:.1f} |')


if __name__ == '__main__':
    main()
