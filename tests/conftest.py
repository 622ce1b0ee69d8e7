# SPDX-License-Identifier: Apache-2.0
"""Shared test setup: import the package from this checkout, run Paddle on CPU."""
import logging
import os
import shutil
import subprocess
import sys
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
warnings.filterwarnings('ignore', message='No ccache found')

import paddle  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

# Property tests: few examples and no per-example deadline (the machine is shared and
# Paddle's first call is slow); under CI the examples are derived from each test's
# name, so a run is repeatable. Select another profile with --hypothesis-profile.
hypothesis_settings.register_profile('dev', max_examples=40, deadline=None)
hypothesis_settings.register_profile('ci', max_examples=40, deadline=None, derandomize=True,
                                     print_blob=True)
hypothesis_settings.load_profile('ci' if os.environ.get('CI') else 'dev')

paddle.set_device('cpu')
from edvr.utils.device import tune_cpu_runtime  # noqa: E402

tune_cpu_runtime()   # as the entry points do, before any computation in the test process


@pytest.fixture(scope='session')
def built_wheel(tmp_path_factory):
    """The wheel `pip wheel` makes of a clean copy of the project (no stale build/)."""
    tmp = tmp_path_factory.mktemp('wheel')
    project = tmp / 'project'
    project.mkdir()
    for name in ('setup.py', 'setup.cfg', 'README.md', 'requirements.txt',
                 'requirements-base.txt', 'requirements-test.txt'):
        shutil.copy(os.path.join(ROOT, name), project / name)
    for folder in ('edvr', 'configs'):
        shutil.copytree(os.path.join(ROOT, folder), project / folder,
                        ignore=shutil.ignore_patterns('__pycache__'))
    result = subprocess.run([sys.executable, '-m', 'pip', 'wheel', str(project), '--no-deps',
                             '--no-build-isolation', '-q', '-w', str(tmp / 'dist')],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = (tmp / 'dist').glob('edvr-*.whl')
    return wheel


class _Lines(logging.Handler):
    """The messages logged to the logger it is attached to (whatever the logging setup of
    earlier tests did to propagation)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def bf16_lines():
    """The warning lines `edvr.ops.bf16` logs during the test."""
    from edvr.ops import bf16
    handler, level = _Lines(), bf16.logger.level
    bf16.logger.addHandler(handler)
    bf16.logger.setLevel(logging.WARNING)
    yield handler.lines
    bf16.logger.removeHandler(handler)
    bf16.logger.setLevel(level)
