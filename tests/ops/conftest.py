# SPDX-License-Identifier: Apache-2.0
"""The kernel tests' fixtures: `cpp_ops` (the built C++ CPU kernels, or a skip naming the
build error), `bf16_ops` (the same where the bfloat16 kernels run), `threads` (1 and 2 math
threads) and `threads_back` (restores the math-thread count).

With ``EDVR_EXPECT_CPU_OPS=1`` (set by CI, where a compiler is present and the kernels are
the default path) a failed build fails these tests instead of skipping them.
"""
import os

import pytest

from edvr.ops import bf16, cpu_ops
from edvr.utils.device import cpu_threads, set_cpu_threads


def _expected():
    return os.environ.get('EDVR_EXPECT_CPU_OPS', '').strip() == '1'


@pytest.fixture
def cpu_ops_expected():
    """Whether EDVR_EXPECT_CPU_OPS=1 asks for the C++ kernels to be built here."""
    return _expected()


@pytest.fixture
def cpp_ops():
    """The compiled ops module; skips (or, when expected, fails) where it cannot be built."""
    ops = cpu_ops.load_cpu_ops()
    if ops is None:
        reason = f'C++ CPU ops unavailable here: {cpu_ops.cpu_ops_status()["error"]}'
        if _expected():
            pytest.fail(f'{reason} (EDVR_EXPECT_CPU_OPS=1)')
        pytest.skip(reason)
    return ops


@pytest.fixture
def bf16_ops(cpp_ops):
    """The built ops where AVX-512 BF16 runs; skips (naming why) elsewhere."""
    reason = bf16.bf16_unavailable_reason()
    if reason:
        pytest.skip(f'bfloat16 kernels unavailable here: {reason}')
    return cpp_ops


@pytest.fixture(params=[1, 2], ids=['1 thread', '2 threads'])
def threads(request):
    """Runs the test with 1 and with 2 math threads (the OpenMP split), restoring the count."""
    before = cpu_threads()
    set_cpu_threads(request.param)
    yield request.param
    set_cpu_threads(before)


@pytest.fixture
def threads_back():
    """Restores the math-thread count a test changes."""
    before = cpu_threads()
    yield
    set_cpu_threads(before)
