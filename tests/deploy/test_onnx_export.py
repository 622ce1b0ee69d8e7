# SPDX-License-Identifier: Apache-2.0
"""ONNX export: onnxruntime reproduces the dygraph net (deformable convs included) at several sizes."""
import os

import numpy as np
import pytest

from edvr.deploy.export import network_info, save_inference_model
from edvr.errors import ConfigError, WeightsError
from edvr.utils.paddle_compat import onnx_export_refusal
from tests.tiny import DEMO_CONFIG, TINY, dygraph, tiny_net
from tools.export_model import main as export_main

if onnx_export_refusal():  # Paddle 2.6; the refusal itself: tests/test_paddle_compat.py
    pytest.skip(onnx_export_refusal(), allow_module_level=True)
onnx = pytest.importorskip('onnx', reason='ONNX tests need onnx (pip install paddle2onnx onnxruntime)')
pytest.importorskip('paddle2onnx', reason='ONNX tests need paddle2onnx')
pytest.importorskip('onnxruntime', reason='ONNX tests need onnxruntime')

from edvr.deploy.onnx_export import export_onnx, max_difference  # noqa: E402
from edvr.deploy.onnx_runner import onnx_session, run_onnx  # noqa: E402

SIZES = [(1, 5, 3, 16, 24), (2, 5, 3, 12, 20)]


def set_offset_convs(net, std, seed=0):
    """Give every DCN's offset/mask conv weights of deviation ``std`` (0: zero offsets)."""
    rng = np.random.default_rng(seed)
    for name, param in net.named_parameters():
        if 'conv_offset_mask' in name:
            param.set_value(rng.normal(0, std, param.shape).astype(np.float32))


@pytest.mark.parametrize('w_tsa', [False, True])
def test_onnx_equals_dygraph(tmp_path, w_tsa):
    net = tiny_net(w_tsa=w_tsa, seed=5)
    set_offset_convs(net, 0.5)  # offsets of several pixels
    # Make the restored residual, not the upsampled input, dominate the output.
    net.conv_last.weight.set_value(net.conv_last.weight * 1000)
    save_inference_model(net, str(tmp_path / 'm'), [[1, 5, 3, 16, 24]], network_info(net))
    path = export_onnx(str(tmp_path / 'm'))
    assert path == str(tmp_path / 'm.onnx')
    assert sorted(os.listdir(tmp_path)) == ['m.edvr.yml', 'm.json', 'm.onnx', 'm.pdiparams']

    model = onnx.load(path)
    deform = [n for n in model.graph.node if n.op_type == 'DeformConv']
    assert len(deform) == 4  # three pyramid levels and the cascade
    for node in deform:
        groups = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert groups['offset_group'] == TINY['groups']

    session = onnx_session(path, num_threads=1)
    rng = np.random.default_rng(1)
    for size in SIZES:
        x = rng.random(size).astype(np.float32)
        want = dygraph(net, x)
        got = run_onnx(session, x)
        assert got.shape == want.shape == (size[0], 3, 4 * size[3], 4 * size[4])
        assert np.abs(got - want).max() < 2e-5 * np.abs(want).max()
    assert max_difference(str(tmp_path / 'm'), path, SIZES[0]) < 2e-5 * np.abs(want).max()
    # The agreement covers the offsets: with them zeroed the net gives another output.
    set_offset_convs(net, 0.0)
    assert np.abs(dygraph(net, x) - got).max() > 1e-3 * np.abs(want).max()  # 1000x the error above


def test_tool_exports_onnx_and_reports_difference(tmp_path, tiny_weights, capsys):
    _, weights = tiny_weights
    argv = ['-c', DEMO_CONFIG, '--load', weights, '--inputs_size', '1,5,3,16,24',
            '--output_dir', str(tmp_path), '--model_name', 'tiny', '--onnx',
            '-o', 'demo_data=null', 'model.generator.nf=8', 'model.generator.groups=2',
            'model.generator.front_RBs=1', 'model.generator.back_RBs=1',
            'model.generator.w_TSA=False']
    assert export_main(argv) == 0
    out = capsys.readouterr().out
    assert f'exported {tmp_path}/tiny.onnx' in out
    difference = float(out.split('max |difference| ')[1].split()[0])
    assert difference < 1e-5


def test_bad_destinations_leave_nothing(tmp_path, exported):
    _, prefix = exported
    with pytest.raises(ConfigError, match='does not exist'):
        export_onnx(prefix, str(tmp_path / 'missing' / 'm.onnx'))
    assert not (tmp_path / 'missing').exists()
    with pytest.raises(WeightsError, match='exported model not found'):
        export_onnx(str(tmp_path / 'nothing'))
    with pytest.raises(WeightsError, match='ONNX model not found'):
        onnx_session(str(tmp_path / 'nothing.onnx'))


def test_existing_onnx_survives_failed_conversion(tmp_path, exported, monkeypatch):
    import paddle2onnx
    _, prefix = exported
    target = tmp_path / 'keep.onnx'
    target.write_bytes(b'previous model')

    def crash(*args, **kwargs):
        raise RuntimeError('converter crashed')

    monkeypatch.setattr(paddle2onnx, 'export', crash)
    with pytest.raises(RuntimeError, match='converter crashed'):
        export_onnx(prefix, str(target))
    assert target.read_bytes() == b'previous model'
    assert sorted(os.listdir(tmp_path)) == ['keep.onnx']


def test_predictor_runs_onnx_like_paddle(tmp_path, exported):
    """Any frame size (padded inside) and whole clips: the ONNX file restores like the Paddle model."""
    from edvr.deploy.predictor import Predictor
    _, prefix = exported
    path = export_onnx(prefix, str(tmp_path / 'tiny.onnx'))
    assert sorted(os.listdir(tmp_path)) == ['tiny.edvr.yml', 'tiny.onnx']  # the info travels along
    frames = np.random.default_rng(2).integers(0, 256, (7, 18, 22, 3), dtype=np.uint8)
    by_paddle = Predictor(prefix, device='cpu', num_threads=1)
    by_onnx = Predictor(path, num_threads=1)
    assert by_onnx.num_frames == 5 and by_onnx.size_multiple == 4
    window = by_onnx.run(frames[:5])
    assert window.shape == (72, 88, 3)
    assert np.abs(window.astype(int) - by_paddle.run(frames[:5]).astype(int)).max() <= 1
    clip_onnx, clip_paddle = list(by_onnx.run_sequence(frames)), list(by_paddle.run_sequence(frames))
    assert len(clip_onnx) == 7
    assert max(np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(clip_onnx, clip_paddle)) <= 1
    with pytest.raises(ConfigError, match='ONNX models run on the CPU'):
        Predictor(path, device='gpu')


def test_inference_tool_scores_dataset_with_onnx(tmp_path, demo_data, exported, capsys):
    from tests.tiny import tiny_overrides
    from edvr.cli.infer import build_parser, run
    _, prefix = exported
    path = export_onnx(prefix, str(tmp_path / 'tiny.onnx'))
    common = ['-c', DEMO_CONFIG, '-o', *tiny_overrides(demo_data), '--dataset', 'test']
    by_onnx = run(build_parser().parse_args(['--model_path', path] + common))
    by_paddle = run(build_parser().parse_args(['--model_path', prefix] + common))
    assert 'dataset.test: 5 frames' in capsys.readouterr().out
    assert by_onnx['frames'] == by_paddle['frames'] == 5
    assert abs(by_onnx['model']['psnr'] - by_paddle['model']['psnr']) < 0.01
    assert by_onnx['bicubic']['psnr'] == by_paddle['bicubic']['psnr']
