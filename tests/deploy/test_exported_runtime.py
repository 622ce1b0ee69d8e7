# SPDX-License-Identifier: Apache-2.0
"""Exported models on the CPU: the library's network rebuilt from the export, paddle.inference
on request or for exports without a network record, and wrong pieces refused in one line."""
import os
import pickle
import re
import shutil

import numpy as np
import pytest
import yaml

from edvr.datasets.image_io import read_image
from edvr.deploy import exported as exported_module
from edvr.deploy.export import file_sha256
from edvr.deploy.predictor import Predictor
from edvr.errors import ConfigError, WeightsError
from edvr.weights import read_state, save_weights_file
from tests.deploy.test_inference_tool import frames_folder
from tests.tiny import DEMO_CONFIG, dygraph, tiny_net
from tools.inference import main as infer_main


def copy_model(prefix, folder):
    """Copy every file of the export at ``prefix`` into ``folder``; the new prefix."""
    os.makedirs(folder, exist_ok=True)
    source, name = os.path.split(prefix)
    for file_name in os.listdir(source):
        if file_name.startswith(name + '.'):
            shutil.copy(os.path.join(source, file_name), folder)
    return os.path.join(folder, name)


def rewrite_info(prefix, **changes):
    """Change keys of the export's .edvr.yml (None removes a key)."""
    path = prefix + '.edvr.yml'
    with open(path) as f:
        info = yaml.safe_load(f)
    for key, value in changes.items():
        if value is None:
            info.pop(key, None)
        else:
            info[key] = value
    with open(path, 'w') as f:
        yaml.safe_dump(info, f)


def error_line(capsys):
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith('error:')]
    assert len(errors) == 1 and not any('Traceback' in line for line in lines), lines
    return errors[0]


@pytest.mark.parametrize('shape', [(1, 5, 3, 16, 24), (2, 5, 3, 7, 10), (1, 5, 3, 24, 8)])
def test_library_runtime_equals_the_network_and_paddle_inference(exported_with_network, shape):
    net, prefix = exported_with_network
    library = Predictor(prefix, device='cpu', num_threads=1)
    program = Predictor(prefix, device='cpu', num_threads=1, runtime='paddle_inference')
    assert (library.runtime, program.runtime) == ('library', 'paddle_inference')
    assert type(library.runner).__name__ == 'DygraphRunner' and library.runner.cache is not None
    x = np.random.default_rng(sum(shape)).random(shape).astype(np.float32)
    fast, slow = library.restore(x), program.restore(x)
    assert fast.shape == slow.shape == (shape[0], 3, 4 * shape[3], 4 * shape[4])
    assert np.abs(fast - slow).max() < 1e-5
    if shape[3] % 4 == 0 and shape[4] % 4 == 0:  # no padding: the network itself
        assert np.abs(fast - dygraph(net, x)).max() < 1e-5
    assert library.scale == 4 and library.num_frames == 5 and library.size_multiple == 4


def test_library_runtime_reuses_features_along_a_clip(exported_with_network):
    _, prefix = exported_with_network
    rng = np.random.default_rng(4)
    clip = [rng.integers(0, 256, (8, 12, 3), dtype=np.uint8) for _ in range(7)]
    library = Predictor(prefix, device='cpu', num_threads=1)
    program = Predictor(prefix, device='cpu', num_threads=1, runtime='paddle_inference')
    fast = list(library.run_sequence(clip))
    slow = list(program.run_sequence(clip))
    assert len(fast) == len(slow) == 7
    # uint8 outputs: equal but for a rounding at an exact half level
    assert max(np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(fast, slow)) <= 1
    assert library.runner.cache.reused > 0  # each frame's features computed once


def test_export_without_network_record_runs_with_paddle_inference(exported):
    net, prefix = exported
    assert not os.path.exists(prefix + '.pdparams')
    predictor = Predictor(prefix, device='cpu', num_threads=1)
    assert predictor.runtime == 'paddle_inference'
    x = np.random.default_rng(1).random((1, 5, 3, 16, 24)).astype(np.float32)
    assert np.abs(predictor.restore(x) - dygraph(net, x)).max() < 1e-5
    with pytest.raises(WeightsError, match=r'tiny\.edvr\.yml: exported without the network '
                                           r'record .* --runtime paddle_inference$'):
        Predictor(prefix, device='cpu', runtime='library')


def test_tool_runtime_flag(tmp_path, demo_data, exported_with_network, monkeypatch, capsys):
    _, prefix = exported_with_network
    frames = frames_folder(demo_data, str(tmp_path / 'frames'))
    made = []
    real = exported_module.InferenceRunner
    monkeypatch.setattr(exported_module, 'InferenceRunner',
                        lambda *a, **k: made.append(a) or real(*a, **k))
    outputs = {}
    for runtime in ('auto', 'paddle_inference'):
        out = str(tmp_path / runtime)
        assert infer_main(['--model_path', prefix, '--input', frames, '--output_path', out,
                           '--num_threads', '1', '--runtime', runtime, '--device', 'cpu']) == 0
        outputs[runtime] = [read_image(os.path.join(out, n)) for n in sorted(os.listdir(out))]
        assert len(made) == (runtime == 'paddle_inference')  # auto: the library on the CPU
    assert len(outputs['auto']) == 5
    for a, b in zip(outputs['auto'], outputs['paddle_inference']):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    capsys.readouterr()
    assert infer_main(['-c', DEMO_CONFIG, '--load', prefix + '.pdparams', '--input', frames,
                       '--output_path', str(tmp_path / 'c'), '--runtime', 'library']) == 2
    assert '--runtime library: chooses how an exported model runs' in error_line(capsys)
    assert infer_main(['--model_path', str(tmp_path / 'm.onnx'), '--input', frames,
                       '--output_path', str(tmp_path / 'o'), '--runtime', 'library']) == 2
    assert 'm.onnx is an ONNX model' in error_line(capsys)
    assert not os.path.exists(tmp_path / 'c') and not os.path.exists(tmp_path / 'o')


def _other_weights(prefix):
    """Weights of another network (with TSA) under the export's name, its digest recorded."""
    save_weights_file(tiny_net(w_tsa=True).state_dict(), prefix + '.pdparams')
    return 'weights do not fit the configured network'


def _crafted_pickle(prefix):
    """A pickle that would run a command when loaded by pickle.load, its digest recorded."""
    class Payload:
        def __reduce__(self):
            return os.system, ('echo owned',)
    with open(prefix + '.pdparams', 'wb') as f:
        pickle.dump({'generator': Payload()}, f)
    return 'system'


@pytest.mark.parametrize('spoil', [_other_weights, _crafted_pickle])
def test_wrong_weights_with_a_matching_digest_are_refused(tmp_path, exported_with_network,
                                                          capsys, spoil):
    prefix = copy_model(exported_with_network[1], str(tmp_path / 'm'))
    needle = spoil(prefix)
    rewrite_info(prefix, weights_sha256=file_sha256(prefix + '.pdparams'))
    with pytest.raises(WeightsError, match=needle):
        Predictor(prefix, device='cpu')
    # the program still runs when asked for
    assert Predictor(prefix, device='cpu', runtime='paddle_inference').runtime == \
        'paddle_inference'


def _changed_value(prefix):
    state = read_state(prefix + '.pdparams')['generator']
    state['conv_first.bias'] = state['conv_first.bias'] + np.float32(0.5)
    save_weights_file(state, prefix + '.pdparams')
    return r'tiny\.pdparams: does not match tiny\.edvr\.yml \(its SHA-256 differs'


def _removed(prefix):
    os.remove(prefix + '.pdparams')
    return r'tiny\.pdparams: weights of the exported network not found'


def _digest_without_network(prefix):
    rewrite_info(prefix, network=None)
    return r'tiny\.edvr\.yml: weights_sha256 without network; export the model again'


def _bad_digest(prefix):
    rewrite_info(prefix, weights_sha256='abc')
    return r'tiny\.edvr\.yml: weights_sha256: expected 64 lowercase hex digits'


def _unknown_network(prefix):
    rewrite_info(prefix, network={'name': 'NoSuchNet'})
    return r'tiny\.edvr\.yml: network\.name: .*NoSuchNet'


def _network_with_nested_value(prefix):
    rewrite_info(prefix, network={'name': 'EDVRNet', 'nf': [8]})
    return r'tiny\.edvr\.yml: network: expected a mapping with a name and plain values'


def _facts_disagree(prefix):
    rewrite_info(prefix, scale=2)
    return r'tiny\.edvr\.yml: the recorded network does not fit the other facts \(scale 2 vs ' \
           r'network 4\)'


@pytest.mark.parametrize('spoil', [_changed_value, _removed, _digest_without_network,
                                   _bad_digest, _unknown_network, _network_with_nested_value,
                                   _facts_disagree])
def test_spoilt_pieces_are_one_line_errors(tmp_path, demo_data, exported_with_network, capsys,
                                           spoil):
    prefix = copy_model(exported_with_network[1], str(tmp_path / 'm'))
    pattern = spoil(prefix)
    before = {n: open(os.path.join(tmp_path, 'm', n), 'rb').read()
              for n in os.listdir(tmp_path / 'm')}
    with pytest.raises(WeightsError, match=pattern):
        Predictor(prefix, device='cpu')
    frames = frames_folder(demo_data, str(tmp_path / 'frames'))
    capsys.readouterr()
    assert infer_main(['--model_path', prefix, '--input', frames,
                       '--output_path', str(tmp_path / 'out')]) == 2
    assert re.search(pattern, error_line(capsys))
    assert not os.path.exists(tmp_path / 'out')
    assert {n: open(os.path.join(tmp_path, 'm', n), 'rb').read()
            for n in os.listdir(tmp_path / 'm')} == before


def test_predictor_runtime_argument_is_checked():
    with pytest.raises(ConfigError, match=r"Predictor: runtime='fast'; expected auto or library "
                                          r"or paddle_inference"):
        Predictor('no/such/model', runtime='fast')
    with pytest.raises(ConfigError, match=r'runtime library: .*m\.onnx is an ONNX model'):
        Predictor('some/m.onnx', runtime='library')


def test_video_tool_passes_the_runtime_on():
    from edvr.cli.restore_options import restore_options
    from edvr.cli.video import build_parser
    args = build_parser().parse_args(['in.mp4', '-o', 'out.mp4', '--model_path', 'm/tiny',
                                      '--runtime', 'paddle_inference'])
    assert restore_options(args)['runtime'] == 'paddle_inference'
    args = build_parser().parse_args(['in.mp4', '-o', 'out.mp4', '-c', 'c.yaml', '--load', 'w'])
    assert 'runtime' not in restore_options(args)  # from_config takes no runtime
    args = build_parser().parse_args(['in.mp4', '-o', 'out.mp4', '-c', 'c.yaml', '--load', 'w',
                                      '--runtime', 'paddle_inference'])
    with pytest.raises(ConfigError, match='--runtime paddle_inference: chooses how an exported'):
        restore_options(args)


def test_any_file_of_the_export_names_it(exported_with_network):
    _, prefix = exported_with_network
    for ext in ('.pdparams', '.pdiparams', ''):
        assert Predictor(prefix + ext, device='cpu').runtime == 'library'
