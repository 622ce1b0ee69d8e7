# SPDX-License-Identifier: Apache-2.0
"""Weights from PyTorch EDVR implementations (BasicSR, mmagic), read without torch."""
from edvr.convert.convert import (config_mismatches, config_snippet, convert_checkpoint,
                                  write_paddle_weights)
from edvr.convert.torch_checkpoint import load_torch_checkpoint

__all__ = ['config_mismatches', 'config_snippet', 'convert_checkpoint', 'load_torch_checkpoint',
           'write_paddle_weights']
