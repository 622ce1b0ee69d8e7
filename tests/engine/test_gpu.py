# SPDX-License-Identifier: Apache-2.0
"""The GPU path: runs only where Paddle is built with CUDA and sees a GPU.

On the tiny demo data an untrained network already scores ~26.5 dB and bicubic
upsampling ~31.8 dB; 100 iterations on the CPU reach 31.1 dB. A GPU run must
learn as much: it is scored against its own untrained start (same seed, so the
same initial weights) and against bicubic, which a training bug (no optimizer
step, a wrong loss, a zero learning rate, float16 overflow) cannot reach.
"""
import glob
import json
import os

import paddle
import pytest

from edvr.cli.train import main
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides

HAS_GPU = paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
ITERATIONS = 100


def _scores(data, out, iterations, *flags):
    assert main(['-c', DEMO_CONFIG, '--seed', '1', *flags, '-o',
                 *tiny_overrides(data, out, iterations), 'log_config.interval=20',
                 'log_config.visiual_interval=0']) == 0
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    return json.load(open(os.path.join(run, 'final_scores.json')))


@pytest.mark.skipif(not HAS_GPU, reason='GPU test: needs Paddle built with CUDA and a visible GPU')
@pytest.mark.parametrize('amp', [False, True])
def test_tiny_training_on_gpu_learns(tmp_path, capsys, amp):
    data = make_tiny_data(tmp_path / 'demo')
    untrained = _scores(data, str(tmp_path / 'untrained'), ITERATIONS, '--evaluate-only')
    trained = _scores(data, str(tmp_path / 'trained'), ITERATIONS, *(['--amp'] if amp else []))
    assert 'device: GPU' in capsys.readouterr().out
    assert trained['iteration'] == ITERATIONS
    start, end, bicubic = untrained['model']['psnr'], trained['model']['psnr'], \
        trained['bicubic']['psnr']
    assert end > start + 3.0, (start, end)
    assert end > bicubic - 1.5, (end, bicubic)
    assert trained['model']['ssim'] > untrained['model']['ssim']
