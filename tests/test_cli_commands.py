# SPDX-License-Identifier: Apache-2.0
"""The console commands of an installed wheel: entry points, shipped configs, a real run.

The wheel (the session fixture `built_wheel`) is installed into a temporary folder and run
with PYTHONPATH pointing there from a folder outside the checkout, as a user of
`pip install edvr` would.
"""
import json
import os
import subprocess
import sys
import zipfile

import pytest

import edvr
from edvr.config import find_config, load_config
from edvr.errors import ConfigError
from tests.tiny import ROOT

COMMANDS = {'edvr-train': 'train', 'edvr-export': 'export', 'edvr-infer': 'infer',
            'edvr-video': 'video', 'edvr-prepare': 'prepare', 'edvr-convert': 'convert',
            'edvr-compare': 'compare'}
CONFIGS = sorted(f for f in os.listdir(os.path.join(ROOT, 'configs'))
                 if f.endswith('.yaml') or f == 'README.md')
TINY_NET = ['model.generator.nf=8', 'model.generator.groups=2', 'model.generator.front_RBs=1',
            'model.generator.back_RBs=1']


@pytest.fixture(scope='module')
def installed(built_wheel, tmp_path_factory):
    """(site folder, run) where run(args, cwd) runs a command of the installed package."""
    tmp = tmp_path_factory.mktemp('installed')
    site = tmp / 'site'
    result = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
                             '--target', str(site), str(built_wheel)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    env = dict(os.environ, PYTHONPATH=str(site))

    def run(args, cwd):
        return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    return site, run


def test_the_wheel_lists_every_command_and_config(built_wheel):
    with zipfile.ZipFile(built_wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(f'edvr-{edvr.__version__}.dist-info/entry_points.txt').decode()
    scripts = dict(line.replace(' ', '').split('=') for line in entry_points.splitlines()
                   if '=' in line)
    assert scripts == {name: f'edvr.cli.{module}:main' for name, module in COMMANDS.items()}
    assert {f'edvr/cli/{module}.py' for module in COMMANDS.values()} <= names
    assert len(CONFIGS) == 13 and {f'edvr/configs/{name}' for name in CONFIGS} <= names


def test_each_installed_command_starts_and_finds_the_shipped_configs(installed, tmp_path):
    """Every console script prints its help; the package, its configs and the kernels'
    sources come from the install; a bad config name fails before Paddle is imported."""
    site, run = installed
    for name in COMMANDS:
        result = run([str(site / 'bin' / name), '--help'], tmp_path)
        assert result.returncode == 0 and result.stdout.startswith(f'usage: {name} '), \
            (name, result.stderr[-2000:])
    result = run([sys.executable, '-m', 'edvr.cli.train', '--help'], tmp_path)
    assert result.returncode == 0 and '-c CONFIG_FILE, --config-file CONFIG_FILE' in result.stdout
    code = '''
import json, sys
import edvr
from edvr.config import find_config
from edvr.cli.train import main
code = main(['-c', 'edvr_dem'])
paddle_imported = 'paddle' in sys.modules
from edvr.ops.cpu_ops import build_inputs
print(json.dumps({'package': edvr.__file__, 'config': find_config('edvr_demo.yaml'),
                  'exit': code, 'paddle': paddle_imported, 'kernel_sources': build_inputs()}))
'''
    result = run([sys.executable, '-c', code], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.splitlines()[-1])
    assert found['package'] == str(site / 'edvr' / '__init__.py')
    assert found['config'] == str(site / 'edvr' / 'configs' / 'edvr_demo.yaml')
    assert found['exit'] == 2 and found['paddle'] is False
    assert result.stderr.splitlines() == [
        'error: edvr_dem: config file not found, nor a shipped config of that name; '
        'did you mean edvr_demo, edvr_m_w_tsa, edvr_m_wo_tsa?']
    sources = found['kernel_sources']
    assert any(p.endswith('fused_conv.h') for p in sources)
    assert all(p.startswith(str(site / 'edvr' / 'ops' / 'csrc')) and os.path.isfile(p)
               for p in sources)


def test_installed_demo_builds_its_data_here_and_evaluates(installed, tmp_path):
    """`edvr-train -c edvr_demo` of an install: the demo clips are made under the current
    folder (data/demo) and the run goes to output_dir/ there, as in a checkout."""
    site, run = installed
    small_demo = 'demo_data={root: data/demo, num_train_clips: 1, num_frames: 7, ' \
                 'num_test_frames: 5, gt_size: [32, 48]}'
    result = run([str(site / 'bin' / 'edvr-train'), '-c', 'edvr_demo', '--evaluate-only',
                  '-o', small_demo, *TINY_NET], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / 'data' / 'demo' / 'DONE').is_file()
    (run_dir,) = (tmp_path / 'output_dir').glob('edvr_demo-*')
    scores = json.loads((run_dir / 'final_scores.json').read_text())
    assert set(scores['model']) == {'psnr', 'ssim'} and scores['per_clip']['psnr'].keys() == {'000'}
    assert 20 < scores['bicubic']['psnr'] < 50
    assert 'C++ CPU conv ops could not be built' not in result.stderr


def test_a_real_path_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'edvr_demo.yaml').write_text('total_iters: 7\n')
    assert load_config('edvr_demo.yaml').total_iters == 7
    assert find_config('edvr_demo') == os.path.join(ROOT, 'configs', 'edvr_demo.yaml')
    assert load_config('edvr_m_wo_tsa').model.generator.nf == 64
    with pytest.raises(ConfigError, match=r'^configs/edvr_demo\.yml: config file not found$'):
        find_config('configs/edvr_demo.yml')
    with pytest.raises(ConfigError, match=r'^nothing_like_it: config file not found, nor a '
                                          r'shipped config of that name; shipped: edvr_demo, '):
        find_config('nothing_like_it')
