# SPDX-License-Identifier: Apache-2.0
"""The back ends a `Predictor` runs: an exported model under ``paddle.inference``, or a
dygraph network (with per-frame feature reuse), and the device and thread choices they share.

Each runner maps float32 (b, t, c, h, w) windows to (b, c, H, W) outputs.
"""
import numpy as np
import paddle

from edvr.deploy.feature_cache import FeatureCache
from edvr.deploy.model_info import read_model_info
from edvr.errors import ConfigError, WeightsError
from edvr.utils.device import available_cores, env_threads, set_cpu_threads
from edvr.utils.inference_files import program_input_shape
from edvr.utils.paddle_compat import inference_config, readable_program, tensorrt_refusal

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
    route for them (``paddle.tensorrt.convert``) is not wired up here; on Paddle 2.6
    the engine was never built or tested here (no GPU).
    """
    if tensorrt:
        raise ConfigError(tensorrt_refusal(tensorrt))


def parse_device(device):
    """'cpu', 'gpu' or 'gpu:N' (None: `default_device`) -> 'cpu', or the GPU index N."""
    device = device or default_device()
    kind, _, card = device.partition(':')
    if kind == 'gpu' and not paddle.is_compiled_with_cuda():
        raise ConfigError(f'--device {device}: this Paddle build has no CUDA; use cpu')
    if device != 'cpu' and not (kind == 'gpu' and (card == '' or card.isdigit())):
        raise ConfigError(f'--device {device!r}: expected cpu, gpu or gpu:N')
    return 'cpu' if device == 'cpu' else int(card or 0)


class InferenceRunner:
    """Runs an exported model with ``paddle.inference``: float32 (b, t, c, h, w) -> (b, c, H, W).

    Args:
        program, params: the model's program and weights files.
        device: 'cpu', 'gpu' or 'gpu:N'; None picks `default_device`.
        num_threads: CPU math threads.
    """

    def __init__(self, program, params, device=None, num_threads=None):
        from paddle import inference
        if readable_program(program):  # a Paddle 3 model on Paddle 2.6
            raise WeightsError(readable_program(program))
        card = parse_device(device)
        config = inference_config(program, params, None if card == 'cpu' else card,
                                  default_threads(num_threads))
        self.program = program
        self.predictor = inference.create_predictor(config)
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])

    def input_frames(self):
        """The model's fixed frame count, or None if the program leaves it open."""
        shape = self.input.shape()
        if len(shape) != 5:  # a PIR predictor shows no shape before the first run
            shape = program_input_shape(self.program) or []
        return int(shape[1]) if len(shape) == 5 and shape[1] > 0 else None

    def __call__(self, x):
        self.input.reshape(list(x.shape))
        self.input.copy_from_cpu(np.ascontiguousarray(x, dtype=np.float32))
        self.predictor.run()
        return self.output.copy_to_cpu()


class DygraphRunner:
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

    def input_frames(self):
        """The network's frames per window (None if it does not say)."""
        frames = getattr(self.net, 'nframes', None)
        return None if frames is None else int(frames)

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


def apply_precision(runner, precision, runtime='library'):
    """Run ``runner`` in ``precision`` ('fp32' or 'bf16', see `edvr.ops.bf16`).

    Returns the precision that runs: 'bf16' falls back to 'fp32', after one warning line
    saying why, on a CPU (or build) without AVX-512 BF16.

    Raises:
        ConfigError: 'bf16' for a model that the library's network does not run on the CPU
            (``paddle.inference``, onnxruntime, a GPU).
    """
    from edvr.ops.bf16 import check_precision, resolve_precision, set_precision
    check_precision(precision, 'Predictor: precision')
    if precision == 'fp32':
        return 'fp32'
    if not isinstance(runner, DygraphRunner):
        raise ConfigError(f'precision bf16: runs on the library\'s network with its C++ CPU '
                          f'kernels, but this model runs on {runtime}; use precision fp32, or '
                          f'an export made by this version with runtime auto or library')
    if 'gpu' in paddle.device.get_device():
        raise ConfigError('precision bf16: runs on the CPU only (AVX-512 BF16); use '
                          'precision fp32 on a GPU')
    precision = resolve_precision(precision)
    set_precision(runner.net, precision)
    return precision


def read_info(info_file):
    """The exported model's ``.edvr.yml`` as a checked dict ({} without one)."""
    return read_model_info(info_file)
