# SPDX-License-Identifier: Apache-2.0
"""Weights, checkpoints and exported models written under one Paddle version and read under
the other, both ways, with the other interpreter named by EDVR_OTHER_PYTHON (.ci/run sets it
to its Paddle 2.6 environment for the run on 3.x)."""
import json
import os
import subprocess

import pytest

from edvr.utils.paddle_compat import parse_version
from tests.cross_version import read, write

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OTHER = os.environ.get('EDVR_OTHER_PYTHON', '')
pytestmark = pytest.mark.skipif(
    not OTHER, reason='cross-version tests need EDVR_OTHER_PYTHON=<a python with the other '
                      'Paddle version and the requirements> (.ci/run sets it)')


def other(*args):
    """Run tests/cross_version.py with the other interpreter; its JSON report."""
    result = subprocess.run([OTHER, os.path.join(ROOT, 'tests', 'cross_version.py'), *args],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize('writer', ['other', 'this'])
def test_files_written_under_one_version_load_under_the_other(tmp_path, writer):
    if writer == 'other':
        written = other('write', str(tmp_path / 'w'))
        report = read(written, str(tmp_path / 'r'))
    else:
        written = write(str(tmp_path / 'w'))
        report = other('read', json.dumps(written), str(tmp_path / 'r'))
    old_reads_new = parse_version(report['paddle']) < (3,) <= parse_version(written['paddle'])
    assert (parse_version(written['paddle']) < (3,)) != (parse_version(report['paddle']) < (3,))
    # a checkpoint resumes to the same weights as the writer's uninterrupted run (3.3.1 and
    # 2.6.2 here: bit for bit)
    assert report['resumed_at_2'] and report['resumed_weights_max_diff'] < 1e-6
    # a weights file restores the writer's frames (5 of them) within one 8-bit level
    assert report['weights_frames'][0] == 5 and report['weights_frames'][1] <= 1
    # the export on the CPU, default runtime: the library's network rebuilt from the export's
    # record and .pdparams, which read under either version
    model = report['model']['auto']
    assert model['code'] == 0 and model['frames'][0] == 5 and model['frames'][1] <= 1
    model = report['model']['paddle_inference']
    if old_reads_new:  # Paddle 2.6 cannot read a Paddle 3 program: one line, exit code 2
        assert (model['code'], model['errors']) == (2, [
            f'error: {written["model"]}.json: a Paddle 3 (PIR .json) model cannot be read by '
            f'the installed Paddle {report["paddle"]}; export it again here with '
            f'tools/export_model.py, or run it with Paddle 3'])
    else:  # Paddle 3 runs a Paddle 2.6 export
        assert model['code'] == 0 and model['frames'][0] == 5 and model['frames'][1] <= 1
