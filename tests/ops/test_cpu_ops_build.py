# SPDX-License-Identifier: Apache-2.0
"""The C++ kernel build: one table of sources, a cache keyed on content, quiet loads, and
the EDVR_EXPECT_CPU_OPS switch that makes a failed build fail the tests."""
import json
import os
import re
import shutil
import subprocess
import sys

from edvr.ops import cpu_ops
from tests.tiny import ROOT



def test_sources_table_lists_every_source_and_op():
    """`cpu_ops.SOURCES` names every .cc file of csrc/ with exactly the ops it registers."""
    found = {}
    for name in sorted(os.listdir(cpu_ops.CSRC)):
        if name.endswith('.cc'):
            with open(os.path.join(cpu_ops.CSRC, name)) as f:
                found[name] = tuple(re.findall(r'PD_BUILD_OP\((\w+)\)', f.read()))
    assert found == {name: tuple(ops) for name, ops in sorted(cpu_ops.SOURCES.items())}
    headers = [os.path.basename(p) for p in cpu_ops.build_inputs() if p.endswith('.h')]
    assert headers == ['bf16_conv.h', 'dcn_sampling.h', 'fused_conv.h', 'op_checks.h',
                       'winograd_store.h']


def test_a_cached_build_is_shared_by_every_checkout_and_loads_quietly(cpp_ops, tmp_path,
                                                                       monkeypatch):
    """A copy of the sources elsewhere (another clone, an installed wheel) maps to the same
    build directory, and a new process loads the cached library from it without compiling
    or printing anything."""
    flags = cpu_ops._flag_sets()[0]
    here = cpu_ops._build_dir(*flags)
    clone = tmp_path / 'clone' / 'csrc'
    shutil.copytree(cpu_ops.CSRC, clone)
    code = f'''
import json
from edvr.ops import cpu_ops
cpu_ops.CSRC = {str(clone)!r}
print(json.dumps([cpu_ops._build_dir(*cpu_ops._flag_sets()[0]), cpu_ops.load_cpu_ops() is not None,
                  cpu_ops.cpu_ops_status()['compiled']]))
'''
    result = subprocess.run([sys.executable, '-W', 'ignore:No ccache found', '-c', code],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == '', result.stderr[-2000:]
    assert json.loads(result.stdout) == [here, True, False]
    (clone / 'op_checks.h').write_text('// changed\n' + (clone / 'op_checks.h').read_text())
    monkeypatch.setattr(cpu_ops, 'CSRC', str(clone))
    assert cpu_ops._build_dir(*flags) != here          # a header's content is in the key


def test_expected_kernels_that_cannot_build_fail_the_tests():
    """With EDVR_EXPECT_CPU_OPS=1 (CI) a kernel test fails instead of skipping."""
    env = dict(os.environ, EDVR_CPU_OPS='0', EDVR_EXPECT_CPU_OPS='1')
    test = 'tests/ops/test_fast_paths.py::test_cpp_ops_build_on_this_machine'
    result = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                             test], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stdout[-2000:]
    assert result.stdout.rstrip().splitlines()[-1].startswith('1 error in')   # not a skip
    assert 'C++ CPU ops unavailable here: disabled by EDVR_CPU_OPS=0 (EDVR_EXPECT_CPU_OPS=1)' \
        in result.stdout
