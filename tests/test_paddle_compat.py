# SPDX-License-Identifier: Apache-2.0
"""Paddle versions: every difference lives in edvr/utils/paddle_compat.py; an unsupported or
missing Paddle gets one line before anything runs; what differs behaves on this version."""
import os
import re
import subprocess
import sys

import pytest

from edvr.utils import paddle_compat
from edvr.utils.paddle_compat import autocast_enabled, parse_version

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = ('main.py', 'export_model.py', 'inference.py', 'video_sr.py', 'prepare_data.py',
         'convert_weights.py', 'compare.py')
# Looking at Paddle's version, or probing Paddle for what it has, anywhere but paddle_compat.
VERSION_PROBES = re.compile(
    r'paddle\.__version__|paddle\.version\b|\b(has|get)attr\(\s*paddle\b|'
    r'paddle\.(base|fluid)\b|\bis_autocast_enabled\b|\bin_pir_mode\b|_dygraph_tracer|'
    r'\bcpp_extension\.load\(|import cpp_extension\b|FLAGS_enable_pir')


def test_no_version_checks_outside_paddle_compat():
    found, compat = [], os.path.join(ROOT, 'edvr', 'utils', 'paddle_compat.py')
    for folder in ('edvr', 'tools'):
        for dirpath, _, names in os.walk(os.path.join(ROOT, folder)):
            for name in names:
                path = os.path.join(dirpath, name)
                if not name.endswith('.py') or path == compat:
                    continue
                with open(path, encoding='utf-8') as f:
                    for number, line in enumerate(f, 1):
                        if VERSION_PROBES.search(line.split('#')[0]):
                            found.append(f'{os.path.relpath(path, ROOT)}:{number}: {line.strip()}')
    assert found == []


def test_the_probe_pattern_catches_what_it_is_for():
    for line in ('if paddle.__version__ < "3":', "getattr(paddle.amp, 'is_autocast_enabled')",
                 'hasattr(paddle, "tensorrt")', 'paddle.base.core.set_num_threads(2)',
                 'from paddle.utils import cpp_extension', 'cpp_extension.load(name=NAME)'):
        assert VERSION_PROBES.search(line), line
    assert not VERSION_PROBES.search("getattr(self, '_updated_padding', None)")


def test_parse_version():
    assert parse_version('2.6.2') == (2, 6, 2)
    assert parse_version('3.0.0rc1') == (3, 0, 0)
    assert parse_version('3.3.1.post126') == (3, 3, 1)
    assert parse_version('0.0.0') == (99,)  # a develop build counts as the newest
    assert parse_version('2.5.2') < paddle_compat.MINIMUM <= parse_version('2.6.0')


def fake_paddle(folder, versions):
    """A folder that shadows the installed Paddle: package metadata at ``versions``
    ({distribution: version}) and a ``paddle`` package that fails when imported."""
    os.makedirs(folder / 'paddle')
    (folder / 'paddle' / '__init__.py').write_text("raise RuntimeError('paddle was imported')\n")
    for dist, version in versions.items():
        meta = folder / f'{dist.replace("-", "_")}-{version}.dist-info'
        meta.mkdir()
        (meta / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n')
    return str(folder)


def run_tool(tool, args, pythonpath=None, prelude=''):
    env = dict(os.environ)
    if pythonpath:
        env['PYTHONPATH'] = pythonpath
    code = (f'import runpy, sys; {prelude}sys.argv = {[tool] + list(args)!r}; '
            f'runpy.run_path({os.path.join(ROOT, "tools", tool)!r}, run_name="__main__")')
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


@pytest.mark.parametrize('tool', TOOLS)
def test_an_old_paddle_gets_one_line_before_anything_runs(tmp_path, tool):
    fake = fake_paddle(tmp_path / 'site', {'paddlepaddle-gpu': '2.5.2'})
    result = run_tool(tool, ['-c', 'edvr_demo'], pythonpath=fake)
    assert result.returncode == 2
    assert result.stdout == ''
    assert result.stderr == (
        'error: paddlepaddle-gpu 2.5.2 installed; edvr needs PaddlePaddle 2.6 or 3.x: '
        'python -m pip install paddlepaddle==3.3.1 (CPU; GPU builds: see the README, '
        '"Install")\n')


def test_no_paddle_gets_one_line():
    result = run_tool('main.py', ['-c', 'edvr_demo'], prelude="sys.modules['paddle'] = None; ")
    assert result.returncode == 2
    assert result.stderr == (
        'error: PaddlePaddle is not installed; edvr needs PaddlePaddle 2.6 or 3.x: '
        'python -m pip install paddlepaddle==3.3.1 (CPU; GPU builds: see the README, '
        '"Install")\n')


def test_two_paddle_packages_are_named_and_the_command_goes_on(tmp_path):
    fake = fake_paddle(tmp_path / 'site', {'paddlepaddle': '3.3.1', 'paddlepaddle-gpu': '2.6.2'})
    result = run_tool('main.py', ['--help'], pythonpath=fake)
    assert result.returncode == 0 and result.stdout.startswith('usage: main.py')
    assert result.stderr == (
        'warning: paddlepaddle 3.3.1 and paddlepaddle-gpu 2.6.2 are both installed and share '
        'one "paddle" folder; keep one (python -m pip uninstall -y paddlepaddle '
        'paddlepaddle-gpu, then install one)\n')


def test_pngs_decode_after_paddle_is_imported():
    """Paddle 2.6's own zlib must not take over Python's (a segfault in inflateReset2)."""
    photo = os.path.join(os.path.dirname(__import__('skimage').__file__), 'data', 'astronaut.png')
    code = ('import edvr.models, paddle; import numpy as np; from PIL import Image; '
            f'print(np.asarray(Image.open({photo!r})).shape)')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert (result.returncode, result.stdout) == (0, '(512, 512, 3)\n'), result.stderr[-2000:]


def test_autocast_state_follows_the_tracer():
    import paddle
    from paddle.base import core
    from paddle.base.framework import _dygraph_tracer
    tracer = _dygraph_tracer()
    assert autocast_enabled() is False
    with paddle.amp.auto_cast(enable=False):
        assert autocast_enabled() is False
    try:
        for level in (core.AmpLevel.O1, core.AmpLevel.O2):
            tracer._amp_level = level   # what auto_cast sets on a GPU
            assert autocast_enabled() is True
    finally:
        tracer._amp_level = core.AmpLevel.O0
    assert autocast_enabled() is False


def test_program_formats():
    fmt = paddle_compat.program_format()
    assert fmt == ('.pdmodel' if paddle_compat.is_paddle2() else '.json')
    assert paddle_compat.readable_program('m.pdmodel') is None  # 3.x reads 2.6's programs
    refusal = paddle_compat.readable_program('d/m.json')
    if paddle_compat.is_paddle2():
        assert refusal == (f'd/m.json: a Paddle 3 (PIR .json) model cannot be read by the '
                           f'installed Paddle {paddle_compat.version_key()}; export it again '
                           f'here with tools/export_model.py, or run it with Paddle 3')
    else:
        assert refusal is None


def test_onnx_export_on_paddle_2_is_one_line_before_anything_is_written(tmp_path, monkeypatch,
                                                                        capsys):
    """Real on Paddle 2.6; on 3.x the same path with the version answers of 2.6."""
    from tools.export_model import main as export_main
    if not paddle_compat.is_paddle2():
        monkeypatch.setattr(paddle_compat, 'is_paddle2', lambda: True)
        monkeypatch.setattr(paddle_compat, 'version_key', lambda: '2.6.2')
    argv = ['-c', 'edvr_demo', '--load', str(tmp_path / 'w.pdparams'), '--inputs_size',
            '1,5,3,16,24', '--output_dir', str(tmp_path / 'out'), '--onnx']
    assert export_main(argv) == 2
    assert capsys.readouterr().err == (
        f'error: --onnx: ONNX export needs Paddle 3 (installed: Paddle '
        f'{paddle_compat.version_key()}); paddle2onnx for Paddle 2 writes up to opset 18 and '
        f'the deformable convolutions need DeformConv (opset 19); run the exported Paddle '
        f'model instead (tools/inference.py --model_path)\n')
    assert os.listdir(tmp_path) == []
