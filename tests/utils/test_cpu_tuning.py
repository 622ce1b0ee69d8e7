# SPDX-License-Identifier: Apache-2.0
"""`tune_cpu_runtime`'s OpenMP setting: KMP_BLOCKTIME=0 set only when the user set neither
it nor OMP_WAIT_POLICY, nothing under EDVR_CPU_TUNING=0, and the value read back from the
runtime itself (libiomp5's kmp_get_blocktime). Each case runs in a fresh process, as the
tuning is once per process and the runtime reads its variables when it starts."""
import json
import os
import subprocess
import sys

import pytest

from edvr.utils import device
from tests.tiny import ROOT

SCRIPT = '''
import json, os, sys
from edvr.utils import device
if sys.argv[1] == 'started':   # the runtime already running threads before the tuning
    import paddle
    device.set_cpu_threads(2)
    x = paddle.randn([256, 256])
    paddle.matmul(x, x)
tuned = device.tune_cpu_runtime()
print(json.dumps({"short_waits": tuned["short_waits"], "env": os.environ.get("KMP_BLOCKTIME"),
                  "runtime": device.openmp_blocktime()}))
'''
OURS = ('KMP_BLOCKTIME', 'OMP_WAIT_POLICY', 'EDVR_CPU_TUNING', 'MKL_DEBUG_CPU_TYPE')


def tuned_process(when='fresh', **env):
    """What a process with ``env`` (and none of OURS otherwise) reports after tuning."""
    base = {k: v for k, v in os.environ.items() if k not in OURS}
    result = subprocess.run([sys.executable, '-c', SCRIPT, when], cwd=ROOT, text=True,
                            env=dict(base, **env), capture_output=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])


needs_iomp = pytest.mark.skipif(device._openmp_runtime() is None,
                                reason='this Paddle does not load libiomp5')


@needs_iomp
@pytest.mark.parametrize('when', ['fresh', 'started'])
def test_threads_sleep_at_once_when_the_user_set_nothing(when):
    """A fresh process gets it through the variable; one whose runtime has started already
    through kmp_set_blocktime."""
    assert tuned_process(when) == {'short_waits': True, 'env': '0', 'runtime': 0}


@needs_iomp
def test_a_blocktime_the_user_set_is_kept():
    assert tuned_process(KMP_BLOCKTIME='30') == {'short_waits': False, 'env': '30',
                                                  'runtime': 30}


@needs_iomp
def test_a_wait_policy_the_user_set_is_kept():
    report = tuned_process(OMP_WAIT_POLICY='ACTIVE')
    assert report['short_waits'] is False and report['env'] is None
    assert report['runtime'] != 0


@needs_iomp
def test_nothing_is_set_with_tuning_off():
    assert tuned_process(EDVR_CPU_TUNING='0') == {'short_waits': False, 'env': None,
                                                  'runtime': 200}
