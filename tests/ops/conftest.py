# SPDX-License-Identifier: Apache-2.0
"""The `cpp_ops` fixture: the built C++ CPU kernels, or a skip naming the build error.

With ``EDVR_EXPECT_CPU_OPS=1`` (set by CI, where a compiler is present and the kernels are
the default path) a failed build fails these tests instead of skipping them.
"""
import os

import pytest

from edvr.ops import cpu_ops


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
