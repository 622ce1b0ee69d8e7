# SPDX-License-Identifier: Apache-2.0
"""Saving and loading weights and full training checkpoints.

Files (PaddleGAN's names): ``iter_{k}_weight.pdparams`` holds
``{'generator': state_dict}``; ``iter_{k}_checkpoint.pdparams`` adds the
optimizer (with its LR scheduler), the iteration and the run seed. Every write
goes to a temporary name first and is renamed into place, so a crash never
leaves a half-written file under a real name.

Weights-only files (``{'generator': ...}``) are written as PaddleGAN writes its
own: a plain pickle of numpy arrays, which PaddleGAN reads with
``pickle.load`` (``paddle.save`` would store each tensor as a (name, array)
pair that such a reader cannot use). Each array is pickled as
``numpy.ndarray(shape, dtype, bytes)``, which loads with numpy 1.x and 2.x.
"""
import glob
import os
import pickle
import re

import numpy as np
import paddle

from edvr.errors import WeightsError
from edvr.utils.output_paths import replace_atomically
from edvr.utils.safe_pickle import read_paddle_pickle

_ITER = re.compile(r'iter_(\d+)_checkpoint\.pdparams$')
CHECKPOINT_KEYS = ('generator', 'optimizer', 'lr_scheduler', 'iter', 'seed')


class _PortablePickler(pickle.Pickler):
    """Pickles numpy arrays as ``numpy.ndarray(shape, dtype string, raw bytes)``."""

    def reducer_override(self, obj):
        if type(obj) is np.ndarray:
            arr = np.ascontiguousarray(obj)
            return np.ndarray, (arr.shape, arr.dtype.str, arr.tobytes())
        return NotImplemented


def save_weights_file(state, path):
    """Write ``{'generator': state}`` as a plain pickle of numpy arrays (PaddleGAN's layout).

    Args:
        state: dict of name -> paddle Tensor or numpy array.
        path: destination file (written as is; see `save_atomic` for atomic writes).
    """
    arrays = {k: np.asarray(v.numpy() if hasattr(v, 'numpy') else v) for k, v in state.items()}
    with open(path, 'wb') as f:
        _PortablePickler(f, protocol=4).dump({'generator': arrays})


def save_atomic(obj, path):
    """Save ``obj`` to ``path`` through a temporary file and a rename.

    ``{'generator': state_dict}`` goes through `save_weights_file`; anything
    else (full checkpoints) through ``paddle.save``. On an OSError (a full
    disk) nothing is left under ``path`` or the temporary name, and the error
    names ``path``.
    """
    if isinstance(obj, dict) and set(obj) == {'generator'} and isinstance(obj['generator'], dict):
        replace_atomically(path, lambda tmp: save_weights_file(obj['generator'], tmp))
    else:
        replace_atomically(path, lambda tmp: paddle.save(obj, tmp))


def read_state(path, what='weights'):
    """Load a ``.pdparams`` file as a dict of numpy arrays and scalars, with one-line errors.

    The file is read by `read_paddle_pickle`, which refuses any pickle that asks
    for more than arrays and plain containers, so a crafted file runs no code.
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise WeightsError(f'{what}: expected a .pdparams file, got {path!r}')
    if not os.path.isfile(path):
        raise WeightsError(f'{path}: {what} file not found')
    state = read_paddle_pickle(path)
    if not isinstance(state, dict):
        raise WeightsError(f'{path}: expected a dict of tensors, got {type(state).__name__}')
    return state


def generator_state(state, path):
    """The generator's state dict inside a weights/checkpoint dict (or the dict itself)."""
    inner = state.get('generator', state)
    if not isinstance(inner, dict) or not inner:
        raise WeightsError(f'{path}: no generator weights found (top-level keys: '
                           f'{", ".join(map(str, list(state)[:8]))})')
    return inner


def _shape(value):
    return list(value.shape) if hasattr(value, 'shape') else None


def load_generator_weights(net, path):
    """Load generator weights from ``path`` into ``net``, checking every key and shape.

    Accepts our files, PaddleGAN's (``{'generator': ...}``) and bare state dicts.
    """
    set_generator_state(net, generator_state(read_state(path), path), path)


def read_checkpoint(path):
    """Load a full training checkpoint, refusing a weights-only file.

    Checkpoints are ``paddle.save`` pickles read back by the restricted reader
    (arrays, tuples, dicts and scalars only), so every checkpoint this project
    ever wrote resumes through one code path and ``paddle.load`` still opens them.
    """
    state = read_state(path, 'checkpoint')
    missing = [k for k in CHECKPOINT_KEYS if k not in state]
    if missing:
        raise WeightsError(f'{path}: not a full training checkpoint (no {", ".join(missing)}); '
                           f'use --load for a weights file')
    return state


def set_generator_state(net, state, path):
    """Set ``state`` into ``net`` after checking every key, shape and value.

    Floating-point values of another precision are converted to the network's.

    Raises WeightsError naming ``path`` and listing missing, unexpected and
    mismatched keys, values of the wrong type, and NaN or infinite values.
    """
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f'{k} {_shape(state[k])} vs model {list(own[k].shape)}'
                  for k in own if k in state and _shape(state[k]) != list(own[k].shape)]
    wrong_type, not_finite = [], []
    for k in own:
        if k in state and _shape(state[k]) == list(own[k].shape):
            values = np.asarray(state[k])
            if values.dtype.kind not in ('f' if 'float' in str(own[k].dtype) else 'iub'):
                wrong_type.append(f'{k} {values.dtype} vs model {str(own[k].dtype).split(".")[-1]}')
            elif values.dtype.kind == 'f' and not np.isfinite(values).all():
                not_finite.append(k)
    problems = []
    for label, keys in (('missing', missing), ('unexpected', unexpected),
                        ('shape mismatch', mismatched), ('type mismatch', wrong_type),
                        ('NaN or infinite values', not_finite)):
        if keys:
            shown = '; '.join(keys[:6]) + (f'; ... ({len(keys)} in all)' if len(keys) > 6 else '')
            problems.append(f'{label}: {shown}')
    if problems:
        raise WeightsError(f'{path}: weights do not fit the configured network ({" | ".join(problems)})')
    net.set_state_dict({k: _as_dtype_of(v, own[k]) for k, v in state.items()})


def _as_dtype_of(values, tensor):
    """``values`` in the dtype of the network's ``tensor`` (weights saved as float64 or
    float16 load into a float32 network)."""
    try:
        dtype = np.dtype(str(tensor.dtype).split('.')[-1])
    except TypeError:  # a dtype numpy lacks (bfloat16): Paddle converts it
        return values
    values = np.asarray(values)
    return values if values.dtype == dtype else values.astype(dtype)


def latest_checkpoint(folder):
    """The newest complete ``iter_*_checkpoint.pdparams`` in ``folder``, or None."""
    paths = glob.glob(os.path.join(glob.escape(folder), 'iter_*_checkpoint.pdparams'))
    found = [(int(m.group(1)), p) for p in paths if (m := _ITER.search(os.path.basename(p)))]
    return max(found)[1] if found else None


def prune_checkpoints(folder, keep):
    """Delete all but the newest ``keep`` iteration checkpoints and weights."""
    if keep is None or keep <= 0:
        return
    for pattern in ('iter_*_checkpoint.pdparams', 'iter_*_weight.pdparams'):
        files = sorted(glob.glob(os.path.join(glob.escape(folder), pattern)),
                       key=lambda p: int(re.search(r'iter_(\d+)_', os.path.basename(p)).group(1)))
        for path in files[:-keep]:
            os.remove(path)


def _rename_optimizer_state(state, rename):
    """Rename the per-parameter entries of an optimizer state dict (``<param>_moment1_0`` ...)."""
    prefixes = sorted(rename, key=len, reverse=True)
    out = {}
    for key, value in state.items():
        if key == 'master_weights' and isinstance(value, dict):
            out[key] = {rename.get(k, k): v for k, v in value.items()}
            continue
        prefix = next((p for p in prefixes if key.startswith(p + '_')), None)
        out[rename[prefix] + key[len(prefix):] if prefix else key] = value
    return out


def portable_optimizer_state(optimizer, net):
    """The optimizer's state keyed by structured parameter names (``PCDModule.x.weight_moment1_0``).

    Paddle keys optimizer state by generated names (``conv2d_60.w_0``) that depend
    on what else the process built; structured names make a checkpoint loadable
    in any process.
    """
    rename = {p.name: name for name, p in net.named_parameters()}
    return _rename_optimizer_state(optimizer.state_dict(), rename)


def load_portable_optimizer_state(optimizer, net, state):
    """Inverse of `portable_optimizer_state`: load ``state`` into ``optimizer``."""
    rename = {name: p.name for name, p in net.named_parameters()}
    optimizer.set_state_dict(_rename_optimizer_state(state, rename))
