# SPDX-License-Identifier: Apache-2.0
"""`Predictor`: restore video frames with an exported model or a trained network.

Back ends behind one API:

* an exported model (`tools/export_model.py`): on the CPU rebuilt as the library's
  network when the export records it, else run by ``paddle.inference`` (CPU, or GPU
  when Paddle is built with CUDA); see `edvr.deploy.exported`. Its ``.onnx``
  conversion runs with onnxruntime;
* a config plus weights run as a dynamic graph (`Predictor.from_config`), for
  users without an exported model.

Frames of any size are reflect-padded to the network's size multiple and the
output is cropped back (`edvr.utils.padding`). A whole clip is restored with a
sliding window whose ends are padded by a temporal padding mode
(`edvr.datasets.frame_index.padded_frame_indices`); frames are read lazily and
only the window's neighbourhood is held in memory. The library's network (from a config
or an export) computes each frame's features once per clip, not once per window
(`edvr.deploy.feature_cache`).
"""
import itertools
import os

import numpy as np
import paddle

from edvr.datasets.frame_index import PADDING_MODES, padded_frame_indices
from edvr.deploy.exported import RUNTIMES, open_exported
from edvr.deploy.runners import (DEFAULT_FEATURE_CACHE_MIB, DygraphRunner, apply_precision,
                                 check_tensorrt, parse_device)
from edvr.deploy.tiling import restore_tiled
from edvr.errors import ConfigError, DataError, WeightsError
from edvr.metrics import tensor2img
from edvr.settings import value
from edvr.utils.device import tune_cpu_runtime
from edvr.utils.padding import run_padded

# Size multiple assumed for an exported model without its .edvr.yml (EDVR's
# largest: 16 with HR_in, which also satisfies the 4 of the others).
_FALLBACK_MULTIPLE = 16
def _dihedral(x, transpose, flip_h, flip_w, inverse=False):
    """One of the 8 flips/transposes of the last two (h, w) axes of ``x``, or its inverse."""
    def swap(a):
        return a.swapaxes(-1, -2) if transpose else a

    def flip(a):
        a = a[..., ::-1, :] if flip_h else a
        return a[..., ::-1] if flip_w else a
    return swap(flip(x)) if inverse else flip(swap(x))


def _check_padding(padding):
    if padding not in PADDING_MODES:
        raise ConfigError(f'padding: expected one of {", ".join(PADDING_MODES)}, got {padding!r}')


def _whole(value, low, high=None):
    return isinstance(value, int) and not isinstance(value, bool) and value >= low and \
        (high is None or value <= high)


_OPTION_RULES = {  # name -> (accepts, what is expected)
    'num_threads': (lambda v: v is None or _whole(v, 1, 1024), 'None or a whole number 1..1024'),
    'ensemble': (lambda v: isinstance(v, bool), 'True or False'),
    'tile': (lambda v: v is None or _whole(v, 1), 'None or a whole number >= 1'),
    'tile_overlap': (lambda v: _whole(v, 0), 'a whole number >= 0'),
    'feature_cache_mib': (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                          and 0 <= v < float('inf'), 'a number of MiB >= 0 (0: off)'),
    'runtime': (lambda v: isinstance(v, str) and v in RUNTIMES, ' or '.join(RUNTIMES)),
    'precision': (lambda v: v in ('fp32', 'bf16'), "'fp32' or 'bf16'"),
}


def check_options(**options):
    """Raise ConfigError naming the first `Predictor` option of a wrong type or range."""
    for name, value in options.items():
        accepts, expected = _OPTION_RULES[name]
        if not accepts(value):
            raise ConfigError(f'Predictor: {name}={value!r}; expected {expected}')
    tile, overlap = options.get('tile'), options.get('tile_overlap', 0)
    if tile is not None and overlap >= tile:
        raise ConfigError(f'tile {tile}, tile_overlap {overlap}: expected tile >= 1 and '
                          f'0 <= overlap < tile')


class Predictor:
    """Restores the centre frame of frame windows, and whole clips, of any frame size.

    Args:
        model_path: exported model, ``DIR/NAME`` (or its .json/.pdmodel file, or
            a folder holding one model), or its ``.onnx`` conversion (run by
            onnxruntime on the CPU).
        device: 'cpu', 'gpu' or 'gpu:N'; None: the GPU if there is one, else the CPU.
        num_threads: CPU math threads (default: EDVR_NUM_THREADS or all cores).
        tensorrt: None; 'fp32' or 'fp16' (TensorRT) raise ConfigError (`check_tensorrt`).
        padding: temporal padding at clip ends, one of `PADDING_MODES`.
        ensemble: average the outputs of the 8 flips/transposes of each window
            (test-time augmentation; 8x the time).
        tile: restore frames larger than ``tile`` x ``tile`` input pixels in
            overlapping tiles of that size (bounded memory); None: whole frames.
        tile_overlap: overlap of neighbouring tiles in input pixels.
        runtime: 'auto' (the library's network on the CPU when the export records it,
            else ``paddle.inference``), 'library' or 'paddle_inference'; see
            `edvr.deploy.exported`. ``.onnx`` files take only 'auto'.
        feature_cache_mib: memory for per-frame features reused across windows by the
            library's network (`edvr.deploy.feature_cache`); 0 turns reuse off.
        precision: 'fp32' (default) or 'bf16': the library's network on the CPU with
            bfloat16 convolution products (`edvr.ops.bf16`); on a CPU without AVX-512 BF16
            one warning line, then float32. Other runtimes and GPUs refuse 'bf16'.

    The library's network reuses each frame's features across windows;
    ``paddle.inference`` and onnxruntime run one graph, every window whole.
    ``runtime`` (attribute) says which runs: 'library', 'paddle_inference' or
    'onnxruntime'; ``precision`` (attribute) what runs: 'fp32' or 'bf16'.

    Raises:
        WeightsError: the model files are missing.
        ConfigError: a device or option this Paddle build cannot use.
    """

    def __init__(self, model_path, device=None, num_threads=None, tensorrt=None,
                 padding='reflection_circle', ensemble=False, tile=None, tile_overlap=16,
                 runtime='auto', feature_cache_mib=DEFAULT_FEATURE_CACHE_MIB, precision='fp32'):
        check_options(num_threads=num_threads, ensemble=ensemble, tile=tile,
                      tile_overlap=tile_overlap, runtime=runtime,
                      feature_cache_mib=feature_cache_mib, precision=precision)
        tune_cpu_runtime()   # process-wide MKL/allocator settings, before any computation
        _check_padding(padding)
        check_tensorrt(tensorrt)
        runner, info, info_file, self.runtime = open_exported(
            model_path, device, num_threads, runtime, feature_cache_mib)
        self.precision = apply_precision(runner, precision, self.runtime)
        num_frames = info.get('num_frames') or runner.input_frames()
        if runner.input_frames() not in (None, num_frames):
            raise WeightsError(f'{info_file}: num_frames {num_frames}, but the program takes '
                               f'{runner.input_frames()} frames; re-export the model')
        if not num_frames:
            raise WeightsError(f'{model_path}: frames per window unknown (no {info_file or "info"} '
                               f'file and a dynamic time axis); re-export the model')
        self._setup(runner, int(num_frames), info.get('scale'),
                    int(info.get('size_multiple', _FALLBACK_MULTIPLE)),
                    value(info, 'min_max'), padding, ensemble, tile, tile_overlap)

    @classmethod
    def from_config(cls, cfg, weights, overrides=(), num_threads=None,
                    padding='reflection_circle', ensemble=False, tile=None, tile_overlap=16,
                    device=None, tensorrt=None, feature_cache_mib=DEFAULT_FEATURE_CACHE_MIB,
                    precision='fp32'):
        """A predictor running the config's generator as a dynamic graph.

        Args:
            cfg: config file path or loaded config.
            weights: ``.pdparams`` with the generator's weights.
            overrides: ``key=value`` strings applied when ``cfg`` is a path.
            num_threads: CPU math threads.
            padding: temporal padding at clip ends.
            ensemble: average over the 8 flips/transposes of each window.
            tile, tile_overlap: restore large frames in overlapping tiles.
            device: 'cpu', 'gpu' or 'gpu:N'; None: the GPU if there is one, else the CPU.
            tensorrt: must be None (TensorRT runs exported models only; `check_tensorrt`).
            feature_cache_mib: memory for per-frame features reused by the windows
                that share a frame (`edvr.deploy.feature_cache`); 0 turns reuse off.
            precision: 'fp32' or 'bf16' (see the class).
        """
        from edvr import components  # noqa: F401  (registers every component)
        from edvr.config import load_config
        from edvr.registry import NETWORKS, build_from_config
        from edvr.settings import check_types
        from edvr.weights import load_generator_weights

        check_options(num_threads=num_threads, ensemble=ensemble, tile=tile,
                      tile_overlap=tile_overlap, feature_cache_mib=feature_cache_mib,
                      precision=precision)
        tune_cpu_runtime()   # process-wide MKL/allocator settings, before any computation
        _check_padding(padding)
        check_tensorrt(tensorrt)
        card = parse_device(device)
        paddle.set_device('cpu' if card == 'cpu' else f'gpu:{card}')
        if isinstance(cfg, (str, os.PathLike)):
            cfg = load_config(str(cfg), overrides)
        check_types(cfg)  # a mapping given directly is checked like a file
        net_cfg = (cfg.get('model') or {}).get('generator')
        net = build_from_config(net_cfg, NETWORKS, where='model.generator')
        load_generator_weights(net, weights)
        predictor = cls.__new__(cls)
        predictor.runtime = 'library'
        runner = DygraphRunner(net, num_threads, feature_cache_mib)
        predictor.precision = apply_precision(runner, precision)
        predictor._setup(runner, int(net.nframes), int(net.scale_factor),
                         int(net.size_multiple), value(cfg, 'min_max'), padding, ensemble,
                             tile, tile_overlap)
        return predictor

    def _setup(self, runner, num_frames, scale, size_multiple, min_max, padding, ensemble=False,
               tile=None, tile_overlap=16):
        _check_padding(padding)
        if tile is not None and (int(tile) < 1 or not 0 <= int(tile_overlap) < int(tile)):
            raise ConfigError(f'tile {tile}, tile_overlap {tile_overlap}: expected tile >= 1 and '
                              f'0 <= overlap < tile')
        self.ensemble = bool(ensemble)
        self.tile = None if tile is None else int(tile)
        self.tile_overlap = int(tile_overlap)
        self.runner = runner
        self.num_frames = num_frames
        self.scale = None if scale is None else int(scale)
        self.size_multiple = size_multiple
        self.min_max = tuple(float(v) for v in min_max)
        self.padding = padding

    def restore(self, lq):
        """Run the network on windows of any size.

        Args:
            lq: float (b, t, c, h, w) array (or tensor) in ``min_max``.

        Returns:
            float32 ndarray (b, c, h * scale, w * scale).
        """
        lq = lq.numpy() if hasattr(lq, 'numpy') else np.asarray(lq)
        if lq.ndim != 5 or lq.shape[1] != self.num_frames or lq.shape[2] != 3:
            raise DataError(f'Predictor.restore: expected (b, {self.num_frames}, 3, h, w) frames, '
                            f'got shape {lq.shape}')
        if hasattr(self.runner, 'start_window'):
            self.runner.start_window()
        if not self.ensemble:
            return self._restore_once(lq)
        outputs = []
        for transpose, flip_h, flip_w in itertools.product((False, True), repeat=3):
            out = self._restore_once(np.ascontiguousarray(_dihedral(lq, transpose, flip_h, flip_w)))
            outputs.append(_dihedral(out, transpose, flip_h, flip_w, inverse=True))
        return np.mean(outputs, axis=0, dtype=np.float32)

    def _restore_once(self, lq):
        if self.tile and max(lq.shape[-2:]) > self.tile:
            if self.scale is None:  # learn the scale from one small pass
                self._run_padded(lq[..., :self.size_multiple, :self.size_multiple])
            return restore_tiled(self._run_padded, lq, self.tile, self.tile_overlap, self.scale)
        return self._run_padded(lq)

    def _run_padded(self, lq):
        out, scale = run_padded(self.runner, lq, self.size_multiple)
        if self.scale is None:
            self.scale = scale
        elif scale != self.scale:  # an .edvr.yml that does not describe its program
            raise WeightsError(f'the model upscales {scale}x but its .edvr.yml says scale '
                               f'{self.scale}; re-export the model')
        return out

    def run(self, frames):
        """Restore the centre frame of one window.

        Args:
            frames: (t, h, w, 3) uint8 RGB, t = `num_frames` (array or list of frames).

        Returns:
            uint8 (h * scale, w * scale, 3) RGB.
        """
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[0] != self.num_frames or frames.shape[3] != 3:
            raise DataError(f'Predictor.run: expected ({self.num_frames}, h, w, 3) RGB frames, '
                            f'got shape {frames.shape}')
        if frames.dtype != np.uint8:
            raise DataError(f'Predictor.run: expected uint8 frames, got {frames.dtype}')
        low, high = self.min_max
        lq = frames.astype(np.float32).transpose(0, 3, 1, 2) / 255. * (high - low) + low
        return tensor2img(self.restore(lq[None])[0], self.min_max)

    def run_sequence(self, frames):
        """Restore every frame of a clip with a sliding window, in order.

        Frames are consumed lazily; only those a window can still need are kept.

        Args:
            frames: iterable of (h, w, 3) uint8 RGB frames, all of one size.

        Yields:
            uint8 (h * scale, w * scale, 3) RGB, one per input frame.

        Raises:
            DataError: no frames, frames of different sizes, or a clip too short
                for the window under the padding mode.
        """
        source = iter(frames)
        half = self.num_frames // 2
        buffer, read, exhausted, shape = {}, 0, False, None
        center = 0
        while True:
            # A window may reach 2 * half frames beyond its centre (end padding modes).
            while not exhausted and read <= center + 2 * half:
                frame = next(source, None)
                if frame is None:
                    exhausted = True
                    break
                frame = np.asarray(frame)
                if shape is None:
                    shape = frame.shape
                elif frame.shape != shape:
                    raise DataError(f'frame {read} has shape {frame.shape}, frame 0 {shape}')
                buffer[read] = frame
                read += 1
            if read == 0:
                raise DataError('the clip has no frames')
            if center >= read:
                return
            try:
                indices = padded_frame_indices(center, self.num_frames, read, self.padding)
            except DataError as exc:
                raise DataError(f'{exc}; --padding replicate works for any length') from None
            yield self.run(np.stack([buffer[i] for i in indices]))
            for stale in [i for i in buffer if i < center + 1 - 2 * half]:
                del buffer[stale]
            center += 1

    def run_video(self, source, destination, keep_audio=True, progress=True, **encoding):
        """Super-resolve a video file; see `edvr.deploy.video.upscale_video`.

        ``encoding``: ``crf``, ``preset``, ``lossless``, ``frames_out``.
        """
        from edvr.deploy.video import upscale_video
        return upscale_video(self, source, destination, keep_audio, progress, **encoding)

    def restore_folder(self, input_dir, output_dir):
        """Restore every frame of one clip's folder into PNGs; see `edvr.deploy.folder.restore_folder`."""
        from edvr.deploy.folder import restore_folder
        return restore_folder(self, input_dir, output_dir)

    def evaluate(self, cfg, split='test', bicubic=True):
        """PSNR/SSIM over the config's ``dataset.<split>``; see `edvr.deploy.scoring.score_dataset`."""
        from edvr.deploy.scoring import score_dataset
        return score_dataset(self, cfg, split, bicubic)
