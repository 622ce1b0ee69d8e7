# SPDX-License-Identifier: Apache-2.0
"""FeatureCache's bookkeeping with a stand-in feature extractor: frames computed and
reused per window, bytes held, the budget's edge, a colliding key, and clearing."""
import numpy as np
import paddle

from edvr.deploy import feature_cache
from edvr.deploy.feature_cache import FeatureCache

SHAPE = (3, 4, 6)


def frame(value):
    return np.full(SHAPE, value, np.float32)


def extract(frames):
    """Two levels per frame: the frame doubled (n, 3, 4, 6) and its channel mean (n, 1, 2, 3)."""
    return [frames * 2, paddle.nn.functional.avg_pool2d(frames.mean(axis=1, keepdim=True), 2)]


def entry_bytes():
    return frame(0).nbytes + (3 * 4 * 6 + 1 * 2 * 3) * 4     # float32 features


def features(cache, values):
    out = cache.features(np.stack([frame(v) for v in values]))
    np.testing.assert_array_equal(out[0].numpy(), np.stack([frame(2 * v) for v in values]))
    np.testing.assert_array_equal(out[1].numpy(), np.stack([np.full((1, 2, 3), v, np.float32)
                                                            for v in values]))
    return out


def test_windows_compute_each_frame_once_and_count_what_they_reuse():
    cache = FeatureCache(extract)
    assert (cache.computed, cache.reused, cache.bytes) == (0, 0, 0)
    features(cache, [1, 1, 1, 2, 3])          # a padded window: frame 1 three times
    assert (cache.computed, cache.reused) == (3, 2)
    cache.start_window()
    features(cache, [1, 2, 3, 4, 5])
    assert (cache.computed, cache.reused) == (5, 5)
    assert cache.bytes == 5 * entry_bytes() and len(cache.entries) == 5
    cache.start_window()
    features(cache, [3, 4, 5, 6, 7])
    assert (cache.computed, cache.reused) == (7, 8)
    assert len(cache.entries) == 7 and cache.bytes == 7 * entry_bytes()
    cache.start_window()                      # 1 and 2 were last used two windows ago
    assert len(cache.entries) == 5 and cache.bytes == 5 * entry_bytes()
    cache.clear()
    assert (cache.entries, cache.bytes) == ({}, 0)


def test_two_new_frames_give_one_row_each():
    cache = FeatureCache(extract)
    out = features(cache, [7, 8])
    assert [tuple(level.shape) for level in out] == [(2, 3, 4, 6), (2, 1, 2, 3)]
    assert cache.computed == 2


def test_a_budget_of_exactly_one_entry_keeps_one():
    cache = FeatureCache(extract, budget_mib=entry_bytes() / 2 ** 20)
    features(cache, [1, 2])
    assert len(cache.entries) == 1 and cache.bytes == entry_bytes()
    features(cache, [1, 2])
    assert (cache.computed, cache.reused) == (3, 1)


def test_a_colliding_key_keeps_the_newer_frame_once(monkeypatch):
    monkeypatch.setattr(feature_cache, '_content_key', lambda f: 'same')
    cache = FeatureCache(extract)
    features(cache, [1])
    features(cache, [2])                      # same key, other bytes: computed, replaces 1
    assert len(cache.entries) == 1 and cache.bytes == entry_bytes()
    features(cache, [2])
    assert (cache.computed, cache.reused) == (2, 1)
