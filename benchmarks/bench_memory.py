# SPDX-License-Identifier: Apache-2.0
"""Resident memory over a long tiny training run: does anything accumulate per iteration?

Trains a tiny EDVR on a tiny demo set for ITERS iterations (default 2000) in one run,
with validation and checkpoints every 500, while a thread samples the process's resident
memory; prints it every tenth of the run and the growth after warm-up (the first tenth).

    python benchmarks/bench_memory.py [ITERS]
"""
import os
import sys
import tempfile
import threading
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
warnings.filterwarnings('ignore', message='No ccache found')

from edvr.config import load_config  # noqa: E402
from edvr.prepare.demo import make_demo_dataset  # noqa: E402
from edvr.engine.trainer import Trainer  # noqa: E402

CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs',
                      'edvr_demo.yaml')


def resident_mib():
    with open('/proc/self/status') as f:
        line = next(l for l in f if l.startswith('VmRSS:'))
    return int(line.split()[1]) / 1024


def tiny_config(data, out, iters):
    train = 'dataset.train.dataset'
    return load_config(CONFIG, [
        'demo_data=null', f'output_dir={out}', f'total_iters={iters}',
        f'{train}.lq_folder={data}/train_sharp_bicubic/X4', f'{train}.gt_folder={data}/train_sharp/X4',
        f'{train}.ann_file={data}/meta_info_REDS_GT.txt', f'{train}.preprocess.0.frames_per_clip=6',
        f'{train}.preprocess.3.pipeline.0.gt_patch_size=32',
        f'dataset.test.lq_folder={data}/REDS4_test_sharp_bicubic/X4',
        f'dataset.test.gt_folder={data}/REDS4_test_sharp/X4',
        f'dataset.test.ann_file={data}/meta_info_REDS_GT.txt',
        'dataset.train.batch_size=2', 'model.generator.nf=8', 'model.generator.groups=2',
        'model.generator.front_RBs=1', 'model.generator.back_RBs=1',
        f'lr_scheduler.periods=[{iters}]', 'log_config.interval=100000',
        'log_config.visiual_interval=0', 'validate.interval=500', 'snapshot_config.interval=500'])


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    chunk = max(iters // 10, 1)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_demo_dataset(os.path.join(tmp, 'demo'), num_train_clips=2, num_frames=7,
                                 num_test_frames=5, gt_size=(32, 48))['root']
        trainer = Trainer(tiny_config(data, os.path.join(tmp, 'out'), iters), CONFIG, seed=0)
        readings, done = [], threading.Event()

        def sample():
            mark = chunk
            while not done.is_set():
                if trainer.current_iter >= mark:
                    readings.append((trainer.current_iter, resident_mib()))
                    print(f'iteration {trainer.current_iter:6d}: resident memory '
                          f'{readings[-1][1]:8.1f} MiB', flush=True)
                    mark += chunk
                time.sleep(0.01)
        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        trainer.train()
        done.set()
        watcher.join()
    warm, last = readings[0][1], readings[-1][1]
    print(f'growth after warm-up (iteration {readings[0][0]} -> {readings[-1][0]}): '
          f'{last - warm:+.1f} MiB ({100 * (last - warm) / warm:+.2f}%)')


if __name__ == '__main__':
    main()
