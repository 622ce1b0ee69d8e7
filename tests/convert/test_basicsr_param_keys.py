# SPDX-License-Identifier: Apache-2.0
"""Which weights of a BasicSR file are converted: 'params' when the file holds both
'params' and 'params_ema' (as BasicSR's loader defaults to), else 'params_ema'."""
import numpy as np

from edvr.convert.convert import convert_checkpoint
from tests.convert.source_layers import VARIANTS, random_weights
from tests.convert.torch_writer import save_zip, state_dict

ARCH = VARIANTS['sr_wo_tsa']


def _convert(tmp_path, obj):
    src = str(tmp_path / 'edvr.pth')
    save_zip(obj, src)
    return convert_checkpoint(src)


def test_params_win_over_params_ema(tmp_path):
    raw, averaged = random_weights(ARCH, seed=1), random_weights(ARCH, seed=2)
    expected, _, _ = _convert(tmp_path, {'params': state_dict(raw)})
    state, _, info = _convert(tmp_path, {'params_ema': state_dict(averaged),
                                         'params': state_dict(raw)})
    assert info == {'source': 'basicsr', 'found': "'params'"}
    assert list(state) == list(expected)
    for key in expected:
        np.testing.assert_array_equal(state[key], expected[key], err_msg=key)


def test_params_ema_alone_is_used(tmp_path):
    averaged = random_weights(ARCH, seed=2)
    expected, _, _ = _convert(tmp_path, {'params': state_dict(averaged)})
    state, _, info = _convert(tmp_path, {'params_ema': state_dict(averaged)})
    assert info == {'source': 'basicsr', 'found': "'params_ema'"}
    for key in expected:
        np.testing.assert_array_equal(state[key], expected[key], err_msg=key)
