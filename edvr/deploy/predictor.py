# SPDX-License-Identifier: Apache-2.0
"""`Predictor`: restore video frames with an exported model or a trained network.

Two back ends behind one API:

* an exported model (`tools/export_model.py`) run by ``paddle.inference``
  (CPU, or GPU when Paddle is built with CUDA);
* a config plus weights run as a dynamic graph (`Predictor.from_config`), for
  users without an exported model.

Frames of any size are reflect-padded to the network's size multiple and the
output is cropped back (`edvr.deploy.padding`). A whole clip is restored with a
sliding window whose ends are padded by a temporal padding mode
(`edvr.datasets.frame_index.padded_frame_indices`); frames are read lazily and
only the window's neighbourhood is held in memory. The dygraph back end computes
each frame's features once per clip, not once per window (`edvr.deploy.feature_cache`).
"""
import itertools
import os

import numpy as np
import paddle
import yaml

from edvr.datasets.frame_index import PADDING_MODES, padded_frame_indices
from edvr.deploy.export import find_model_files
from edvr.deploy.feature_cache import FeatureCache
from edvr.deploy.padding import CropBox, pad_to_multiple
from edvr.deploy.tiling import restore_tiled
from edvr.errors import ConfigError, DataError, WeightsError
from edvr.metrics import tensor2img
from edvr.utils.device import available_cores, env_threads, set_cpu_threads, tune_cpu_runtime

# Size multiple assumed for an exported model without its .edvr.yml (EDVR's
# largest: 16 with HR_in, which also satisfies the 4 of the others).
_FALLBACK_MULTIPLE = 16
# Memory the dygraph back end may keep per-frame features in (EDVR-M at LR 180x320: ~19 MiB
# a frame).
DEFAULT_FEATURE_CACHE_MIB = 1024


def default_threads(num_threads=None):
    """Math threads: ``num_threads``, else EDVR_NUM_THREADS, else the available cores."""
    return max(int(num_threads or env_threads() or available_cores()), 1)


def default_device():
    """'gpu' when Paddle is built with CUDA and sees a card, else 'cpu'."""
    if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        return 'gpu'
    return 'cpu'


def check_tensorrt(tensorrt):
    """Refuse TensorRT, which this project does not run.

    Paddle 3 exports ``.json`` (PIR) programs; ``paddle.inference``'s
    ``enable_tensorrt_engine`` applies no TensorRT pass to those, and Paddle 3's
    route for them (``paddle.tensorrt.convert``) is not wired up here.
    """
    if tensorrt:
        raise ConfigError(f'--run_mode trt_{tensorrt}: TensorRT is not supported (Paddle 3 .json models '
                          f'need paddle.tensorrt.convert); use --run_mode fluid with --device gpu')


def parse_device(device):
    """'cpu', 'gpu' or 'gpu:N' (None: `default_device`) -> 'cpu', or the GPU index N."""
    device = device or default_device()
    kind, _, card = device.partition(':')
    if kind == 'gpu' and not paddle.is_compiled_with_cuda():
        raise ConfigError(f'--device {device}: this Paddle build has no CUDA; use cpu')
    if device != 'cpu' and not (kind == 'gpu' and (card == '' or card.isdigit())):
        raise ConfigError(f'--device {device!r}: expected cpu, gpu or gpu:N')
    return 'cpu' if device == 'cpu' else int(card or 0)


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


class _InferenceRunner:
    """Runs an exported model with ``paddle.inference``: float32 (b, t, c, h, w) -> (b, c, H, W).

    Args:
        program, params: the model's program and weights files.
        device: 'cpu', 'gpu' or 'gpu:N'; None picks `default_device`.
        num_threads: CPU math threads.
    """

    def __init__(self, program, params, device=None, num_threads=None):
        from paddle import inference
        config = inference.Config(program, params)
        card = parse_device(device)
        if card != 'cpu':
            config.enable_use_gpu(256, card)
        else:
            config.disable_gpu()
            # With oneDNN, Paddle 3.3's CPU predictor segfaults in
            # conv_activation_onednn_fuse_pass (conv + leaky_relu) for this model;
            # deleting only that pass then fails at run time (the oneDNN PIR
            # executor rejects an op attribute: "ConvertPirAttribute2RuntimeAttribute
            # not support ArrayAttribute<DoubleAttribute>"). Plain CPU kernels work.
            config.disable_mkldnn()
            config.set_cpu_math_library_num_threads(default_threads(num_threads))
        config.disable_glog_info()
        self.predictor = inference.create_predictor(config)
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])

    def input_frames(self):
        """The model's fixed frame count, or None if the program leaves it open."""
        shape = self.input.shape()
        return int(shape[1]) if len(shape) == 5 and shape[1] > 0 else None

    def __call__(self, x):
        self.input.reshape(list(x.shape))
        self.input.copy_from_cpu(np.ascontiguousarray(x, dtype=np.float32))
        self.predictor.run()
        return self.output.copy_to_cpu()


class _DygraphRunner:
    """Runs a dygraph network under ``no_grad``: float32 (b, t, c, h, w) -> (b, c, H, W).

    A network with the two stages ``extract_features`` / ``restore_from_features``
    (`EDVRNet`) reuses each frame's features across windows through a `FeatureCache`
    of ``feature_cache_mib`` MiB (0: no cache, whole windows).
    """

    def __init__(self, net, num_threads=None, feature_cache_mib=DEFAULT_FEATURE_CACHE_MIB):
        self.net = net
        self.net.eval()
        if 'gpu' not in paddle.device.get_device():
            set_cpu_threads(default_threads(num_threads))
        if not feature_cache_mib >= 0:
            raise ConfigError(f'feature_cache_mib {feature_cache_mib}: expected MiB >= 0 '
                              f'(0 turns feature reuse off)')
        staged = hasattr(net, 'extract_features') and hasattr(net, 'restore_from_features')
        self.cache = (FeatureCache(net.extract_features, feature_cache_mib)
                      if staged and feature_cache_mib else None)

    def start_window(self):
        """Tell the feature cache that the next call belongs to a new window."""
        if self.cache is not None:
            self.cache.start_window()

    @paddle.no_grad()
    def __call__(self, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.cache is None:
            return self.net(paddle.to_tensor(x)).numpy()
        b, t = x.shape[:2]
        pyramid = self.cache.features(x.reshape((b * t,) + x.shape[2:]))
        x_center = paddle.to_tensor(np.ascontiguousarray(x[:, self.net.center]))
        return self.net.restore_from_features(pyramid, x_center, t).numpy()


def _read_info(info_file):
    """The exported model's ``.edvr.yml`` as a dict ({} without one)."""
    if not info_file:
        return {}
    with open(info_file, encoding='utf-8') as f:
        return yaml.safe_load(f) or {}


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

    An exported model is one graph, so it runs every window whole; only `from_config`
    networks reuse each frame's features across windows.

    Raises:
        WeightsError: the model files are missing.
        ConfigError: a device or option this Paddle build cannot use.
    """

    def __init__(self, model_path, device=None, num_threads=None, tensorrt=None,
                 padding='reflection_circle', ensemble=False, tile=None, tile_overlap=16):
        tune_cpu_runtime()   # process-wide MKL/allocator settings, before any computation
        _check_padding(padding)
        check_tensorrt(tensorrt)
        if str(model_path).endswith('.onnx'):
            from edvr.deploy.onnx_runner import OnnxRunner, onnx_model_files
            _, info_file = onnx_model_files(str(model_path))
            runner = OnnxRunner(str(model_path), device, num_threads)
            info = _read_info(info_file)
        else:
            program, params, info_file = find_model_files(model_path)
            info = _read_info(info_file)
            runner = _InferenceRunner(program, params, device, num_threads)
        num_frames = info.get('num_frames') or runner.input_frames()
        if not num_frames:
            raise WeightsError(f'{model_path}: frames per window unknown (no {info_file or "info"} '
                               f'file and a dynamic time axis); re-export the model')
        self._setup(runner, int(num_frames), info.get('scale'),
                    int(info.get('size_multiple', _FALLBACK_MULTIPLE)),
                    info.get('min_max', (0., 1.)), padding, ensemble, tile, tile_overlap)

    @classmethod
    def from_config(cls, cfg, weights, overrides=(), num_threads=None,
                    padding='reflection_circle', ensemble=False, tile=None, tile_overlap=16,
                    device=None, tensorrt=None, feature_cache_mib=DEFAULT_FEATURE_CACHE_MIB):
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
        """
        from edvr import components  # noqa: F401  (registers every component)
        from edvr.config import load_config
        from edvr.engine.checkpoint import load_generator_weights
        from edvr.registry import NETWORKS, build_from_config

        tune_cpu_runtime()   # process-wide MKL/allocator settings, before any computation
        _check_padding(padding)
        check_tensorrt(tensorrt)
        card = parse_device(device)
        paddle.set_device('cpu' if card == 'cpu' else f'gpu:{card}')
        if isinstance(cfg, (str, os.PathLike)):
            cfg = load_config(str(cfg), overrides)
        net_cfg = (cfg.get('model') or {}).get('generator')
        net = build_from_config(net_cfg, NETWORKS, where='model.generator')
        load_generator_weights(net, weights)
        predictor = cls.__new__(cls)
        runner = _DygraphRunner(net, num_threads, feature_cache_mib)
        predictor._setup(runner, int(net.nframes), int(net.scale_factor),
                         int(net.size_multiple), cfg.get('min_max', (0., 1.)), padding, ensemble,
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
        padded, box = pad_to_multiple(lq, self.size_multiple)
        out = self.runner(padded)
        scale = out.shape[-1] // padded.shape[-1]
        if self.scale is None:
            self.scale = scale
        return CropBox(*(v * scale for v in box)).crop(out)

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
        """Restore every frame in ``input_dir`` (one clip) into ``output_dir``.

        Output frames are PNGs named as the inputs (``0001.jpg`` -> ``0001.png``).
        Every input frame is read and checked before any output is written;
        outputs are written under temporary names and moved into place only
        once all are done, so a failure leaves existing files as they were.

        Returns:
            the number of frames written.

        Raises:
            DataError: a missing input folder, one without frames, an unreadable
                frame or frames of different sizes; a full disk (nothing is replaced).
            EDVRError: an ``output_dir`` that is a file or cannot be created.
        """
        import cv2

        from edvr.datasets.folder import list_frames
        from edvr.datasets.image_io import read_image
        from edvr.utils.output_paths import check_output_folder, full_disk_raises, write_atomic

        if not os.path.isdir(input_dir):
            raise DataError(f'{input_dir}: input folder not found')
        names = list_frames(input_dir)
        if not names:
            raise DataError(f'{input_dir}: no image frames in this folder')
        parent = os.path.dirname(os.path.abspath(output_dir))
        if not os.path.isdir(parent):
            raise DataError(f'{output_dir}: its parent folder {parent} does not exist')
        check_output_folder(output_dir, '--output_path')
        shape = None
        for name in names:  # read every frame once: a bad one stops us before any write
            frame_shape = read_image(os.path.join(input_dir, name), flag=1).shape
            if shape is not None and frame_shape != shape:
                raise DataError(f'{os.path.join(input_dir, name)}: shape {frame_shape}, '
                                f'frame {names[0]} has {shape}')
            shape = frame_shape
        os.makedirs(output_dir, exist_ok=True)
        frames = (read_image(os.path.join(input_dir, n), flag=1) for n in names)
        staged = []
        full_disk = full_disk_raises(lambda exc: DataError(
            f'{exc.filename.removesuffix(".partial")}: no space left on device; no existing '
            f'frame in {output_dir} was replaced; free space and run again'))
        try:
            with full_disk:
                for name, restored in zip(names, self.run_sequence(frames)):
                    final = os.path.join(output_dir, os.path.splitext(name)[0] + '.png')
                    data = cv2.imencode('.png', cv2.cvtColor(restored, cv2.COLOR_RGB2BGR))[1]
                    staged.append((f'{final}.partial', final))
                    write_atomic(staged[-1][0], data.tobytes())
                for temporary, final in staged:
                    os.replace(temporary, final)
        finally:
            for temporary, _ in staged:
                if os.path.exists(temporary):
                    os.remove(temporary)
        return len(names)

    def evaluate(self, cfg, split='test', bicubic=True):
        """PSNR/SSIM over every sample of the config's ``dataset.<split>``.

        Args:
            cfg: loaded config with ``dataset.<split>`` and ``validate.metrics``
                (default: PSNR and SSIM on RGB, no border crop).
            split: which dataset of the config.
            bicubic: also score the bicubic upscale of the centre frame.

        Returns:
            {'model': {metric: mean, 'per_clip': ...}, 'bicubic': ... (if asked),
            'frames': number of frames scored}.
        """
        from edvr import components  # noqa: F401  (registers every component)
        from edvr.datasets.loader import build_dataset, build_eval_loader
        from edvr.engine.evaluator import build_metrics, evaluate, upscale_center

        data_cfg = (cfg.get('dataset') or {}).get(split)
        if not data_cfg:
            raise ConfigError(f'dataset.{split}: missing in the config')
        dataset = build_dataset(data_cfg, where=f'dataset.{split}')
        if len(dataset) == 0:
            raise DataError(f'dataset.{split}: no samples')
        loader = build_eval_loader(data_cfg, dataset)
        metrics_cfg = (cfg.get('validate') or {}).get('metrics') or {
            'psnr': {'name': 'PSNR', 'crop_border': 0}, 'ssim': {'name': 'SSIM', 'crop_border': 0}}
        metrics = build_metrics(metrics_cfg)
        report = {'model': evaluate(lambda lq: paddle.to_tensor(self.restore(lq)), loader,
                                    metrics, self.min_max, desc='inference'),
                  'frames': len(dataset)}
        if bicubic:
            report['bicubic'] = evaluate(upscale_center(self.scale, self.min_max), loader,
                                         metrics, self.min_max, desc='bicubic')
        return report
