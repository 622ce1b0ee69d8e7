# SPDX-License-Identifier: Apache-2.0
import numpy as np
import pytest

from edvr.config import load_config
from edvr.deploy.predictor import Predictor
from edvr.deploy.tiling import restore_tiled, tile_starts
from edvr.errors import ConfigError
from edvr.metrics import tensor2img
from tests.tiny import DEMO_CONFIG, tiny_overrides


def test_tile_starts_cover_the_frame_with_the_overlap():
    assert tile_starts(10, 16, 4) == [0]
    assert tile_starts(40, 16, 4) == [0, 12, 24]
    starts = tile_starts(37, 16, 4)
    assert starts[-1] + 16 == 37 and all(b - a <= 12 for a, b in zip(starts, starts[1:]))


def test_blending_of_a_pointwise_restore_is_exact():
    lq = np.random.default_rng(0).random((1, 3, 3, 21, 30), dtype=np.float32)

    def upscale(x):  # the centre frame, nearest x2: tiles then agree exactly where they overlap
        return x[:, 1].repeat(2, axis=-2).repeat(2, axis=-1)
    np.testing.assert_allclose(restore_tiled(upscale, lq, 8, 3, 2), upscale(lq), atol=1e-6)


def test_tiled_predictor_matches_whole_frames_within_about_one_level(demo_data, tiny_weights):
    cfg = load_config(DEMO_CONFIG, tiny_overrides(demo_data))
    _, weights = tiny_weights
    whole = Predictor.from_config(cfg, weights)
    tiled = Predictor.from_config(cfg, weights, tile=16, tile_overlap=8)
    lq = np.random.default_rng(2).random((1, 5, 3, 28, 44), dtype=np.float32)
    a, b = whole.restore(lq), tiled.restore(lq)
    assert b.shape == a.shape == (1, 3, 112, 176)
    levels = np.abs(tensor2img(a[0]).astype(int) - tensor2img(b[0]).astype(int))
    # near tile edges a pixel sees less context: a few values move by 2 levels at this
    # small overlap (measured 0.07%); everything else is within one level
    assert levels.max() <= 2 and (levels > 1).mean() < 0.002
    with pytest.raises(ConfigError, match='0 <= overlap < tile'):
        Predictor.from_config(cfg, weights, tile=8, tile_overlap=8)
