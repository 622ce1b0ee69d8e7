# SPDX-License-Identifier: Apache-2.0
"""Running an ONNX conversion of an exported model with onnxruntime (CPU).

`edvr.deploy.onnx_export` writes such files; the `Predictor` runs them through
`OnnxRunner` like exported Paddle models.
"""
import os

import numpy as np

from edvr.deploy.export import INFO_EXTENSION
from edvr.errors import ConfigError, WeightsError

INSTALL_HINT = 'pip install paddle2onnx onnxruntime'


def require(module, purpose):
    """Import ``module``, or raise ConfigError saying ``purpose`` needs it."""
    try:
        return __import__(module)
    except ImportError as exc:
        raise ConfigError(f'{purpose} needs the {module!r} package ({INSTALL_HINT})') from exc


def onnx_session(onnx_path, num_threads=None):
    """An onnxruntime CPU session for ``onnx_path`` (warnings silenced)."""
    ort = require('onnxruntime', 'running an ONNX model')
    if not os.path.isfile(onnx_path):
        raise WeightsError(f'{onnx_path}: ONNX model not found')
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if num_threads:
        options.intra_op_num_threads = int(num_threads)
    try:
        return ort.InferenceSession(onnx_path, options, providers=['CPUExecutionProvider'])
    except Exception as exc:  # onnxruntime's own types: the file is not a model it can run
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f'{onnx_path}: not an ONNX model onnxruntime can run ({detail}); '
                           f'convert it again (tools/export_model.py --onnx)') from None


def run_onnx(session, frames):
    """Run ``session`` on float32 frames (b, t, c, h, w); returns (b, c, H, W)."""
    name = session.get_inputs()[0].name
    return session.run(None, {name: np.ascontiguousarray(frames, dtype=np.float32)})[0]


class OnnxRunner:
    """Runs an ONNX model with onnxruntime on CPU: float32 (b, t, c, h, w) -> (b, c, H, W).

    Args:
        onnx_path: the ``.onnx`` file.
        device: None or 'cpu' (onnxruntime's CPU provider only).
        num_threads: intra-op threads; None: onnxruntime's default (all cores).
    """

    def __init__(self, onnx_path, device=None, num_threads=None):
        if device not in (None, 'cpu'):
            raise ConfigError(f'--device {device}: ONNX models run on the CPU here; use the '
                              f'exported Paddle model for the GPU')
        self.session = onnx_session(onnx_path, num_threads)

    def input_frames(self):
        """The model's fixed frame count, or None if the model leaves it open."""
        shape = self.session.get_inputs()[0].shape
        return shape[1] if len(shape) == 5 and isinstance(shape[1], int) else None

    def __call__(self, x):
        return run_onnx(self.session, x)


def onnx_model_files(onnx_path):
    """(the .onnx file, its ``.edvr.yml`` info file or None)."""
    if not os.path.isfile(onnx_path):
        raise WeightsError(f'{onnx_path}: ONNX model not found')
    info = onnx_path[:-len('.onnx')] + INFO_EXTENSION
    return onnx_path, info if os.path.isfile(info) else None
