# SPDX-License-Identifier: Apache-2.0
"""Per-frame features reused across sliding windows: same outputs, each frame computed once."""
import numpy as np
import paddle
import pytest

from edvr.config import load_config
from edvr.datasets.frame_index import padded_frame_indices
from edvr.deploy import feature_cache
from edvr.deploy.predictor import Predictor
from edvr.deploy.runners import DygraphRunner
from edvr.deploy.tiling import tile_starts
from edvr.errors import ConfigError
from edvr.models.edvr_net import EDVRNet
from tests.tiny import DEMO_CONFIG, tiny_overrides

TINY = dict(nf=8, groups=2, front_RBs=1, back_RBs=1, nframes=5)


def tiny(seed=0, **kwargs):
    """A tiny EDVRNet with non-zero DCN offsets."""
    paddle.seed(seed)
    net = EDVRNet(**{**TINY, **kwargs})
    rng = np.random.default_rng(seed)
    for name, param in net.named_parameters():
        if 'conv_offset_mask' in name:
            param.set_value(rng.normal(0, 0.05, param.shape).astype('float32'))
    return net


def counting(net):
    """Count the frames ``net.extract_features`` is given (``net.frames_extracted``)."""
    extract = net.extract_features
    net.frames_extracted = 0

    def counted(frames):
        net.frames_extracted += frames.shape[0]
        return extract(frames)
    net.extract_features = counted
    return net


def predictor(net, cache_mib, padding='reflection_circle', threads=1, **options):
    result = Predictor.__new__(Predictor)
    result._setup(DygraphRunner(net, threads, cache_mib), net.nframes, net.scale_factor,
                  net.size_multiple, (0., 1.), padding, **options)
    return result


def clip(num_frames, h, w, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(num_frames)]


def windows(frames, num_frames, padding):
    """The float32 (1, t, 3, h, w) windows of run_sequence, in order."""
    for center in range(len(frames)):
        indices = padded_frame_indices(center, num_frames, len(frames), padding)
        yield np.stack([frames[i] for i in indices]).transpose(0, 3, 1, 2)[None] / np.float32(255)


CASES = {
    'default kernels': (dict(), dict(), (12, 16)),
    'paddle kernels': (dict(conv_kernel='paddle', dcn_kernel='paddle'), dict(), (12, 16)),
    'tiling': (dict(), dict(tile=8, tile_overlap=4), (12, 18)),
    'ensemble': (dict(), dict(ensemble=True), (8, 12)),
    'predeblur': (dict(predeblur=True), dict(), (12, 16)),
    'predeblur HR_in': (dict(predeblur=True, HR_in=True, scale_factor=1), dict(), (32, 48)),
    'TSA, centre 1': (dict(w_TSA=True, center=1), dict(), (12, 16)),
}


@pytest.mark.parametrize('case', CASES)
def test_outputs_bit_identical_and_each_frame_extracted_once(case):
    net_args, options, (h, w) = CASES[case]
    net = counting(tiny(**net_args))
    frames = clip(8, h, w)
    whole, cached = predictor(net, 0, **options), predictor(net, 64, **options)

    tiles = len(tile_starts(h, 8, 4)) * len(tile_starts(w, 8, 4)) if options.get('tile') else 1
    passes = (8 if options.get('ensemble') else 1) * tiles   # distinct inputs per frame

    expected = [whole.restore(x) for x in windows(frames, 5, 'reflection_circle')]
    assert net.frames_extracted == 5 * 8 * passes   # every window's frames, every pass
    net.frames_extracted = 0
    got = [cached.restore(x) for x in windows(frames, 5, 'reflection_circle')]
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)   # one thread: the kernels ignore the batch size
    assert net.frames_extracted == 8 * passes          # each input frame once per pass
    assert cached.runner.cache.reused == 4 * 8 * passes

    whole_clip = list(whole.run_sequence(frames))
    cached_clip = list(cached.run_sequence(frames))
    assert len(cached_clip) == 8
    for a, b in zip(whole_clip, cached_clip):
        np.testing.assert_array_equal(a, b)


def test_two_threads_at_edvr_m_width_agree_within_rounding():
    # With 2 threads the C++ strided convolutions' matrix product sums in an order that
    # depends on how many frames share the call (5 per window without the cache, 1 new
    # frame with it): the features, and so the outputs, agree to float32 rounding only,
    # as they do between batch sizes or thread counts without the cache.
    net = tiny(nf=64, groups=8)
    rng = np.random.default_rng(0)
    for name, param in net.named_parameters():
        if len(param.shape) == 4:   # He-normal x0.5: features of realistic size
            scale = 0.1 if 'conv_offset_mask' in name else 0.5
            std = scale * np.sqrt(2.0 / np.prod(param.shape[1:]))
            param.set_value(rng.normal(0, std, param.shape).astype('float32'))
    frames = clip(6, 16, 32)
    whole, cached = predictor(net, 0, threads=2), predictor(net, 64, threads=2)
    for x in windows(frames, 5, 'reflection_circle'):
        np.testing.assert_allclose(cached.restore(x), whole.restore(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize('padding', ['reflection_circle', 'replicate', 'circle', 'reflection'])
def test_a_long_clip_keeps_two_windows_of_frames(padding):
    net = counting(tiny())
    cached = predictor(net, 64, padding)
    sizes, cache = [], cached.runner.cache
    features = cache.features

    def watched(frames):
        out = features(frames)
        sizes.append(len(cache.entries))
        return out
    cache.features = watched
    outputs = list(cached.run_sequence(clip(12, 8, 8)))
    assert len(outputs) == 12
    assert net.frames_extracted == 12
    assert max(sizes) == 6   # the previous window's 5 frames and the new one


def test_the_budget_bounds_memory_and_keeps_outputs():
    net = counting(tiny())
    frames = clip(6, 12, 16)
    per_frame = feature_cache._entry_bytes(
        np.zeros((3, 12, 16), np.float32),
        [paddle.zeros([1, 8, 12 // s, 16 // s]) for s in (1, 2, 4)])
    small = predictor(net, 2.5 * per_frame / 2 ** 20)   # room for two frames
    expected = list(predictor(net, 0).run_sequence(frames))
    net.frames_extracted = 0
    got = list(small.run_sequence(frames))
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)
    assert small.runner.cache.bytes == 2 * per_frame
    assert net.frames_extracted == 20   # of the 30 window frames; 6 with room for all


def test_a_hash_collision_is_caught_by_the_byte_check(monkeypatch):
    monkeypatch.setattr(feature_cache, '_content_key', lambda frame: 'same')
    net = counting(tiny())
    frames = clip(6, 8, 8)
    expected = list(predictor(net, 0).run_sequence(frames))
    got = list(predictor(net, 64).run_sequence(frames))
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)


def test_evaluate_reuses_features_and_scores_the_same(demo_data, tiny_weights):
    cfg = load_config(DEMO_CONFIG, tiny_overrides(demo_data))
    _, weights = tiny_weights
    whole = Predictor.from_config(cfg, weights, num_threads=1, feature_cache_mib=0)
    cached = Predictor.from_config(cfg, weights, num_threads=1)
    assert whole.runner.cache is None
    with pytest.raises(ConfigError, match=r'feature_cache_mib=-1; expected a number of MiB >= 0'):
        Predictor.from_config(cfg, weights, feature_cache_mib=-1)
    counting(cached.runner.net)
    cached.runner.cache.extract = cached.runner.net.extract_features
    a, b = whole.evaluate(cfg, bicubic=False), cached.evaluate(cfg, bicubic=False)
    assert a == b and a['frames'] == 5
    assert cached.runner.net.frames_extracted == 5   # 5 windows of one 5-frame clip
