# SPDX-License-Identifier: Apache-2.0
"""Export: the static model equals the dygraph net at several sizes; atomic, restoring files."""
import ast
import os
import re
import sys

import numpy as np
import paddle
import pytest
import yaml

from edvr.config import load_config
from edvr.deploy.export import (export_model, file_sha256, find_model_files, network_info,
                               save_inference_model)
from edvr.deploy.predictor import Predictor
from edvr.deploy.runners import InferenceRunner
from edvr.errors import ConfigError, DataError, WeightsError
from edvr.utils.paddle_compat import program_format, saved_suffixes
from edvr.weights import read_state
from tests.tiny import DEMO_CONFIG, dygraph, tiny_net, tiny_overrides
from tools.export_model import main as export_main

SIZES = [(1, 5, 3, 16, 24), (1, 5, 3, 32, 20), (2, 5, 3, 8, 12)]


def model_files(prefix, network=True):
    """The sorted files of an export at ``prefix``: Paddle's (program and weights) and ours
    (the description and, with a network record, the weights in the project's format)."""
    return sorted([prefix + '.edvr.yml'] + ([prefix + '.pdparams'] if network else []) +
                  [prefix + suffix for suffix in saved_suffixes()])


@pytest.mark.parametrize('w_tsa', [False, True])
def test_exported_equals_dygraph_at_several_sizes(tmp_path, w_tsa):
    net = tiny_net(w_tsa=w_tsa, seed=3)
    rng = np.random.default_rng(0)
    inputs = [rng.random(size).astype(np.float32) for size in SIZES]
    expected = [dygraph(net, x) for x in inputs]
    files = save_inference_model(net, str(tmp_path / 'm'), [[1, 5, 3, 180, 320]],
                                 network_info(net))
    assert sorted(os.path.basename(f) for f in files) == model_files('m', network=False)
    assert sorted(os.listdir(tmp_path)) == model_files('m', network=False)  # no temp left
    program, params, _ = find_model_files(str(tmp_path / 'm'))
    runner = InferenceRunner(program, params, 'cpu', 1)
    for x, want in zip(inputs, expected):
        got = runner(x)
        assert got.shape == want.shape == (x.shape[0], 3, 4 * x.shape[3], 4 * x.shape[4])
        assert np.abs(got - want).max() < 1e-5
    # The net is a dynamic graph again afterwards (each layer), in eval mode.
    assert not net.training and 'forward' not in net.__dict__
    assert [name for name, layer in net.named_sublayers() if 'forward' in layer.__dict__] == []
    with pytest.raises(DataError, match='divisible by 4'):
        dygraph(net, np.zeros((1, 5, 3, 18, 22), np.float32))


def test_failed_export_leaves_no_file(tmp_path, monkeypatch):
    net = tiny_net()

    def crash(layer, path, **kwargs):
        with open(path + '.pdiparams', 'wb') as f:
            f.write(b'half')
        raise RuntimeError('disk full')

    monkeypatch.setattr(paddle.jit, 'save', crash)
    with pytest.raises(RuntimeError, match='disk full'):
        save_inference_model(net, str(tmp_path / 'm'), [[1, 5, 3, 16, 16]])
    assert os.listdir(tmp_path) == []
    assert 'forward' not in net.__dict__


def test_tool_writes_model_and_info(tmp_path, demo_data, tiny_weights, capsys):
    net, weights = tiny_weights
    argv = ['-c', DEMO_CONFIG, '--load', weights, '--inputs_size', '1,5,3,180,320',
            '--model_name', 'edvr_tiny', '--output_dir', str(tmp_path / 'out'),
            '-o', *tiny_overrides(demo_data)]
    assert export_main(argv) == 0
    out = tmp_path / 'out'
    assert re.fullmatch(rf'exported {out}/edvr_tiny in \d+\.\d s: '
                        rf'{re.escape(", ".join(model_files("edvr_tiny")))}\n',
                        capsys.readouterr().out)
    program, params, info = find_model_files(str(tmp_path / 'out'))  # a folder with one model
    assert program == str(tmp_path / 'out' / ('edvr_tiny' + program_format()))
    with open(info) as f:
        described = yaml.safe_load(f)
    network = described.pop('network')
    assert described.pop('weights_sha256') == file_sha256(str(out / 'edvr_tiny.pdparams'))
    assert described == {'num_frames': 5, 'scale': 4, 'size_multiple': 4, 'min_max': [0.0, 1.0]}
    assert {k: network[k] for k in ('name', 'nf', 'groups', 'front_RBs', 'back_RBs', 'w_TSA',
                                    'nframes', 'scale_factor')} == \
        {'name': 'EDVRNet', 'nf': 8, 'groups': 2, 'front_RBs': 1, 'back_RBs': 1,
         'w_TSA': False, 'nframes': 5, 'scale_factor': 4}
    state = read_state(str(out / 'edvr_tiny.pdparams'))['generator']  # the project's format
    assert all(np.array_equal(state[k], v.numpy()) for k, v in net.state_dict().items())
    x = np.random.default_rng(2).random((1, 5, 3, 12, 8)).astype(np.float32)
    got = InferenceRunner(program, params, 'cpu', 1)(x)
    assert np.abs(got - dygraph(net, x)).max() < 1e-5
    library = Predictor(str(out / 'edvr_tiny'), device='cpu', num_threads=1)
    assert library.runtime == 'library'  # rebuilt from the export's record, on the CPU
    assert np.abs(library.restore(x) - got).max() < 1e-5
    # Without --model_name the file is named as PaddleGAN names it.
    cfg = load_config(DEMO_CONFIG, tiny_overrides(demo_data))
    prefix = str(tmp_path / 'd' / 'edvrmodel_generator')
    written = export_model(cfg, weights, '1,5,3,8,8', str(tmp_path / 'd'))
    assert list(written) == [prefix]
    assert sorted(written[prefix]) == model_files(prefix)
    assert sorted(os.listdir(tmp_path / 'd')) == model_files('edvrmodel_generator')


def _error_line(capsys):
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith('error:')]
    assert len(lines) == 1, lines
    return lines[0]


def test_tool_bad_input(tmp_path, demo_data, tiny_weights, capsys):
    _, weights = tiny_weights
    base = ['-c', DEMO_CONFIG, '--output_dir', str(tmp_path / 'out'),
            '-o', *tiny_overrides(demo_data)]
    cases = [
        (['--load', weights, '--inputs_size', '1,7,3,64,64'], r'takes .* t = 5 frames'),
        (['--load', weights, '--inputs_size', '1,5,x'], r'--inputs_size: expected positive whole numbers b,t,c,h,w'),
        (['--load', str(tmp_path / 'none.pdparams'), '--inputs_size', '1,5,3,64,64'],
         r'none\.pdparams: weights file not found'),
    ]
    for extra, pattern in cases:
        assert export_main(base[:4] + extra + base[4:]) == 2
        assert re.search(pattern, _error_line(capsys))
    assert not os.path.exists(tmp_path / 'out') or os.listdir(tmp_path / 'out') == []
    with pytest.raises(WeightsError, match='exported model not found'):
        find_model_files(str(tmp_path / 'nothing'))


def test_onnx_packages_are_checked_before_exporting(tmp_path, demo_data, tiny_weights, capsys,
                                                    monkeypatch):
    monkeypatch.setitem(sys.modules, 'paddle2onnx', None)  # as if not installed
    # on Paddle 3: on 2.6 the version is refused first (tests/test_paddle_compat.py)
    monkeypatch.setattr('edvr.deploy.onnx_export.onnx_export_refusal', lambda: None)
    argv = ['-c', DEMO_CONFIG, '--load', tiny_weights[1], '--inputs_size', '1,5,3,16,24',
            '--output_dir', str(tmp_path / 'out'), '--onnx', '-o', *tiny_overrides(demo_data)]
    assert export_main(argv) == 2
    assert _error_line(capsys) == ("error: ONNX export needs the 'paddle2onnx' package "
                                   "(pip install paddle2onnx onnxruntime)")
    assert not os.path.exists(tmp_path / 'out')  # nothing exported


def test_running_onnx_without_onnxruntime_says_so(tmp_path, monkeypatch):
    from edvr.deploy.predictor import Predictor
    model = tmp_path / 'm.onnx'
    model.write_bytes(b'')
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(ConfigError, match=r"^running an ONNX model needs the 'onnxruntime' "
                                          r"package \(pip install"):
        Predictor(str(model))


def _imports(path):
    """Every module name ``path`` imports, at any depth of its code."""
    tree = ast.parse(open(path, encoding='utf-8').read())
    return {node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names}


def test_predictor_and_onnx_export_import_one_way():
    deploy = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'edvr', 'deploy')
    assert 'edvr.deploy.predictor' in _imports(os.path.join(deploy, 'onnx_export.py'))
    assert 'edvr.deploy.onnx_export' not in _imports(os.path.join(deploy, 'predictor.py'))
    assert 'edvr.deploy.onnx_export' not in _imports(os.path.join(deploy, 'onnx_runner.py'))


@pytest.mark.parametrize('kernel', ['cpp', 'sampling', 'paddle'])
def test_export_runs_paddles_dcn_whatever_kernel_is_chosen(tmp_path, kernel):
    """The static program holds Paddle's deformable convolution, and the choice is left as set."""
    from edvr.ops import get_dcn_kernel, set_dcn_kernel
    net = tiny_net(seed=4)
    x = np.random.default_rng(1).random((1, 5, 3, 16, 12)).astype(np.float32)
    previous = get_dcn_kernel()
    set_dcn_kernel(kernel)
    try:
        want = dygraph(net, x)
        files = save_inference_model(net, str(tmp_path / 'm'), [[1, 5, 3, 16, 16]])
        assert get_dcn_kernel() == kernel
    finally:
        set_dcn_kernel(previous)
    program, params, _ = find_model_files(str(tmp_path / 'm'))
    assert program in files
    with open(program, 'rb') as f:
        assert b'deformable_conv' in f.read()
    assert np.abs(InferenceRunner(program, params, 'cpu', 1)(x) - want).max() < 1e-5
