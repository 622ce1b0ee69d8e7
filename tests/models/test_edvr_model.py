# SPDX-License-Identifier: Apache-2.0
"""EDVRModel's training and test steps checked for values: which weights a step changes
in and after the TSA-only stage, the loss it reports, what it shows, the refusals."""
import numpy as np
import paddle
import pytest

from edvr.errors import TrainingError
from edvr.models.edvr_model import EDVRModel, unwrap
from edvr.models.losses import CharbonnierLoss, L1Loss
from tests.tiny import TINY

GENERATOR = dict(name='EDVRNet', w_TSA=True, **TINY)


def model(**kwargs):
    paddle.seed(0)
    return EDVRModel(dict(GENERATOR), **kwargs)


def batch(seed=0, size=8):
    rng = np.random.default_rng(seed)
    lq = rng.random((1, 5, 3, size, size)).astype('float32')
    gt = rng.random((1, 3, 4 * size, 4 * size)).astype('float32')
    return {'lq': paddle.to_tensor(lq), 'gt': paddle.to_tensor(gt)}


def weights_of(net):
    return {k: v.numpy().copy() for k, v in net.state_dict().items()}


def changed(before, after):
    return {k for k in before if not np.array_equal(before[k], after[k])}


def sgd(m):
    return paddle.optimizer.SGD(learning_rate=0.1, parameters=m.generator.parameters())


@pytest.mark.parametrize('tsa_iter, current_iter, tsa_only', [
    (3, 1, True), (3, 3, True), (3, 4, False), (0, 1, False), (False, 1, False), (1, 1, True),
    (1, 2, False)])
def test_a_step_inside_the_tsa_stage_changes_only_the_tsa_module(tsa_iter, current_iter, tsa_only):
    m = model(tsa_iter=tsa_iter)
    assert m.in_tsa_stage(current_iter) is tsa_only
    before = weights_of(m.generator)
    m.train_iter(batch(), sgd(m), current_iter)
    moved = changed(before, weights_of(m.generator))
    tsa = {k for k in moved if k.startswith('TSAModule.')}
    assert tsa and (moved == tsa) is tsa_only, sorted(moved)
    frozen = {n for n, p in m.generator.named_parameters() if p.stop_gradient}
    assert frozen == ({n for n, _ in m.generator.named_parameters()
                       if not n.startswith('TSAModule.')} if tsa_only else set())


def test_after_the_stage_every_parameter_trains_again():
    m = model(tsa_iter=1)
    opt = sgd(m)
    m.train_iter(batch(), opt, 1)
    before = weights_of(m.generator)
    m.train_iter(batch(1), opt, 2)
    assert {n for n, p in m.generator.named_parameters() if p.stop_gradient} == set()
    assert 'conv_first.weight' in changed(before, weights_of(m.generator))


def test_a_step_reports_the_loss_it_minimised_and_shows_the_centre_frame():
    m = model()
    assert isinstance(m.pixel_criterion, CharbonnierLoss) and m.pixel_criterion.reduction == 'sum'
    b = batch()
    m.generator.train()
    with paddle.no_grad():
        expected = float(CharbonnierLoss()(m.generator(b['lq']), b['gt']))
    losses = m.train_iter(b, sgd(m), 1)
    assert list(losses) == ['loss_pixel']
    assert losses['loss_pixel'] == pytest.approx(expected, rel=1e-6)
    assert m.generator.training
    np.testing.assert_array_equal(m.visuals['lq'].numpy(), b['lq'][:, 2].numpy())
    np.testing.assert_array_equal(m.visuals['gt'].numpy(), b['gt'].numpy())
    assert m.visuals['output'].shape == [1, 3, 32, 32] and m.visuals['output'].stop_gradient
    # the gradients were cleared after the step
    assert all(p.grad is None or not p.grad.numpy().any() for p in m.generator.parameters())


def test_the_configured_criterion_and_a_non_middle_centre():
    paddle.seed(0)
    m = EDVRModel(dict(GENERATOR, center=1), {'name': 'L1Loss', 'loss_weight': 2.0})
    assert isinstance(m.pixel_criterion, L1Loss) and m.pixel_criterion.loss_weight == 2.0
    b = batch()
    m.generator.train()
    with paddle.no_grad():
        expected = 2.0 * float((m.generator(b['lq']) - b['gt']).abs().mean())
    assert m.train_iter(b, sgd(m), 1)['loss_pixel'] == pytest.approx(expected, rel=1e-6)
    np.testing.assert_array_equal(m.visuals['lq'].numpy(), b['lq'][:, 1].numpy())


def test_test_iter_restores_any_size_in_eval_mode_and_trains_after():
    m = model()
    m.generator.train()
    lq = batch(size=10)['lq']                                  # 10 is not a multiple of 4
    out = m.test_iter(lq)
    assert out.shape == [1, 3, 40, 40] and m.generator.training
    m.generator.eval()
    padded = paddle.nn.functional.pad(lq.reshape([5, 3, 10, 10]), [1, 1, 1, 1], mode='reflect')
    with paddle.no_grad():
        full = m.generator(padded.reshape([1, 5, 3, 12, 12]))
    np.testing.assert_allclose(out.numpy(), full[:, :, 4:44, 4:44].numpy(), rtol=0, atol=1e-6)


def test_a_nan_loss_and_a_nan_gradient_are_refused_with_the_iteration():
    m = model()
    b = batch()
    before = weights_of(m.generator)
    b_nan = {'lq': b['lq'], 'gt': b['gt'] * float('nan')}
    with pytest.raises(TrainingError) as info:
        m.train_iter(b_nan, sgd(m), 7)
    assert str(info.value) == 'iteration 7: the loss is nan (NaN or infinite); the weights were not updated'
    m.pixel_criterion = _nan_gradient
    with pytest.raises(TrainingError) as info:
        m.train_iter(b, sgd(m), 8)
    assert str(info.value) == ('iteration 8: a gradient is NaN or infinite (the loss was finite); '
                               'the weights were not updated')
    assert changed(before, weights_of(m.generator)) == set()
    assert all(p.grad is None or not p.grad.numpy().any() for p in m.generator.parameters())


class _NanGradient(paddle.autograd.PyLayer):
    """Identity forward, NaN backward."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float('nan')


def _nan_gradient(pred, target):
    return ((_NanGradient.apply(pred) - target) ** 2).sum()


def test_unwrap_and_options():
    m = model(to_static=False)
    assert unwrap(m.generator) is m.generator and m.amp is None and m.tsa_iter == 0
    m.enable_amp('O2', 'bfloat16')
    assert m.amp == {'level': 'O2', 'dtype': 'bfloat16', 'scaler': None}
    m.enable_amp()
    assert m.amp == {'level': 'O1', 'dtype': 'float16', 'scaler': None}

    class Wrapped:
        _layers = m.generator
    assert unwrap(Wrapped()) is m.generator


def test_config_mistakes_name_the_model_key():
    from edvr.errors import ConfigError
    with pytest.raises(ConfigError) as info:
        EDVRModel(dict(GENERATOR, nff=8))
    assert str(info.value) == \
        'model.generator.nff: unknown argument of EDVRNet; did you mean nf, in_nf?'
    with pytest.raises(ConfigError) as info:
        EDVRModel(dict(GENERATOR), {'name': 'L1Loss', 'weight': 2})
    assert str(info.value) == \
        'model.pixel_criterion.weight: unknown argument of L1Loss; did you mean loss_weight?'


def test_to_static_is_off_unless_asked():
    assert type(model().generator.forward).__name__ == 'method'
    paddle.seed(0)
    m = EDVRModel(dict(GENERATOR), to_static=1)
    assert m.to_static is True and 'StaticFunction' in type(m.generator.forward).__name__
    assert EDVRModel(dict(GENERATOR), to_static=0).to_static is False


@pytest.mark.filterwarnings('ignore:(AmpScaler|amp_guard) can only be enabled')
def test_amp_on_cpu_takes_the_scaled_path_and_equals_float32():
    """Paddle casts nothing on a CPU and its GradScaler is off there: the AMP step equals
    the plain one, bit for bit."""
    plain, amp = model(), model()
    amp.enable_amp('O1', 'float16', paddle.amp.GradScaler(init_loss_scaling=1024))
    b = batch()
    assert plain.train_iter(b, sgd(plain), 1) == amp.train_iter(b, sgd(amp), 1)
    for key, value in weights_of(plain.generator).items():
        np.testing.assert_array_equal(weights_of(amp.generator)[key], value, err_msg=key)
    np.testing.assert_array_equal(amp.visuals['output'].numpy(), plain.visuals['output'].numpy())


class _Mean(paddle.nn.Layer):
    """A generator without a ``center``: the mean of the frames, upscaled 4x."""

    def __init__(self):
        super().__init__()
        self.w = self.create_parameter([1])

    def forward(self, lq):
        return paddle.nn.functional.interpolate(lq.mean(1) * self.w, scale_factor=4)


@pytest.mark.parametrize('frames', [4, 5])
def test_a_generator_without_a_centre_shows_the_middle_frame(frames):
    m = model()
    m.nets['generator'] = _Mean()
    b = batch()
    b['lq'] = b['lq'][:, :frames]
    m.train_iter(b, sgd(m), 1)
    np.testing.assert_array_equal(m.visuals['lq'].numpy(), b['lq'][:, frames // 2].numpy())


@pytest.mark.parametrize('other_finite', [0, 1])
def test_a_nan_loss_on_another_process_stops_every_process(monkeypatch, other_finite):
    """The processes agree (minimum over all) whether the loss is finite: one NaN stops all."""
    import re
    import types
    import edvr.models.edvr_model as edvr_model
    reduced = []

    def all_reduce(tensor, op):
        reduced.append((tensor.dtype, tensor.shape, tensor.numpy().tolist(), op))
        tensor.set_value(paddle.to_tensor([other_finite], dtype=tensor.dtype))
    monkeypatch.setattr(edvr_model, 'dist', types.SimpleNamespace(
        get_world_size=lambda: 2, all_reduce=all_reduce, ReduceOp=paddle.distributed.ReduceOp))
    m = model()
    before = weights_of(m.generator)
    if other_finite:
        m.train_iter(batch(), sgd(m), 5)
        assert changed(before, weights_of(m.generator))
    else:
        with pytest.raises(TrainingError) as info:
            m.train_iter(batch(), sgd(m), 5)
        assert re.fullmatch(r'iteration 5: the loss is [0-9.]+ \(NaN or infinite\); the weights '
                            r'were not updated', str(info.value)), str(info.value)
        assert changed(before, weights_of(m.generator)) == set()
    assert reduced == [(paddle.int32, [1], [1], paddle.distributed.ReduceOp.MIN)]
