# SPDX-License-Identifier: Apache-2.0
"""Paired augmentations and tensor layout, applied alike to LQ frames and GT.

`Transforms` is the preprocess op; the items of its ``pipeline`` are
TRANSFORMS. Each transform takes the tuple of inputs (e.g. ``(lq, gt)``, each
a list of (h, w, c) frames or one frame) and ``rng``, and returns the new
tuple. A random decision is drawn once per call and applied to every input,
so LQ and GT stay aligned.
"""
import numpy as np

from edvr.errors import ConfigError, DataError
from edvr.registry import PREPROCESS, TRANSFORMS, build_from_config


def _each(item, fn):
    """Apply ``fn`` to one frame or to every frame of a list."""
    return [fn(f) for f in item] if isinstance(item, list) else fn(item)


def _stack_each(inputs, fn):
    """Apply ``fn`` to every frame of every input; a list of frames becomes one stacked array."""
    return tuple(np.stack([fn(f) for f in item]) if isinstance(item, list) else fn(item)
                 for item in inputs)


def _first(item):
    return item[0] if isinstance(item, list) else item


@PREPROCESS.register
class Transforms:
    """Run a pipeline of TRANSFORMS over some results entries.

    Reads: the ``input_keys`` entries, ``rng``.
    Changes: the ``input_keys`` entries (or writes ``output_keys`` if given).

    Args:
        pipeline: list of transform configs (``name`` plus arguments).
        input_keys: results entries passed to the pipeline, in order (e.g. [lq, gt]).
        output_keys: where to store the outputs (default: back into ``input_keys``).

    Raises:
        DataError: a transform rejects the data; the message names the sample's files.
    """

    def __init__(self, pipeline, input_keys, output_keys=None):
        self.input_keys = list(input_keys)
        self.output_keys = list(output_keys) if output_keys is not None else None
        self.transforms = [  # configs are built; transforms built already are kept
            cfg if callable(cfg) else build_from_config(cfg, TRANSFORMS,
                                                        where=f'Transforms.pipeline.{i}')
            for i, cfg in enumerate(pipeline)]

    def __call__(self, results):
        rng = results.get('rng')
        rng = rng if rng is not None else np.random.default_rng()
        data = tuple(results[k] for k in self.input_keys)
        try:
            for transform in self.transforms:
                data = tuple(transform(data, rng))
        except DataError as exc:
            raise DataError(f'{_describe(results)}: {exc}') from None
        for key, value in zip(self.output_keys or self.input_keys, data):
            results[key] = value
        return results


def _describe(results):
    """The centre LQ file and the GT file of a sample, for error messages."""
    names = []
    for key in ('lq_path', 'gt_path'):
        paths = results.get(key)
        if isinstance(paths, list) and paths:
            names.append(f'{key[:2].upper()} {paths[len(paths) // 2]}')
    return ', '.join(names) or results.get('key', 'sample')


@TRANSFORMS.register
class SRPairedRandomCrop:
    """Crop the same random region from LQ (first input) and GT (second input).

    The LQ patch is ``gt_patch_size // scale`` square at a random (top, left);
    the GT patch is ``gt_patch_size`` square at ``(top * scale, left * scale)``.

    Args:
        scale: GT size / LQ size.
        gt_patch_size: side of the GT patch; divisible by ``scale``.
        keys: accepted for config compatibility (inputs are positional).

    Raises:
        DataError: GT size is not LQ size times ``scale``, or LQ is smaller than the patch.
    """

    def __init__(self, scale, gt_patch_size, keys=None):
        if gt_patch_size % scale:
            raise ConfigError(f'SRPairedRandomCrop: gt_patch_size {gt_patch_size} is not '
                              f'divisible by scale {scale}')
        self.scale = int(scale)
        self.gt_patch_size = int(gt_patch_size)
        self.keys = keys

    def __call__(self, inputs, rng):
        lq, gt = inputs[0], inputs[1]
        h_lq, w_lq = _first(lq).shape[:2]
        h_gt, w_gt = _first(gt).shape[:2]
        s, patch = self.scale, self.gt_patch_size // self.scale
        if (h_gt, w_gt) != (h_lq * s, w_lq * s):
            raise DataError(f'LQ size {h_lq}x{w_lq} times scale {s} is {h_lq * s}x{w_lq * s}, '
                            f'but GT size is {h_gt}x{w_gt}')
        if h_lq < patch or w_lq < patch:
            raise DataError(f'LQ size {h_lq}x{w_lq} is smaller than the {patch}x{patch} '
                            f'patch (gt_patch_size {self.gt_patch_size} / scale {s})')
        top = int(rng.integers(0, h_lq - patch + 1))
        left = int(rng.integers(0, w_lq - patch + 1))
        lq = _each(lq, lambda f: f[top:top + patch, left:left + patch])
        gt = _each(gt, lambda f: f[top * s:(top + patch) * s, left * s:(left + patch) * s])
        return (lq, gt) + tuple(inputs[2:])


class _PairedRandom:
    """Base of the paired flips: one draw ``rng.random() < prob`` decides for all inputs.

    Args:
        prob: probability of applying the flip.
        keys: accepted for config compatibility (inputs are positional).
    """

    def __init__(self, prob=0.5, keys=None):
        self.prob = prob
        self.keys = keys

    def apply(self, frame):
        raise NotImplementedError

    def __call__(self, inputs, rng):
        if rng.random() < self.prob:
            return tuple(_each(item, self.apply) for item in inputs)
        return tuple(inputs)


@TRANSFORMS.register
class PairedRandomHorizontalFlip(_PairedRandom):
    """Mirror all inputs left-right with probability ``prob`` (frames are (h, w, c))."""

    def apply(self, frame):
        return frame[:, ::-1]


@TRANSFORMS.register
class PairedRandomVerticalFlip(_PairedRandom):
    """Mirror all inputs upside down with probability ``prob`` (frames are (h, w, c))."""

    def apply(self, frame):
        return frame[::-1]


@TRANSFORMS.register
class PairedRandomTransposeHW(_PairedRandom):
    """Swap height and width of all inputs with probability ``prob`` (frames are (h, w, c))."""

    def apply(self, frame):
        return np.swapaxes(frame, 0, 1)


@TRANSFORMS.register
class TransposeSequence:
    """(h, w, c) frames -> channels first: a list becomes one (t, c, h, w) array.

    Args:
        order: axis order for one frame (default (2, 0, 1): HWC -> CHW).
        keys: accepted for config compatibility.
    """

    def __init__(self, order=(2, 0, 1), keys=None):
        self.order = tuple(order)
        self.keys = keys

    def _one(self, frame):
        frame = np.asarray(frame)
        if frame.ndim == 2:
            frame = frame[:, :, None]
        return frame.transpose(self.order)

    def __call__(self, inputs, rng):
        return _stack_each(inputs, self._one)


@TRANSFORMS.register
class NormalizeSequence:
    """``(x - mean) / std`` per channel, as float32.

    Accepts (t, c, h, w) or (c, h, w) arrays (``data_format='CHW'``), or
    (..., h, w, c) arrays and lists of frames (``'HWC'``).

    Args:
        mean: per-channel mean (or one number).
        std: per-channel standard deviation (or one number).
        data_format: 'CHW' or 'HWC', the layout of each frame.
        to_rgb: reverse the channel order (BGR <-> RGB) after normalising.
        keys: accepted for config compatibility.
    """

    def __init__(self, mean=0.0, std=1.0, data_format='CHW', to_rgb=False, keys=None):
        if data_format not in ('CHW', 'HWC'):
            raise ConfigError(f'NormalizeSequence.data_format: expected CHW or HWC, '
                              f'got {data_format!r}')
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1)
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std))
                and np.all(self.std != 0)):
            raise ConfigError(f'NormalizeSequence: mean {mean!r}, std {std!r}; expected finite '
                              f'numbers and no std of 0 (frames are divided by std)')
        self.data_format = data_format
        self.to_rgb = to_rgb
        self.keys = keys

    def _one(self, x):
        x = np.asarray(x, dtype=np.float32)
        axis = x.ndim - 3 if self.data_format == 'CHW' else x.ndim - 1
        shape = [1] * x.ndim
        shape[axis] = -1
        x = (x - self.mean.reshape(shape)) / self.std.reshape(shape)
        if self.to_rgb:
            x = np.flip(x, axis=axis)
        return x

    def __call__(self, inputs, rng):
        return _stack_each(inputs, self._one)
