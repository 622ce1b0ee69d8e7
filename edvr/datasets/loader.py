# SPDX-License-Identifier: Apache-2.0
"""Building datasets and loaders: a resumable training stream and a strided eval split.

The training stream is a pure function of (seed, iteration): batch ``k`` of a
run always holds the same samples with the same augmentation seeds, whatever
the number of loader workers. Resuming at iteration ``k`` therefore needs no
saved loader state, only ``k``.
"""
import ctypes
import signal
import sys
import traceback

import numpy as np
from paddle.io import DataLoader, Sampler
from paddle.io.dataloader.collate import default_collate_fn

from edvr import errors
from edvr.registry import DATASETS, build_from_config
from edvr.settings import loader_value

_LOADER_KEYS = ('batch_size', 'num_workers', 'use_shared_memory')
_ERROR = '__loading_error__'
_PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


def build_dataset(cfg, where='dataset'):
    """Build a dataset from its config (loader keys such as batch_size are ignored)."""
    cfg = {k: v for k, v in cfg.items() if k not in _LOADER_KEYS}
    return build_from_config(cfg, DATASETS, where=where)


class TrainBatchSampler(Sampler):
    """Endless batches of ``(index, sample_seed)`` for one rank.

    Epoch ``e`` shuffles the dataset with ``seed + e``; its order is split into
    ``world_size`` strided shares (padded by wrapping so every rank gets as many
    batches), and each rank cuts its share into full batches.

    Args:
        dataset_len: number of samples.
        batch_size: samples per batch on this rank.
        seed: run seed; determines order and augmentation.
        rank, world_size: this process's place among the training processes.
        start_iter: number of batches already consumed (resume point).
    """

    def __init__(self, dataset_len, batch_size, seed=0, rank=0, world_size=1, start_iter=0):
        super().__init__()
        self.dataset_len = dataset_len
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.start_iter = start_iter
        per_rank = -(-dataset_len // world_size)
        self.batches_per_epoch = max(per_rank // batch_size, 1)

    def epoch_batches(self, epoch):
        """The batches of this rank in ``epoch``: list of lists of (index, seed)."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(self.dataset_len)
        seeds = rng.integers(0, 2**31 - 1, size=self.dataset_len)
        need = self.batches_per_epoch * self.batch_size * self.world_size
        picks = np.resize(np.arange(self.dataset_len), need)
        mine = picks[self.rank::self.world_size][:self.batches_per_epoch * self.batch_size]
        pairs = [(int(order[p]), int(seeds[p])) for p in mine]
        return [pairs[i:i + self.batch_size] for i in range(0, len(pairs), self.batch_size)]

    def __iter__(self):
        epoch, skip = divmod(self.start_iter, self.batches_per_epoch)
        while True:
            for batch in self.epoch_batches(epoch)[skip:]:
                yield batch
            epoch, skip = epoch + 1, 0

    def __len__(self):
        return self.batches_per_epoch


class StridedEvalSampler(Sampler):
    """Evaluation batches: rank ``r`` takes samples r, r+N, r+2N... (no padding, no duplicates)."""

    def __init__(self, dataset_len, batch_size=1, rank=0, world_size=1):
        super().__init__()
        self.indices = list(range(rank, dataset_len, world_size))
        self.batch_size = batch_size

    def __iter__(self):
        for i in range(0, len(self.indices), self.batch_size):
            yield self.indices[i:i + self.batch_size]

    def __len__(self):
        return -(-len(self.indices) // self.batch_size)


class _CarryErrors:
    """Dataset wrapper returning a failed sample's error as data instead of raising.

    Paddle's loader hangs (no workers) or replaces the message by a generic
    one (workers) when a sample raises; carrying the error through the batch
    lets `SafeLoader` raise it in the main process with its own message.
    """

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        try:
            return self.dataset[index]
        except errors.EDVRError as exc:
            return {_ERROR: f'{type(exc).__name__}\n{exc}'}
        except Exception:  # a bug: keep its traceback for the report
            return {_ERROR: f'RuntimeError\nloading sample {index} failed:\n{traceback.format_exc()}'}


def _collate(samples):
    failed = [s[_ERROR] for s in samples if _ERROR in s]
    if failed:  # paddle drops a batch without arrays, so one travels with the message
        return {_ERROR: failed[0], 'placeholder': np.zeros(1, np.uint8)}
    return default_collate_fn(samples)


def _leave_stop_signals_to_the_main_process(worker_id):
    """In a loader worker: ignore SIGINT/SIGTERM. The launcher signals the whole process
    group and Ctrl-C the whole foreground group; a worker dying of it would abort the
    main process before it saves its checkpoint. Workers end with their main process:
    the loader shuts them down, and on Linux the kernel kills them if it dies first."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    if sys.platform.startswith('linux'):
        try:
            ctypes.CDLL('libc.so.6').prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        except (OSError, AttributeError):
            pass


class SafeLoader:
    """Iterates a paddle DataLoader, re-raising a sample's error with its own message."""

    def __init__(self, dataset, batch_sampler, num_workers, use_shared_memory):
        self.batch_sampler = batch_sampler
        self.loader = DataLoader(_CarryErrors(dataset), batch_sampler=batch_sampler,
                                 num_workers=num_workers, use_shared_memory=use_shared_memory,
                                 collate_fn=_collate,
                                 worker_init_fn=_leave_stop_signals_to_the_main_process)

    def __len__(self):
        return len(self.batch_sampler)

    def __iter__(self):
        batches = iter(self.loader)
        try:
            for batch in batches:
                if _ERROR in batch:
                    kind, message = batch[_ERROR].split('\n', 1)
                    raise getattr(errors, kind, RuntimeError)(message)
                yield batch
        finally:  # end the worker processes now: they ignore SIGTERM, so exit could not end them
            getattr(batches, '_try_shutdown_all', lambda: None)()


def build_train_loader(cfg, dataset, seed, rank=0, world_size=1, start_iter=0):
    """An endless training DataLoader over ``dataset`` following ``cfg`` (batch_size, num_workers)."""
    sampler = TrainBatchSampler(len(dataset), loader_value(cfg, 'batch_size'), seed,
                                rank, world_size, start_iter)
    loader = SafeLoader(dataset, sampler, loader_value(cfg, 'num_workers'),
                        loader_value(cfg, 'use_shared_memory'))
    return loader, sampler


def build_eval_loader(cfg, dataset, rank=0, world_size=1):
    """An evaluation DataLoader over this rank's strided share of ``dataset``."""
    sampler = StridedEvalSampler(len(dataset), loader_value(cfg, 'batch_size'), rank, world_size)
    return SafeLoader(dataset, sampler, loader_value(cfg, 'num_workers'),
                      loader_value(cfg, 'use_shared_memory'))
