# SPDX-License-Identifier: Apache-2.0
import pytest

import edvr


def test_package_exposes_version_and_predictor_lazily():
    assert edvr.__version__ == '0.1.0'
    assert edvr.Predictor.__name__ == 'Predictor'
    assert callable(edvr.Predictor.from_config)
    with pytest.raises(AttributeError, match="module edvr has no attribute 'Nope'"):
        edvr.Nope  # noqa: B018
