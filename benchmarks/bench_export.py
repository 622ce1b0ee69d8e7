# SPDX-License-Identifier: Apache-2.0
"""An exported EDVR on the CPU: the library's runtime against paddle.inference, interleaved.

For each LR size, one process builds EDVR-M (random weights as in bench_model.py), saves
its weights and exports it as tools/export_model.py does, then times three predictors on
the same fresh random 5-frame window per round, in turns (the order rotates each round):

* library: ``Predictor.from_config`` (the config's network with its weights);
* exported, auto: ``Predictor(model)`` on the CPU (the library's network rebuilt from
  the export);
* exported, paddle.inference: ``Predictor(model, runtime='paddle_inference')``.

Each gets a new window every round, so the per-frame feature cache never serves a
repeated window. Prints the median seconds, the ratios to the library (of the medians,
and in brackets the median of each round's own ratio, which a changing load disturbs
less), the largest output differences and the load average before and after.

    python benchmarks/bench_export.py                       # 92x160 and 180x320, 3 rounds
    python benchmarks/bench_export.py --sizes 92x160 --repeats 5
    /work/venv26/bin/python benchmarks/bench_export.py      # the same on Paddle 2.6
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
sys.path.insert(0, ROOT)
warnings.filterwarnings('ignore', message='No ccache found')

EDVR_M = dict(nf=64, groups=8, front_RBs=5, back_RBs=10, w_TSA=False)
NAMES = ('library', 'exported auto', 'exported paddle.inference')


def run_size(h, w, repeats, threads):
    """Time the three predictors on (1, 5, 3, h, w) windows; a dict of results."""
    import numpy as np
    import paddle
    from benchmarks.bench_model import _randomize
    from edvr.deploy.export import network_info, network_record, save_inference_model
    from edvr.deploy.predictor import Predictor
    from edvr.models.edvr_net import EDVRNet
    from edvr.weights import save_weights_file
    net_cfg = dict(name='EDVRNet', **EDVR_M)
    paddle.seed(0)
    net = EDVRNet(**EDVR_M)
    _randomize(net)
    net.eval()
    folder = tempfile.mkdtemp(prefix='bench_export_')
    weights = os.path.join(folder, 'edvr_m.pdparams')
    save_weights_file(net.state_dict(), weights)
    prefix = os.path.join(folder, 'model', 'edvr_m')
    save_inference_model(net, prefix, [[1, 5, 3, 64, 64]], network_info(net),
                         network_record(net_cfg))
    del net
    cfg = {'model': {'generator': net_cfg}, 'min_max': [0.0, 1.0]}
    predictors = {
        'library': Predictor.from_config(cfg, weights, num_threads=threads, device='cpu'),
        'exported auto': Predictor(prefix, device='cpu', num_threads=threads),
        'exported paddle.inference': Predictor(prefix, device='cpu', num_threads=threads,
                                               runtime='paddle_inference'),
    }
    runtimes = {name: p.runtime for name, p in predictors.items()}
    rng = np.random.RandomState(1)
    for p in predictors.values():  # warm up at full size (allocations, first-run passes)
        p.restore(rng.rand(1, 5, 3, h, w).astype('float32'))
    times = {name: [] for name in NAMES}
    diffs = {'exported auto vs library': 0.0, 'exported auto vs paddle.inference': 0.0}
    load = [os.getloadavg()[0]]
    for r in range(repeats):
        lq = rng.rand(1, 5, 3, h, w).astype('float32')
        order = NAMES[r % 3:] + NAMES[:r % 3]
        outs = {}
        for name in order:
            start = time.perf_counter()
            outs[name] = predictors[name].restore(lq)
            times[name].append(time.perf_counter() - start)
        for key, (a, b) in (('exported auto vs library', ('exported auto', 'library')),
                            ('exported auto vs paddle.inference',
                             ('exported auto', 'exported paddle.inference'))):
            diffs[key] = max(diffs[key], float(np.abs(outs[a] - outs[b]).max()))
    load.append(os.getloadavg()[0])
    return dict(size=f'{h}x{w}', paddle=paddle.__version__, threads=threads, runtimes=runtimes,
                times=times, medians={k: float(np.median(v)) for k, v in times.items()},
                diffs=diffs, load=load)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', nargs='+', default=['92x160', '180x320'],
                        help='LR sizes HxW, one process each')
    parser.add_argument('--repeats', type=int, default=3, help='timed rounds (median)')
    parser.add_argument('--threads', type=int, default=2, help='math threads for all three')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from edvr.utils.device import tune_cpu_runtime
        tune_cpu_runtime()
        h, w = (int(v) for v in args.child.split('x'))
        print('RESULT ' + json.dumps(run_size(h, w, args.repeats, args.threads)), flush=True)
        return
    rows = []
    for size in args.sizes:
        cmd = [sys.executable, os.path.abspath(__file__), '--child', size,
               '--repeats', str(args.repeats), '--threads', str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        found = [line for line in proc.stdout.splitlines() if line.startswith('RESULT ')]
        if not found:
            print(f'{size}: FAILED: {" | ".join(proc.stderr.strip().splitlines()[-3:])}')
            continue
        res = json.loads(found[-1][len('RESULT '):])
        print(f'{size}: runs (s) {json.dumps(res["times"])}; runtimes {res["runtimes"]}; '
              f'load {res["load"][0]:.1f} -> {res["load"][1]:.1f}', flush=True)
        rows.append(res)
    if not rows:
        return
    print(f'\npaddle {rows[0]["paddle"]}, {rows[0]["threads"]} math threads, '
          f'{args.repeats} interleaved rounds, median s')
    print('| EDVR-M window | library s | exported, auto (library runtime) s | ratio | '
          'exported, paddle.inference s | ratio | max abs diff auto vs library / vs '
          'paddle.inference | load before -> after |')
    print('|---|---|---|---|---|---|---|---|')
    for r in rows:
        m, t = r['medians'], r['times']
        lib = m['library']

        def paired(name):
            return statistics.median(a / b for a, b in zip(t[name], t['library']))
        print(f'| 5x{r["size"]} | {lib:.2f} | {m["exported auto"]:.2f} | '
              f'{m["exported auto"] / lib:.2f}x ({paired("exported auto"):.2f}x) | '
              f'{m["exported paddle.inference"]:.2f} | '
              f'{m["exported paddle.inference"] / lib:.2f}x '
              f'({paired("exported paddle.inference"):.2f}x) | '
              f'{r["diffs"]["exported auto vs library"]:.1e} / '
              f'{r["diffs"]["exported auto vs paddle.inference"]:.1e} | '
              f'{r["load"][0]:.1f} -> {r["load"][1]:.1f} |')


if __name__ == '__main__':
    main()
