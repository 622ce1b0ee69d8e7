# SPDX-License-Identifier: Apache-2.0
"""Opening a weights file or checkpoint never runs code from it; real files keep loading.

Every hostile file asks to create a marker file; each test asserts the one-line
refusal naming what the pickle asked for, and that the marker does not exist.
"""
import os
import pickle
import re
import zipfile
from collections import OrderedDict

import numpy as np
import paddle
import pytest

from edvr.config import dump_config, load_config
from edvr.deploy.predictor import Predictor
from edvr import weights as ckpt
from edvr.errors import WeightsError
from edvr.utils.safe_pickle import read_paddle_pickle
from tests.tiny import DEMO_CONFIG, tiny_net, tiny_overrides
from tests.safety.paddle_writer import Call, Global, globals_of, save_pickle


def touch(marker):
    return f'touch {marker}'


def hostile_files(folder, marker):
    """name -> (path, the global the refusal names): one hostile file of each kind."""
    arrays = {'w': np.ones(3, np.float32)}
    kinds = {
        'os_system': (lambda: Call(Global('os', 'system'), touch(marker)), 'os.system', 4),
        'posix_system': (lambda: Call(Global('posix', 'system'), touch(marker)), 'posix.system', 2),
        'exec': (lambda: Call(Global('builtins', 'exec'), f'open({str(marker)!r}, "w")'),
                 'builtins.exec', 4),
        'eval': (lambda: Call(Global('builtins', 'eval'), f'open({str(marker)!r}, "w")'),
                 'builtins.eval', 3),
        'popen': (lambda: Call(Global('subprocess', 'Popen'), ['touch', str(marker)]),
                  'subprocess.Popen', 4),
        'protocol0': (lambda: Call(Global('os', 'system'), touch(marker)), 'os.system', 0),
    }
    out = {}
    for name, (make, asked, protocol) in kinds.items():
        path = str(folder / f'{name}.pdparams')
        save_pickle({'generator': dict(arrays, x=make())}, path, protocol)
        out[name] = (path, asked)
    deep = str(folder / 'deep.pdparams')  # a reduce far down inside a checkpoint-like dict
    nested = {'a': [{'b': (1, {'c': Call(Global('os', 'system'), touch(marker))})}]}
    save_pickle({'generator': arrays, 'optimizer': {'LR_Scheduler': nested}, 'iter': 1}, deep)
    out['deep'] = (deep, 'os.system')
    return out


@pytest.fixture
def hostile(tmp_path):
    marker = tmp_path / 'MARKER'
    folder = tmp_path / 'files'
    folder.mkdir()
    yield hostile_files(folder, marker)
    assert not marker.exists(), 'a hostile pickle ran code'


def test_the_hostile_files_would_run_code_with_a_plain_pickle_load(tmp_path):
    """The fixtures are real attacks: plain ``pickle.load`` runs them."""
    marker = tmp_path / 'MARKER'
    for path, _ in hostile_files(tmp_path, marker).values():
        if 'popen' in path:
            continue  # Popen runs in the background; the others are checked synchronously
        try:
            with open(path, 'rb') as f:
                pickle.load(f)
        except Exception:  # noqa: BLE001 - the damage is done before any error
            pass
        assert marker.exists(), path
        marker.unlink()


@pytest.mark.parametrize('kind', ['os_system', 'posix_system', 'exec', 'eval', 'popen',
                                  'protocol0', 'deep'])
def test_every_reader_refuses_before_anything_runs(hostile, kind):
    path, asked = hostile[kind]
    message = rf'{kind}\.pdparams: refused to load: the pickle asks for {asked},'
    with pytest.raises(WeightsError, match=message):
        read_paddle_pickle(path)
    with pytest.raises(WeightsError, match=message):
        ckpt.load_generator_weights(tiny_net(), path)
    with pytest.raises(WeightsError, match=message):
        ckpt.read_checkpoint(path)


def test_other_disguises_are_refused(tmp_path):
    marker = tmp_path / 'MARKER'
    path = str(tmp_path / 'x.pdparams')
    # protocol 2 stores bytes as _codecs.encode(text, 'latin1'); no other codec is accepted
    save_pickle({'x': Call(Global('_codecs', 'encode'), 'eJwDAAAAAAE=', 'base64')}, path, 2)
    refused = r"x\.pdparams: refused to load: the pickle asks for _codecs\.encode with 'base64'"
    with pytest.raises(WeightsError, match=refused):
        read_paddle_pickle(path)
    for module, name in (('numpy', 'load'), ('builtins', 'getattr'), ('paddle', 'load'),
                         ('pickle', 'loads'), ('numpy.lib.npyio', 'load')):
        save_pickle({'x': Call(Global(module, name), touch(marker))}, path)
        with pytest.raises(WeightsError, match=rf'asks for {module}\.{name},'):
            read_paddle_pickle(path)
    # an object array would carry arbitrary objects: refused after loading, before use
    save_pickle({'x': np.array([1, 'a'], dtype=object)}, path)
    with pytest.raises(WeightsError, match=r'x\.pdparams: refused to load: an array of Python objects'):
        read_paddle_pickle(path)
    # a zip (torch's layout) holding a hostile pickle is not a Paddle pickle at all
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('archive/data.pkl', pickle.dumps(Call(Global('os', 'system'), touch(marker))))
    with pytest.raises(WeightsError, match=r'x\.pdparams: not a Paddle state dict \(UnpicklingError'):
        read_paddle_pickle(path)
    assert not marker.exists()


# ---- real files keep loading ------------------------------------------------------------

def _assert_same(state, net):
    own = net.state_dict()
    assert sorted(state) == sorted(own)
    for key, value in own.items():
        np.testing.assert_array_equal(np.asarray(state[key]), value.numpy())


@pytest.mark.parametrize('protocol, numpy_major', [(2, 1), (4, 1), (4, 2), (3, 2)])
def test_paddlegan_release_layout_from_older_versions_loads(tmp_path, protocol, numpy_major):
    """``{'generator': {name: array}}`` with Paddle 2.x's name table, as numpy 1.x/2.x pickle it."""
    net = tiny_net(seed=1)
    arrays = OrderedDict((k, v.numpy()) for k, v in net.state_dict().items())
    table = {k: f'conv2d_{i}.w_0' for i, k in enumerate(arrays)}
    path = str(tmp_path / 'EDVR_M_wo_tsa_SRx4.pdparams')
    save_pickle({'generator': OrderedDict(arrays, **{'StructuredToParameterName@@': table})},
                path, protocol, numpy_major)
    asked = globals_of(path)
    numpy_module = 'numpy.core.multiarray' if numpy_major == 1 else 'numpy._core.multiarray'
    assert f'{numpy_module}._reconstruct' in asked
    assert ('_codecs.encode' in asked) == (protocol == 2)
    other = tiny_net(seed=2)
    ckpt.load_generator_weights(other, path)
    _assert_same({k: v.numpy() for k, v in other.state_dict().items()}, net)


def test_files_written_by_paddle_save_load(tmp_path):
    """Paddle 3.x: a bare state dict (with its name table) and a nested {'generator': ...}."""
    net = tiny_net(seed=3)
    bare, nested = str(tmp_path / 'bare.pdparams'), str(tmp_path / 'nested.pdparams')
    paddle.save(net.state_dict(), bare)
    paddle.save({'generator': net.state_dict()}, nested)
    assert globals_of(bare) == {'numpy.ndarray', 'numpy.dtype',
                                'numpy._core.multiarray._reconstruct'}
    assert 'builtins.tuple' in globals_of(nested)
    for path in (bare, nested):
        state = ckpt.generator_state(ckpt.read_state(path), path)
        _assert_same(state, net)


def test_our_weight_files_load_in_paddle_load_with_the_same_arrays(tmp_path):
    """What PaddleGAN does with a file we write: ``paddle.load`` then ``set_state_dict``."""
    net = tiny_net(seed=4)
    path = str(tmp_path / 'iter_2_weight.pdparams')
    ckpt.save_atomic({'generator': net.state_dict()}, path)
    loaded = paddle.load(path)['generator']
    _assert_same({k: v.numpy() for k, v in loaded.items()}, net)
    _assert_same(ckpt.generator_state(ckpt.read_state(path), path), net)


def test_a_full_checkpoint_with_adam_ema_and_scaler_state_loads(tmp_path):
    """Everything a training checkpoint holds, with an AMP scaler state as a GPU writes it."""
    net = tiny_net(seed=5)
    scheduler = paddle.optimizer.lr.CosineAnnealingDecay(1e-3, 10)
    optimizer = paddle.optimizer.Adam(scheduler, parameters=net.parameters())
    loss = net(paddle.rand([1, 5, 3, 8, 8])).mean()
    loss.backward()
    optimizer.step()
    scheduler.step()
    scaler = {'scale': np.array([1024.], np.float32), 'incr_ratio': 2.0, 'decr_ratio': 0.5,
              'incr_every_n_steps': 1000, 'decr_every_n_nan_or_inf': 2, 'incr_count': 3,
              'decr_count': 0, 'use_dynamic_loss_scaling': True}
    state = dict(generator=net.state_dict(), optimizer=ckpt.portable_optimizer_state(optimizer, net),
                 lr_scheduler=scheduler.state_dict(), iter=1, seed=123, best={'psnr': 21.5},
                 generator_ema={k: v.clone() for k, v in net.state_dict().items()}, scaler=scaler)
    path = str(tmp_path / 'iter_1_checkpoint.pdparams')
    ckpt.save_atomic(state, path)
    assert globals_of(path) == {'builtins.tuple', 'numpy.ndarray', 'numpy.dtype',
                                'numpy._core.multiarray._reconstruct', 'collections.OrderedDict'}
    loaded = ckpt.read_checkpoint(path)
    assert (loaded['iter'], loaded['seed'], loaded['best']) == (1, 123, {'psnr': 21.5})
    assert loaded['lr_scheduler'] == scheduler.state_dict()
    assert loaded['scaler']['scale'].tolist() == [1024.] and loaded['scaler']['incr_count'] == 3
    _assert_same(loaded['generator'], net)
    _assert_same(loaded['generator_ema'], net)
    expected = ckpt.portable_optimizer_state(optimizer, net)
    assert sorted(loaded['optimizer']) == sorted(expected)
    for key, value in expected.items():
        if hasattr(value, 'numpy'):
            np.testing.assert_array_equal(loaded['optimizer'][key], value.numpy())
        else:
            assert loaded['optimizer'][key] == value, key
    again = paddle.optimizer.Adam(paddle.optimizer.lr.CosineAnnealingDecay(1e-3, 10),
                                  parameters=net.parameters())
    ckpt.load_portable_optimizer_state(again, net, loaded['optimizer'])


# ---- every entry point ------------------------------------------------------------------

@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    from tests.tiny import make_tiny_data
    data = make_tiny_data(tmp_path_factory.mktemp('demo'))
    path = str(tmp_path_factory.mktemp('cfg') / 'tiny.yaml')
    dump_config(load_config(DEMO_CONFIG, tiny_overrides(data)), path)
    return data, path


def one_error_line(capsys):
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith('error:')]
    assert len(lines) == 1, lines
    return lines[0]


REFUSED = r'os_system\.pdparams: refused to load: the pickle asks for os\.system, which is not'


def test_python_api_refuses(hostile, tiny_config):
    path, _ = hostile['os_system']
    with pytest.raises(WeightsError, match=REFUSED):
        Predictor.from_config(tiny_config[1], path)


def test_training_cli_refuses_load_resume_and_resume_auto(hostile, tiny_config, tmp_path, capsys):
    from edvr.cli.train import main
    from tests.tiny import tiny_overrides as run_overrides
    data, _ = tiny_config
    path, _ = hostile['os_system']
    out = tmp_path / 'out'
    args = ['-c', DEMO_CONFIG, '-o', *run_overrides(data, str(out), 2)]
    for extra in (['--evaluate-only', '--load', path], ['--load', path], ['--resume', path]):
        assert main(args + extra) == 2
        assert re.search(REFUSED, one_error_line(capsys))
        assert not out.exists()
    run = out / 'edvr_demo-2026-01-01-00-00-00'
    run.mkdir(parents=True)
    planted = run / 'iter_4_checkpoint.pdparams'
    planted.write_bytes(open(path, 'rb').read())
    assert main(args + ['--resume', 'auto']) == 2
    assert re.search(r'iter_4_checkpoint\.pdparams: refused to load: the pickle asks for os\.system',
                     one_error_line(capsys))
    assert sorted(os.listdir(out)) == [run.name] and os.listdir(run) == [planted.name]


def test_tools_refuse(hostile, tiny_config, tmp_path, capsys):
    from tools import compare, export_model, inference, video_sr
    data, cfg = tiny_config
    path, _ = hostile['os_system']
    frames = os.path.join(data, 'REDS4_test_sharp_bicubic', 'X4', '000')
    calls = {
        'export': (export_model.main, ['-c', cfg, '--load', path, '--inputs_size', '1,5,3,8,12',
                                       '--output_dir', str(tmp_path / 'export')]),
        'inference': (inference.main, ['-c', cfg, '--load', path, '--input', frames,
                                       '--output_path', str(tmp_path / 'inference')]),
        'video': (video_sr.main, [frames, '-o', str(tmp_path / 'video.mp4'), '-c', cfg,
                                  '--load', path]),
        'compare': (compare.main, ['-c', cfg, '--load', path, '--key', '000/00000002',
                                   '-o', str(tmp_path / 'compare.png')]),
    }
    for name, (main, argv) in calls.items():
        assert main(argv) == 2, name
        assert re.search(REFUSED, one_error_line(capsys)), name
    assert os.listdir(tmp_path) == ['files']  # no export folder, frames, video or image
