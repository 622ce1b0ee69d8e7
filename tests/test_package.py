# SPDX-License-Identifier: Apache-2.0
import pytest

import edvr


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
