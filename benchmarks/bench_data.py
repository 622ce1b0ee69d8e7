# SPDX-License-Identifier: Apache-2.0
"""Training-pipeline read speed: PNG folders vs packed LMDB stores.

Builds a REDS-shaped set in a temporary folder (GT 1280x720, LQ 320x180 made
with MATLAB bicubic, CLIPS clips x FRAMES frames rendered from the demo's
photographs), packs it (raw and png codecs), and runs the training loader of
a config (default configs/edvr_m_wo_tsa.yaml: 5 LQ frames, 256x256 GT crops,
flips, batch 4) over each source with num_workers 0 and 2. Sources are timed
in turns, several rounds, so the ratios hold even on a busy machine.

    python benchmarks/bench_data.py [--config CONFIG] [--clips 3] [--frames 20]
                                    [--batches 15] [--rounds 2] [--workers 0,2]
"""
import argparse
import os
import sys
import tempfile
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
warnings.filterwarnings('ignore', message='No ccache found')

import cv2  # noqa: E402
import numpy as np  # noqa: E402

GT_HW = (720, 1280)
SCALE = 4
PHOTO_UPSCALE = 2.5  # the bundled photographs are ~512 px; the camera needs room to move


def build_set(root, clips, frames):
    """REDS-layout GT and LQ PNG folders and meta file under ``root``; returns their paths."""
    from edvr.prepare.demo import TRAIN_PHOTOS, load_photo, render_clip
    from edvr.datasets.image_io import write_image
    from edvr.utils.imresize import imresize
    gt_dir, lq_dir = os.path.join(root, 'gt'), os.path.join(root, 'lq')
    lines = []
    for i in range(clips):
        clip = f'{i + 1:03d}'
        photo = load_photo(TRAIN_PHOTOS[i % len(TRAIN_PHOTOS)])
        photo = cv2.resize(photo, None, fx=PHOTO_UPSCALE, fy=PHOTO_UPSCALE,
                           interpolation=cv2.INTER_CUBIC)
        for t, gt in enumerate(render_clip(photo, frames, GT_HW, np.random.default_rng(i))):
            write_image(os.path.join(gt_dir, clip, f'{t:08d}.png'), gt)
            write_image(os.path.join(lq_dir, clip, f'{t:08d}.png'), imresize(gt, 1 / SCALE))
            lines.append(f'{clip}/{t:08d}.png ({GT_HW[0]}, {GT_HW[1]}, 3)')
    meta = os.path.join(root, 'meta_info_REDS_GT.txt')
    with open(meta, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    return lq_dir, gt_dir, meta


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(d, n)) for d, _, files in os.walk(folder)
               for n in files)


def make_dataset(config, lq, gt, meta, frames, backend):
    from edvr.config import load_config
    from edvr.datasets.loader import build_dataset
    cfg = load_config(config)
    train = cfg['dataset']['train']
    inner = train['dataset'] if 'dataset' in train else train
    inner.update(lq_folder=lq, gt_folder=gt, ann_file=meta)
    if backend != 'folder':
        inner['io_backend'] = backend
    for op in inner['preprocess']:
        if op.get('name') == 'GetFrameIdx':
            op['frames_per_clip'] = frames - 1
    return build_dataset(train, 'dataset.train'), int(train.get('batch_size', 1))


def time_loader(dataset, batch_size, workers, batches, start_iter):
    """Samples per second over ``batches`` batches after two warm-up batches."""
    from edvr.datasets.loader import build_train_loader
    loader, _ = build_train_loader({'batch_size': batch_size, 'num_workers': workers},
                                   dataset, seed=0, start_iter=start_iter)
    it = iter(loader)
    for _ in range(2):
        next(it)
    tic = time.perf_counter()
    for _ in range(batches):
        batch = next(it)
    elapsed = time.perf_counter() - tic
    del it, loader
    assert tuple(batch['gt'].shape[-2:]) == tuple(batch['lq'].shape[-2:] * np.array(SCALE))
    return batches * batch_size / elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=os.path.join(ROOT, 'configs', 'edvr_m_wo_tsa.yaml'))
    parser.add_argument('--clips', type=int, default=3)
    parser.add_argument('--frames', type=int, default=20)
    parser.add_argument('--batches', type=int, default=15)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--workers', default='0,2')
    args = parser.parse_args(argv)
    from edvr.prepare.pack import pack_folder
    workers_list = [int(w) for w in args.workers.split(',')]

    with tempfile.TemporaryDirectory(prefix='bench_data_') as tmp:
        tic = time.perf_counter()
        lq, gt, meta = build_set(tmp, args.clips, args.frames)
        print(f'built {args.clips} clips x {args.frames} frames (GT {GT_HW[1]}x{GT_HW[0]}, '
              f'LQ {GT_HW[1] // SCALE}x{GT_HW[0] // SCALE}) in {time.perf_counter() - tic:.0f} s; '
              f'PNG: GT {folder_bytes(gt) / 2**20:.0f} MB, LQ {folder_bytes(lq) / 2**20:.0f} MB')
        sources = {'PNG folders': (lq, gt, 'folder')}
        for codec in ('raw', 'png'):
            tic = time.perf_counter()
            stores = [pack_folder(src, os.path.join(tmp, f'{name}_{codec}.lmdb'), codec)
                      for name, src in (('lq', lq), ('gt', gt))]
            print(f'packed ({codec}) in {time.perf_counter() - tic:.1f} s: GT store '
                  f'{stores[1]["bytes"] / 2**20:.0f} MB, '
                  f'LQ store {stores[0]["bytes"] / 2**20:.0f} MB')
            sources[f'LMDB {codec}'] = (stores[0]['out'], stores[1]['out'], 'lmdb')
        datasets = {}
        for name, (src_lq, src_gt, backend) in sources.items():
            datasets[name] = make_dataset(args.config, src_lq, src_gt, meta, args.frames, backend)
        rates = {(name, w): [] for name in sources for w in workers_list}
        for r in range(args.rounds):
            for w in workers_list:
                for name, (dataset, batch_size) in datasets.items():
                    start = r * (args.batches + 2)
                    rates[(name, w)].append(time_loader(dataset, batch_size, w, args.batches,
                                                        start))
        batch_size = next(iter(datasets.values()))[1]
        print(f'\ntraining pipeline of {os.path.relpath(args.config, ROOT)} (batch {batch_size}), '
              f'samples/s, median of {args.rounds} rounds of {args.batches} batches:')
        print(f'{"source":<14}' + ''.join(f'{f"workers={w}":>14}' for w in workers_list))
        for name in sources:
            row = [float(np.median(rates[(name, w)])) for w in workers_list]
            base = [float(np.median(rates[('PNG folders', w)])) for w in workers_list]
            cells = ''.join(f'{v:>8.1f} ({v / b:.1f}x)' if name != 'PNG folders' else f'{v:>14.1f}'
                            for v, b in zip(row, base))
            print(f'{name:<14}{cells}')


if __name__ == '__main__':
    main()
