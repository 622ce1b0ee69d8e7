# SPDX-License-Identifier: Apache-2.0
"""The readers behind the edge suite's catalogue, on inputs a probe of the tools found:
exported model files that do not belong together, weights of another precision or with
NaN, settings that are NaN, infinite or beyond any run, a failed resumed run."""
import os
import shutil

import numpy as np
import pytest

from edvr.config import load_config
from edvr.errors import ConfigError, DataError, WeightsError
from edvr.settings import check_settings
from edvr.utils.inference_files import (check_model_files, program_input_shape,
                                         program_param_shapes, read_param_shapes)
from edvr.weights import set_generator_state
from tests.tiny import tiny_net


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    from edvr.deploy.export import network_info, save_inference_model
    prefix = str(tmp_path_factory.mktemp('model') / 'm')
    save_inference_model(tiny_net(), prefix, [[1, 5, 3, 16, 24]], network_info(tiny_net()))
    return prefix


def test_an_exported_model_is_read_before_paddle_opens_it(exported, tmp_path):
    from edvr.deploy.export import find_model_files
    program, params, _ = find_model_files(exported)
    shapes = read_param_shapes(params)
    assert len(shapes) == len(tiny_net().state_dict()) and all(t == 5 for t, _ in shapes)  # fp32
    assert sorted(map(tuple, program_param_shapes(program))) == sorted(tuple(d) for _, d in shapes)
    check_model_files(program, params)
    assert program_input_shape(program) == [-1, 5, 3, -1, -1]
    data = open(program, 'rb').read()
    other = tmp_path / ('other' + os.path.splitext(program)[1])
    other.write_bytes(data[:len(data) // 2])
    with pytest.raises(WeightsError, match=r'other\.(json|pdmodel): (truncated|not a readable)'):
        check_model_files(str(other), params)


def test_weights_of_another_export_are_refused(exported, tmp_path):
    """A .pdiparams of another network (nf 16) beside a program of nf 8."""
    from edvr.deploy.export import find_model_files, network_info, save_inference_model
    from edvr.models.edvr_net import EDVRNet
    net = EDVRNet(nf=16, groups=2, front_RBs=1, back_RBs=1, w_TSA=False)  # as many arrays
    net.eval()
    save_inference_model(net, str(tmp_path / 'o'), [[1, 5, 3, 16, 24]], network_info(net))
    program, _, _ = find_model_files(exported)
    with pytest.raises(WeightsError, match=r'o\.pdiparams: 68 arrays that do not fit the program '
                                           r'.*m\.(json|pdmodel) \(68 parameters\)'):
        check_model_files(program, str(tmp_path / 'o.pdiparams'))


@pytest.mark.parametrize('cut', [1, 7, 20, 1000])
def test_a_cut_pdiparams_is_one_line_wherever_it_is_cut(exported, tmp_path, cut):
    data = open(exported + '.pdiparams', 'rb').read()
    path = tmp_path / 'cut.pdiparams'
    path.write_bytes(data[:cut])
    with pytest.raises(WeightsError, match=r'cut\.pdiparams: (truncated|damaged)'):
        read_param_shapes(str(path))


def test_weights_of_another_precision_load_nan_and_whole_numbers_do_not():
    net = tiny_net()
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    set_generator_state(net, {k: v.astype('float64') for k, v in state.items()}, 'f64.pdparams')
    for key, value in net.state_dict().items():
        assert str(value.dtype).endswith('float32')
        np.testing.assert_array_equal(value.numpy(), state[key])
    bad = dict(state, **{'conv_first.bias': np.full_like(state['conv_first.bias'], np.inf)})
    with pytest.raises(WeightsError, match=r'^nan\.pdparams: .*\(NaN or infinite values: '
                                           r'conv_first\.bias\)$'):
        set_generator_state(net, bad, 'nan.pdparams')
    with pytest.raises(WeightsError, match=r'type mismatch: conv_first\.weight int32 vs model '
                                           r'float32'):
        set_generator_state(net, {k: v.astype('int32') for k, v in state.items()}, 'i.pdparams')


@pytest.mark.parametrize('override, message', [
    ('lr_scheduler.learning_rate=.nan', r'^lr_scheduler\.learning_rate: expected a finite number'),
    ('dataset.train.dataset.preprocess.3.pipeline.5.std=[1, .inf, 1]',
     r'^dataset\.train\.dataset\.preprocess\.3\.pipeline\.5\.std\.1: expected a finite number'),
    ('total_iters=1e100', r'^total_iters: expected an integer >= 1 and at most 4294967295'),
    ('output_dir=', r"^output_dir: expected a non-empty string, got ''"),
])
def test_settings_refuse_what_no_run_can_mean(override, message):
    cfg = load_config('edvr_demo', [override])
    with pytest.raises(ConfigError, match=message):
        check_settings(cfg)


def test_a_special_file_is_not_a_config(tmp_path):
    os.mkfifo(tmp_path / 'pipe.yaml')
    with pytest.raises(ConfigError, match=r'pipe\.yaml: not a regular file'):
        load_config(str(tmp_path / 'pipe.yaml'))


def test_a_resumed_run_that_fails_at_once_leaves_its_folder_as_it_was(tmp_path, capsys):
    """The checkpoint's run folder gets back its files and its log (no config.resume-*)."""
    import cv2

    from edvr.weights import latest_checkpoint
    from tests.tiny import make_tiny_data, tiny_overrides
    from tools.main import main
    data = make_tiny_data(tmp_path / 'data')
    runs = tmp_path / 'runs'
    assert main(['-c', 'edvr_demo', '-o'] + tiny_overrides(data, str(runs), 2)) == 0
    run = runs / os.listdir(runs)[0]
    before = {n: (run / n).read_bytes() for n in os.listdir(run) if (run / n).is_file()}
    lq16 = tmp_path / 'lq16'
    shutil.copytree(os.path.join(data, 'train_sharp_bicubic', 'X4'), lq16)
    for folder, _, names in os.walk(lq16):
        for name in names:
            path = os.path.join(folder, name)
            cv2.imwrite(path, cv2.imread(path).astype('uint16') * 257)
    capsys.readouterr()
    code = main(['-c', 'edvr_demo', '--resume', latest_checkpoint(str(run)), '-o'] +
                tiny_overrides(data, str(runs), 4) +
                [f'dataset.train.dataset.lq_folder={lq16}'])
    assert code == 2 and '16-bit frame' in capsys.readouterr().err
    assert {n: (run / n).read_bytes() for n in os.listdir(run) if (run / n).is_file()} == before


def test_predictor_restore_names_the_expected_shape(exported):
    from edvr.deploy.predictor import Predictor
    predictor = Predictor(exported)
    for shape in [(5, 3, 16, 24), (1, 5, 4, 16, 24), (1, 3, 3, 16, 24)]:
        with pytest.raises(DataError, match=rf'^Predictor.restore: expected \(b, 5, 3, h, w\) '
                                            rf'frames, got shape \({shape[0]}, '):
            predictor.restore(np.zeros(shape, np.float32))
