# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the dataset tests."""
import pytest
from tests.datasets.vsr_fixtures import make_reds_tree


@pytest.fixture
def reds_tree(tmp_path):
    """Clips 000, 001, 002, 011, 015, 020, 240 of 7 frames; GT 16x16, LQ 4x4."""
    return make_reds_tree(str(tmp_path), ['000', '001', '002', '011', '015', '020', '240'])
