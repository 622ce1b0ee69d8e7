# SPDX-License-Identifier: Apache-2.0
"""precision='bf16' on the Predictor and --precision on the restoring commands: where it runs,
where it is refused, and the float32 fallback on a CPU without BF16."""
import numpy as np
import pytest

from edvr.cli import infer, video
from edvr.cli.restore_options import restore_options
from edvr.deploy.predictor import Predictor
from edvr.errors import ConfigError
from edvr.ops import bf16
from tests.tiny import DEMO_CONFIG, tiny_overrides


@pytest.fixture
def needs_bf16():
    reason = bf16.bf16_unavailable_reason()
    if reason:
        pytest.skip(f'bfloat16 kernels unavailable here: {reason}')


def frames(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (5, 12, 16, 3), dtype=np.uint8)


def from_config(tiny_weights, demo_data, **kwargs):
    return Predictor.from_config(DEMO_CONFIG, tiny_weights[1], tiny_overrides(demo_data),
                                 num_threads=1, **kwargs)


def test_from_config_bf16_close_to_fp32_and_fp32_unchanged(needs_bf16, tiny_weights, demo_data):
    default = from_config(tiny_weights, demo_data)
    fp32 = from_config(tiny_weights, demo_data, precision='fp32')
    low = from_config(tiny_weights, demo_data, precision='bf16')
    assert (default.precision, fp32.precision, low.precision) == ('fp32', 'fp32', 'bf16')
    a, b, c = default.run(frames()), fp32.run(frames()), low.run(frames())
    np.testing.assert_array_equal(a, b)
    diff = np.abs(c.astype(int) - a)
    assert diff.max() <= 3 and 0 < diff.mean() < 0.5


def test_exported_model_run_by_the_library_takes_bf16(needs_bf16, exported_with_network):
    low = Predictor(exported_with_network[1], num_threads=1, precision='bf16')
    fp32 = Predictor(exported_with_network[1], num_threads=1)
    assert (low.runtime, low.precision, fp32.precision) == ('library', 'bf16', 'fp32')
    assert bf16.network_precision(low.runner.net) == 'bf16'
    assert bf16.network_precision(fp32.runner.net) == 'fp32'
    assert np.abs(low.run(frames(1)).astype(int) - fp32.run(frames(1))).max() <= 3


@pytest.mark.parametrize('runtime', ['paddle_inference', 'auto'])
def test_other_runtimes_refuse_bf16(exported, exported_with_network, runtime):
    # 'auto' on an export without a network record runs paddle.inference
    model = exported_with_network[1] if runtime == 'paddle_inference' else exported[1]
    with pytest.raises(ConfigError, match='precision bf16: .* runs on paddle_inference'):
        Predictor(model, num_threads=1, runtime=runtime, precision='bf16')


@pytest.mark.parametrize('bad', ['fp16', 'BF16', None])
def test_unknown_precision_refused(tiny_weights, demo_data, exported_with_network, bad):
    with pytest.raises(ConfigError, match="precision=.*expected 'fp32' or 'bf16'"):
        Predictor(exported_with_network[1], precision=bad)
    with pytest.raises(ConfigError, match="precision=.*expected 'fp32' or 'bf16'"):
        from_config(tiny_weights, demo_data, precision=bad)


def test_without_bf16_one_line_and_fp32_numbers(monkeypatch, bf16_lines, tiny_weights,
                                                demo_data):
    want = from_config(tiny_weights, demo_data).run(frames(2))
    monkeypatch.setattr(bf16, 'cpu_has_bf16', lambda: False)
    monkeypatch.setattr(bf16, '_warned', set())
    first = from_config(tiny_weights, demo_data, precision='bf16')
    second = from_config(tiny_weights, demo_data, precision='bf16')
    assert first.precision == second.precision == 'fp32'
    assert len(bf16_lines) == 1 and 'no AVX-512 BF16' in bf16_lines[0]
    assert 'running float32' in bf16_lines[0]
    np.testing.assert_array_equal(first.run(frames(2)), want)


def test_cli_precision_flag(needs_bf16, tmp_path, exported_with_network, demo_data):
    lq = f'{demo_data}/REDS4_test_sharp_bicubic/X4/000'
    outs = {}
    for precision in ('fp32', 'bf16'):
        out = tmp_path / precision
        assert infer.main(['--model_path', exported_with_network[1], '--input', lq,
                           '--output_path', str(out), '--num_threads', '1',
                           '--precision', precision]) == 0
        outs[precision] = sorted(out.iterdir())
    assert [p.name for p in outs['fp32']] == [p.name for p in outs['bf16']]
    assert any(a.read_bytes() != b.read_bytes() for a, b in zip(outs['fp32'], outs['bf16']))


def test_cli_bad_precision_is_one_line(capsys, exported_with_network, tmp_path):
    code = infer.main(['--model_path', exported_with_network[1], '--input', str(tmp_path),
                       '--output_path', str(tmp_path / 'o'), '--precision', 'half'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["error: argument --precision: expected fp32 or bf16, got 'half'"]


def test_cli_refused_runtime_exits_2(capsys, exported_with_network, demo_data, tmp_path):
    code = infer.main(['--model_path', exported_with_network[1], '--runtime', 'paddle_inference',
                       '--input', f'{demo_data}/REDS4_test_sharp_bicubic/X4/000',
                       '--output_path', str(tmp_path / 'o'), '--precision', 'bf16'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and 'precision bf16' in err[0]
    assert not (tmp_path / 'o').exists()


def test_video_flag_reaches_the_predictor_options():
    parser = video.build_parser()
    args = parser.parse_args(['in.mp4', '-o', 'out.mp4', '--model_path', 'm',
                              '--precision', 'BF16'])
    assert restore_options(args)['precision'] == 'bf16'
    assert restore_options(parser.parse_args(['in.mp4', '-o', 'o.mp4', '--model_path', 'm']))[
        'precision'] == 'fp32'
