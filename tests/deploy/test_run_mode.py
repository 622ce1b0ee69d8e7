# SPDX-License-Identifier: Apache-2.0
"""--device and --run_mode reach both back ends; TensorRT is refused with one line."""
import re

import paddle
import pytest

from edvr.deploy.predictor import Predictor
from edvr.errors import ConfigError
from edvr.utils.paddle_compat import tensorrt_refusal
from tests.tiny import DEMO_CONFIG, tiny_overrides
from tools.inference import main

REFUSAL = (r'^--run_mode trt_fp16: TensorRT is not supported \((Paddle 3 \.json models need '
           r'paddle\.tensorrt\.convert|Paddle 2\.6 \.pdmodel models: not built or tested here)\); '
           r'use --run_mode fluid with --device gpu$')


def error_lines(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith('error:')]


def test_tensorrt_is_refused_for_exported_and_dygraph_models(demo_data, exported, tiny_weights):
    with pytest.raises(ConfigError, match=REFUSAL):
        Predictor(exported[1], device='cpu', tensorrt='fp16')
    with pytest.raises(ConfigError, match=REFUSAL.replace('fp16', 'fp32')):
        Predictor(exported[1], tensorrt='fp32')
    with pytest.raises(ConfigError, match=REFUSAL):
        Predictor.from_config(DEMO_CONFIG, tiny_weights[1], tiny_overrides(demo_data), tensorrt='fp16')


def test_inference_tool_passes_device_and_run_mode_to_a_dygraph_model(demo_data, tiny_weights, capsys,
                                                                     monkeypatch):
    config = ['-c', DEMO_CONFIG, '--load', tiny_weights[1], '-o', *tiny_overrides(demo_data)]
    assert main(config + ['--run_mode', 'trt_fp16']) == 2
    assert [line[len('error: '):] for line in error_lines(capsys)] == [tensorrt_refusal('fp16')]
    assert re.match(REFUSAL, tensorrt_refusal('fp16'))
    assert main(config + ['--device', 'gpu:1']) == 2
    assert error_lines(capsys) == ['error: --device gpu:1: this Paddle build has no CUDA; use cpu']
    assert main(config + ['--device', 'tpu']) == 2
    assert error_lines(capsys) == ["error: --device 'tpu': expected cpu, gpu or gpu:N"]

    chosen = []
    monkeypatch.setattr(paddle, 'is_compiled_with_cuda', lambda: True)
    monkeypatch.setattr(paddle, 'set_device', lambda device: chosen.append(device))
    monkeypatch.setattr(Predictor, 'evaluate', lambda self, cfg, split: {'frames': 0, 'model': {}})
    assert main(config + ['--device', 'gpu:1']) == 0
    assert chosen == ['gpu:1']
