# SPDX-License-Identifier: Apache-2.0
"""The base of every video SR dataset: info dicts run through a preprocess pipeline.

A dataset lists one info dict per sample (`prepare_data_infos`); indexing
copies the info, runs the preprocess ops on it and returns the collatable
part. The index may be ``(i, seed)``: all randomness of the ops then comes
from ``np.random.default_rng(seed)``, so a sample is exactly reproducible.
"""
import copy
import numbers
import os

import numpy as np
import paddle

from edvr.errors import DataError
from edvr.registry import PREPROCESS, build_from_config


class BaseVSRDataset(paddle.io.Dataset):
    """Video SR samples: ``lq`` (t, c, h, w) frames and their ``gt`` (c, h, w) frame.

    Subclasses set their attributes, then ``self.data_infos = self.prepare_data_infos()``.

    Args:
        preprocess: list of preprocess op configs (``name`` plus arguments),
            run in order on each sample.
    """

    def __init__(self, preprocess=None):
        super().__init__()
        where = f'{type(self).__name__}.preprocess'
        self.preprocess = [  # configs are built; ops built already (callables) are kept
            cfg if callable(cfg) else build_from_config(cfg, PREPROCESS, where=f'{where}.{i}')
            for i, cfg in enumerate(preprocess or [])]
        self.data_infos = []

    def prepare_data_infos(self):
        """Return the list of info dicts, one per sample."""
        raise NotImplementedError

    def __len__(self):
        return len(self.data_infos)

    def __getitem__(self, index):
        """One sample.

        Args:
            index: an int, or ``(int, seed)``; a None seed draws fresh randomness.

        Returns:
            dict with ``lq`` float32 (t, c, h, w) and ``gt`` float32 (c, h, w) (or
            (t, c, h, w) when the pipeline gives several GT frames) as laid out
            by a pipeline ending in TransposeSequence/NormalizeSequence, ``lq_path``
            (centre LQ file), ``gt_path``, ``key`` ('clip/frame'), ``clip``, and
            any other scalar or string entries the ops left.
        """
        index, seed = index if isinstance(index, (tuple, list)) else (index, None)
        results = copy.deepcopy(self.data_infos[int(index)])
        results['rng'] = np.random.default_rng(seed)
        for op in self.preprocess:
            results = op(results)
        return finalize_sample(results)


def require_folders(*folders):
    """Raise DataError naming the first of ``folders`` that is not a directory."""
    for folder in folders:
        if not os.path.isdir(folder):
            raise DataError(f'{folder}: dataset folder not found')


def _centre(value):
    if isinstance(value, (list, tuple)):
        return str(value[len(value) // 2]) if value else ''
    return str(value)


def _frames_array(value, name, results):
    """A list of frames or an array -> contiguous float32 array."""
    if isinstance(value, list):
        try:
            value = np.stack(value)
        except ValueError as exc:
            key = results.get('key', 'sample')
            raise DataError(f'{key}: {name} frames differ in shape: {exc}') from None
    return np.ascontiguousarray(value, dtype=np.float32)


def finalize_sample(results):
    """Keep the collatable part of ``results`` in the dataset's output layout.

    ``lq`` and ``gt`` become float32 arrays (a single GT frame loses its time
    axis), paths become the centre file, and entries that are not arrays,
    numbers or strings (``rng``, lists, shapes) are dropped.
    """
    sample = {}
    for name in ('lq', 'gt'):
        if name in results:
            sample[name] = _frames_array(results[name], name, results)
    if 'gt' in sample and sample['gt'].ndim == 4 and sample['gt'].shape[0] == 1:
        sample['gt'] = sample['gt'][0]
    for name in ('lq_path', 'gt_path'):
        if name in results:
            sample[name] = _centre(results[name])
    key = str(results.get('key', ''))
    sample['key'] = key
    sample['clip'] = str(results.get('clip') or key.rsplit('/', 1)[0])
    for name, value in results.items():
        if name in sample or name in ('rng', 'io_backend'):
            continue
        if isinstance(value, (str, bool, numbers.Number, np.generic)):
            sample[name] = value
    return sample
