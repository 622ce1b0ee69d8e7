# SPDX-License-Identifier: Apache-2.0
"""The GPU path: runs only where Paddle is built with CUDA and sees a GPU."""
import glob
import json
import os

import paddle
import pytest

from edvr.engine.cli import main
from tests.engine.tiny_run import DEMO_CONFIG, make_tiny_data, tiny_overrides

HAS_GPU = paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


@pytest.mark.skipif(not HAS_GPU, reason='needs Paddle built with CUDA and a visible GPU')
@pytest.mark.parametrize('amp', [False, True])
def test_tiny_training_on_gpu(tmp_path, capsys, amp):
    data = make_tiny_data(tmp_path / 'demo')
    out = str(tmp_path / 'out')
    assert main(['-c', DEMO_CONFIG, '--seed', '1', *(['--amp'] if amp else []),
                 '-o', *tiny_overrides(data, out, 4)]) == 0
    assert 'device: GPU' in capsys.readouterr().out
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    scores = json.load(open(os.path.join(run, 'final_scores.json')))
    assert scores['model']['psnr'] > 20
