# SPDX-License-Identifier: Apache-2.0
import json
import os
import re
import subprocess
import sys
import zipfile

import pytest

import edvr
from tests.tiny import ROOT


def test_package_exposes_version_and_predictor_lazily():
    assert edvr.__version__ == '0.1.0'
    assert edvr.Predictor.__name__ == 'Predictor'
    assert callable(edvr.Predictor.from_config)
    with pytest.raises(AttributeError, match="module edvr has no attribute 'Nope'"):
        edvr.Nope  # noqa: B018


def test_bad_thread_count_is_one_line(monkeypatch):
    from edvr.errors import ConfigError
    from edvr.utils.device import env_threads
    monkeypatch.setenv('EDVR_NUM_THREADS', 'two')
    with pytest.raises(ConfigError, match=r"EDVR_NUM_THREADS='two': expected a positive whole number"):
        env_threads()
    monkeypatch.setenv('EDVR_NUM_THREADS', '3')
    assert env_threads() == 3
    monkeypatch.delenv('EDVR_NUM_THREADS')
    assert env_threads() is None




def test_importing_the_package_changes_no_process_setting():
    """`import edvr...` leaves os.environ, malloc and Paddle's threads alone; the CPU runtime
    tuning is applied by entry points (Trainer, Predictor, tools) calling it."""
    code = '''
import json, os
import cv2, paddle  # their own imports set variables (OMP_NUM_THREADS, LD_LIBRARY_PATH)
before = dict(os.environ)
import edvr, edvr.components, edvr.engine.trainer, edvr.deploy.predictor, edvr.ops.cpu_ops
from edvr.utils import device
print(json.dumps({"env": dict(os.environ) == before, "tuned": device._tuned["done"],
                  "threads": device._threads["count"]}))
'''
    env = {k: v for k, v in os.environ.items() if k not in ('MKL_DEBUG_CPU_TYPE',)}
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, text=True,
                            capture_output=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {'env': True, 'tuned': False,
                                                          'threads': None}


def test_the_wheel_holds_every_file_the_kernel_build_reads(built_wheel):
    """`pip wheel .` of a copy of the project: every module, every file the C++ build reads,
    the version of edvr/__init__.py, the requirements of requirements-base.txt and Paddle's
    CPU build as the extra cpu only."""
    from edvr.ops.cpu_ops import build_inputs
    wheel = built_wheel
    assert wheel.name.startswith(f'edvr-{edvr.__version__}-')
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f'edvr-{edvr.__version__}.dist-info/METADATA').decode()
    build_files = {os.path.relpath(p, ROOT).replace(os.sep, '/') for p in build_inputs()}
    assert build_files <= names and 'edvr/ops/csrc/fused_conv.h' in build_files
    modules = {os.path.relpath(os.path.join(d, f), ROOT).replace(os.sep, '/')
               for d, _, files in os.walk(os.path.join(ROOT, 'edvr')) for f in files
               if f.endswith('.py')}
    assert modules <= names and 'edvr/ops/README.md' in names
    requires = sorted(re.sub(r'[ ()]', '', line.split(': ', 1)[1])
                      for line in metadata.splitlines()
                      if line.startswith('Requires-Dist: ') and 'extra ==' not in line)
    with open(os.path.join(ROOT, 'requirements-base.txt')) as f:
        listed = [line.split('#')[0].strip() for line in f if line.split('#')[0].strip()]
    assert requires == sorted(listed) and 'lmdb' in requires
    assert not any(name.startswith('paddlepaddle') for name in requires)
    assert 'Requires-Dist: paddlepaddle>=2.6; extra == "cpu"' in metadata.splitlines()
