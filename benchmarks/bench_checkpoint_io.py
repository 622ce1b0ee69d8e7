# SPDX-License-Identifier: Apache-2.0
"""Save and load time of a full training checkpoint: pickle (restricted reader) vs safetensors.

Builds the checkpoint the trainer writes (generator, Adam state after one step,
LR schedule, EMA copy of the weights) for the demo network and for EDVR-M, then
times, median of REPEATS (default 5):

* pickle: ``save_atomic`` (``paddle.save``) and `read_checkpoint` (restricted
  unpickler), beside a plain ``paddle.load`` for reference;
* safetensors: every array in one ``.safetensors`` file plus the scalars in JSON.

    python benchmarks/bench_checkpoint_io.py [REPEATS]
"""
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
warnings.filterwarnings('ignore', message='No ccache found')

import numpy as np  # noqa: E402
import paddle  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402

from edvr import weights as ckpt  # noqa: E402
from edvr.models.edvr_net import EDVRNet  # noqa: E402

NETS = {
    'demo (nf=32, 2+4 blocks)': dict(nf=32, groups=8, front_RBs=2, back_RBs=4, w_TSA=True),
    'EDVR-M (nf=64, 5+10 blocks)': dict(nf=64, groups=8, front_RBs=5, back_RBs=10, w_TSA=True),
}


def training_checkpoint(arch):
    """The dict the trainer saves, after one Adam step on a cheap loss."""
    net = EDVRNet(nframes=5, **arch)
    scheduler = paddle.optimizer.lr.CosineAnnealingDecay(4e-4, 1000)
    optimizer = paddle.optimizer.Adam(scheduler, parameters=net.parameters())
    paddle.add_n([p.square().sum() for p in net.parameters()]).backward()
    optimizer.step()
    scheduler.step()
    return dict(generator=net.state_dict(), optimizer=ckpt.portable_optimizer_state(optimizer, net),
                lr_scheduler=scheduler.state_dict(), iter=1, seed=0, best={},
                generator_ema={k: v.clone() for k, v in net.state_dict().items()})


def flatten(obj, prefix=''):
    """(arrays by dotted key, everything else as JSON-able nested dicts)."""
    arrays, rest = {}, {}
    for key, value in obj.items():
        name = f'{prefix}{key}'
        if hasattr(value, 'numpy') or isinstance(value, np.ndarray):
            arrays[name] = np.ascontiguousarray(np.asarray(value.numpy() if hasattr(value, 'numpy')
                                                           else value))
        elif isinstance(value, dict):
            inner_arrays, rest[key] = flatten(value, f'{name}/')
            arrays.update(inner_arrays)
        else:
            rest[key] = value
    return arrays, rest


def median_seconds(func, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(repeats=5):
    with tempfile.TemporaryDirectory() as folder:
        for label, arch in NETS.items():
            state = training_checkpoint(arch)
            pickled = os.path.join(folder, 'iter_1_checkpoint.pdparams')
            tensors = os.path.join(folder, 'iter_1_checkpoint.safetensors')

            def save_safetensors():
                arrays, rest = flatten(state)
                save_file(arrays, tensors)
                with open(tensors + '.json', 'w') as f:
                    json.dump(rest, f)
                for path in (tensors, tensors + '.json'):  # save_atomic syncs its file too
                    with open(path, 'rb+') as f:
                        os.fsync(f.fileno())

            def load_safetensors():
                arrays = load_file(tensors)
                with open(tensors + '.json') as f:
                    return arrays, json.load(f)

            rows = {
                'pickle save (paddle.save)': median_seconds(lambda: ckpt.save_atomic(state, pickled),
                                                            repeats),
                'pickle load (restricted reader)': median_seconds(
                    lambda: ckpt.read_checkpoint(pickled), repeats),
                'pickle load (paddle.load, unsafe)': median_seconds(lambda: paddle.load(pickled),
                                                                    repeats),
                'safetensors+JSON save': median_seconds(save_safetensors, repeats),
                'safetensors+JSON load (numpy)': median_seconds(load_safetensors, repeats),
            }
            sizes = [os.path.getsize(p) / 2**20 for p in (pickled, tensors)]
            print(f'{label}: checkpoint {sizes[0]:.1f} MiB (safetensors {sizes[1]:.1f} MiB)')
            for name, seconds in rows.items():
                print(f'  {name:36s} {seconds * 1000:8.1f} ms')


if __name__ == '__main__':
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
