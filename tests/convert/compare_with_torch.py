# SPDX-License-Identifier: Apache-2.0
"""By hand, where torch is importable: real torch files against our reader and our test writer.

    PYTHONPATH=<folder with torch> python tests/convert/compare_with_torch.py

Checks that (1) files from ``torch.save`` (zip and legacy layouts; plain,
``params``-wrapped and nested dicts; views with offsets and strides; float16,
bfloat16, float64, int64, uint8) load through `load_torch_checkpoint` with
identical values, and (2) files from `torch_writer` load through
``torch.load(weights_only=True)`` with identical values. Not collected by
pytest: the suite does not install torch (a large download); it relies on
`torch_writer`, which this script keeps honest.
"""
import os
import sys
import tempfile
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from edvr.convert.torch_checkpoint import load_torch_checkpoint  # noqa: E402
from tests.convert.torch_writer import save_legacy, save_zip, state_dict  # noqa: E402


def _arrays():
    rng = np.random.default_rng(0)
    return OrderedDict([('a.weight', rng.random((4, 3, 3, 3)).astype(np.float32)),
                        ('a.bias', rng.random(4).astype(np.float32)),
                        ('h', rng.random((2, 5)).astype(np.float16)),
                        ('d', rng.random(3)), ('n', np.arange(6).reshape(2, 3)),
                        ('u', np.arange(5, dtype=np.uint8))])


def _flat(tree, prefix=''):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f'{prefix}{key}/'))
        else:
            out[prefix + key] = value
    return out


def _as_numpy(tensor):
    return tensor.float().numpy() if tensor.dtype == torch.bfloat16 else tensor.detach().numpy()


def check_torch_files_read(folder):
    tensors = OrderedDict((k, torch.from_numpy(v.copy())) for k, v in _arrays().items())
    shared = torch.arange(20, dtype=torch.float32).reshape(4, 5)
    tensors['view'], tensors['transposed'] = shared[1:3, 2:4], shared.t()
    tensors['bf16'] = torch.tensor([1.5, -2.25], dtype=torch.bfloat16)
    objects = {'plain': tensors, 'params': {'params': tensors},
               'module': torch.nn.Conv2d(3, 4, 3).state_dict(),
               'nested': {'state_dict': OrderedDict(('generator.' + k, v) for k, v in tensors.items()),
                          'meta': {'epoch': 3}}}
    for layout, options in (('zip', {}), ('legacy', {'_use_new_zipfile_serialization': False})):
        for name, obj in objects.items():
            path = os.path.join(folder, f'torch_{layout}_{name}.pth')
            torch.save(obj, path, **options)
            want, have = _flat(obj), _flat(load_torch_checkpoint(path))
            assert want.keys() == have.keys(), (path, sorted(want), sorted(have))
            for key, value in want.items():
                if not isinstance(value, torch.Tensor):
                    assert have[key] == value, (path, key)
                    continue
                got = np.asarray(have[key])
                assert got.shape == tuple(value.shape), (path, key)
                assert np.array_equal(got.astype(_as_numpy(value).dtype), _as_numpy(value)), (path, key)
            print(f'torch.save {layout} {name}: {len(want)} entries read unchanged')


def check_our_files_load_in_torch(folder):
    arrays = _arrays()
    for layout, save in (('zip', save_zip), ('legacy', save_legacy)):
        path = os.path.join(folder, f'ours_{layout}.pth')
        save({'params': state_dict(arrays)}, path)
        loaded = torch.load(path, weights_only=True)['params']
        for key, value in arrays.items():
            got = loaded[key].numpy()
            assert got.dtype == value.dtype and np.array_equal(got, value), (layout, key)
        print(f'torch_writer {layout}: torch.load(weights_only=True) reads {len(arrays)} tensors unchanged')


if __name__ == '__main__':
    print('torch', torch.__version__)
    with tempfile.TemporaryDirectory() as tmp:
        check_torch_files_read(tmp)
        check_our_files_load_in_torch(tmp)
