# SPDX-License-Identifier: Apache-2.0
"""Predictor: any frame size, exported vs dygraph back ends, sliding window over a clip."""
import numpy as np
import pytest

from edvr.config import load_config
from edvr.datasets.frame_index import padded_frame_indices
from edvr.deploy.predictor import Predictor
from edvr.errors import ConfigError, DataError, WeightsError
from edvr.metrics import tensor2img
from tests.tiny import DEMO_CONFIG, dygraph, tiny_overrides


def uint8_frames(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture(scope='module')
def predictor(exported):
    return Predictor(exported[1], num_threads=1)


def test_non_multiple_size_matches_dygraph_on_padded_input(predictor, exported):
    net = exported[0]
    frames = uint8_frames((5, 18, 22, 3))
    out = predictor.run(frames)
    assert out.shape == (72, 88, 3) and out.dtype == np.uint8
    lq = frames.transpose(0, 3, 1, 2)[None].astype(np.float32) / 255.
    padded = np.pad(lq, [(0, 0)] * 3 + [(1, 1), (1, 1)], mode='reflect')   # to 20x24
    want = dygraph(net, padded)[:, :, 4:76, 4:92]
    assert np.abs(predictor.restore(lq) - want).max() < 1e-5
    assert np.abs(out.astype(int) - tensor2img(want[0]).astype(int)).max() <= 1


def test_dygraph_fallback_equals_exported(predictor, tiny_weights, demo_data):
    fallback = Predictor.from_config(DEMO_CONFIG, tiny_weights[1],
                                     overrides=tiny_overrides(demo_data), num_threads=1)
    assert (fallback.num_frames, fallback.scale, fallback.size_multiple) == (5, 4, 4)
    frames = uint8_frames((5, 9, 13, 3), seed=1)
    a, b = fallback.run(frames), predictor.run(frames)
    assert a.shape == b.shape == (36, 52, 3)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_run_rejects_wrong_windows(predictor):
    with pytest.raises(DataError, match=r'expected \(5, h, w, 3\)'):
        predictor.run(uint8_frames((3, 8, 8, 3)))
    with pytest.raises(DataError, match='expected uint8'):
        predictor.run(np.zeros((5, 8, 8, 3), np.float32))


class _Recorder:
    """A stand-in network: records each window's frame ids, returns a 2x nearest upscale."""

    def __init__(self):
        self.windows = []

    def __call__(self, x):
        self.windows.append([int(round(v * 255)) for v in x[0, :, 0, 0, 0]])
        centre = x[:, x.shape[1] // 2]
        return centre.repeat(2, axis=-2).repeat(2, axis=-1)


def recording_predictor(padding):
    predictor = Predictor.__new__(Predictor)
    predictor._setup(_Recorder(), 5, 2, 4, (0., 1.), padding)
    return predictor


@pytest.mark.parametrize('padding', ['reflection_circle', 'replicate', 'circle'])
def test_run_sequence_windows_and_order(padding):
    predictor = recording_predictor(padding)
    frames = [np.full((6, 7, 3), 10 * i, np.uint8) for i in range(9)]
    outputs = list(predictor.run_sequence(iter(frames)))
    assert len(outputs) == 9
    for i, out in enumerate(outputs):
        assert out.shape == (12, 14, 3) and (out == 10 * i).all()
    want = [[10 * j for j in padded_frame_indices(i, 5, 9, padding)] for i in range(9)]
    assert predictor.runner.windows == want


def test_run_sequence_reads_lazily():
    predictor = recording_predictor('reflection_circle')
    consumed = []

    def frames():
        for i in range(30):
            consumed.append(i)
            yield np.full((4, 4, 3), i, np.uint8)

    stream = predictor.run_sequence(frames())
    next(stream)
    assert len(consumed) == 5   # the first window reaches frame 4
    for _ in range(10):
        next(stream)
    assert len(consumed) == 15  # centre 10 may need up to frame 14
    assert len(list(stream)) == 19


def test_run_sequence_bad_clips():
    predictor = recording_predictor('reflection_circle')
    with pytest.raises(DataError, match='no frames'):
        list(predictor.run_sequence([]))
    with pytest.raises(DataError, match='too short'):
        list(predictor.run_sequence([np.zeros((4, 4, 3), np.uint8)] * 3))
    with pytest.raises(DataError, match='frame 1 has shape'):
        list(predictor.run_sequence([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8)]))


def test_real_model_sequence(predictor):
    frames = [uint8_frames((10, 11, 3), seed=i) for i in range(6)]
    outputs = list(predictor.run_sequence(frames))
    assert len(outputs) == 6
    for i in (0, 3, 5):
        window = np.stack([frames[j] for j in padded_frame_indices(i, 5, 6, 'reflection_circle')])
        np.testing.assert_array_equal(outputs[i], predictor.run(window))


def test_bad_construction(tmp_path, exported):
    with pytest.raises(WeightsError, match='exported model not found'):
        Predictor(str(tmp_path / 'missing'))
    with pytest.raises(ConfigError, match='padding'):
        Predictor(exported[1], padding='mirror')
    with pytest.raises(ConfigError, match='no CUDA|expected cpu'):
        Predictor(exported[1], device='tpu')


def test_ensemble_averages_the_eight_flips_and_transposes(demo_data, tiny_weights):
    cfg = load_config(DEMO_CONFIG, tiny_overrides(demo_data))
    _, weights = tiny_weights
    plain = Predictor.from_config(cfg, weights)
    averaged = Predictor.from_config(cfg, weights, ensemble=True)
    lq = np.random.default_rng(1).random((1, 5, 3, 8, 12), dtype=np.float32)
    expected = []
    for k in range(4):  # the 8 = 4 rotations x with/without a horizontal flip
        for flip in (False, True):
            x = np.rot90(lq, k, axes=(-2, -1))
            x = x[..., ::-1] if flip else x
            y = plain.restore(np.ascontiguousarray(x))
            y = y[..., ::-1] if flip else y
            expected.append(np.rot90(y, -k, axes=(-2, -1)))
    got = averaged.restore(lq)
    assert got.shape == (1, 3, 32, 48)
    np.testing.assert_allclose(got, np.mean(expected, axis=0), atol=1e-6)
    assert np.abs(got - plain.restore(lq)).max() > 1e-4  # the average differs from one pass
