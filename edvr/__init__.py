# SPDX-License-Identifier: Apache-2.0
"""edvr: EDVR video super-resolution and deblurring on PaddlePaddle."""
import zlib  # noqa: F401  before any Paddle import: see edvr/utils/paddle_compat.py

__version__ = '0.1.0'


def __getattr__(name):
    """``edvr.Predictor`` without importing Paddle on ``import edvr``."""
    if name == 'Predictor':
        from edvr.deploy.predictor import Predictor
        return Predictor
    raise AttributeError(f'module edvr has no attribute {name!r}')
