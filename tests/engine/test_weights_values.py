# SPDX-License-Identifier: Apache-2.0
"""edvr/weights.py checked for what a user sees: the names and values in a saved file, a
resumed run's optimizer moments, and every refusal's whole line."""
import os
import pickle

import numpy as np
import paddle
import pytest

from edvr import weights
from edvr.errors import WeightsError


class Tiny(paddle.nn.Layer):
    """Two layers, a parameter whose name starts with another's and an integer buffer."""

    def __init__(self):
        super().__init__()
        self.fc = paddle.nn.Linear(2, 3)
        self.head = paddle.nn.Linear(3, 1)
        self.w = self.create_parameter([2])
        self.w_scale = self.create_parameter([1])
        self.register_buffer('count', paddle.to_tensor(np.array([3], 'int64')))

    def forward(self, x):
        return self.head(self.fc(x) * self.w_scale).sum() + (self.w * x).sum()


def tiny(seed):
    paddle.seed(seed)
    return Tiny()


def _state(net, **changes):
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    state.update(changes)
    return state


def _adam(net):
    sched = paddle.optimizer.lr.StepDecay(0.01, step_size=2, gamma=0.5)
    return paddle.optimizer.Adam(learning_rate=sched, parameters=net.parameters()), sched


def _step(net, opt, sched, x):
    net(paddle.to_tensor(x)).backward()
    opt.step()
    opt.clear_grad()
    sched.step()


def _error(fn, *args):
    """The one-line message of the WeightsError ``fn(*args)`` raises."""
    with pytest.raises(WeightsError) as info:
        fn(*args)
    return str(info.value)


MOMENTS = ('beta1_pow_acc_0', 'beta2_pow_acc_0', 'moment1_0', 'moment2_0')


def test_a_checkpoint_names_optimizer_moments_by_parameter(tmp_path):
    net = tiny(0)
    opt, sched = _adam(net)
    _step(net, opt, sched, np.ones((1, 2), 'float32'))
    state = weights.portable_optimizer_state(opt, net)
    params = ['fc.weight', 'fc.bias', 'head.weight', 'head.bias', 'w', 'w_scale']
    assert sorted(state) == sorted([f'{p}_{m}' for p in params for m in MOMENTS] + ['LR_Scheduler'])
    raw = opt.state_dict()
    for name, param in net.named_parameters():
        for m in MOMENTS:
            np.testing.assert_array_equal(np.asarray(state[f'{name}_{m}']),
                                          np.asarray(raw[f'{param.name}_{m}']))
    assert state['LR_Scheduler'] == raw['LR_Scheduler']


def test_resumed_optimizer_moments_equal_the_unbroken_runs(tmp_path):
    """Saved by one process, loaded by another whose parameters have other generated names:
    every moment lands on its own parameter and the next steps are bit for bit the same."""
    x = np.array([[0.5, -1.0]], 'float32')
    net = tiny(0)
    opt, sched = _adam(net)
    for _ in range(3):
        _step(net, opt, sched, x)
    path = str(tmp_path / 'iter_3_checkpoint.pdparams')
    weights.save_atomic({'generator': net.state_dict(), 'optimizer': weights.portable_optimizer_state(
        opt, net), 'lr_scheduler': sched.state_dict(), 'iter': 3, 'seed': 1}, path)
    paddle.nn.Linear(4, 4)                                     # shifts the generated names
    other = tiny(5)
    assert [p.name for p in other.parameters()] != [p.name for p in net.parameters()]
    state = weights.read_checkpoint(path)
    weights.set_generator_state(other, state['generator'], path)
    other_opt, other_sched = _adam(other)
    weights.load_portable_optimizer_state(other_opt, other, state['optimizer'])
    other_sched.set_state_dict(state['lr_scheduler'])
    # (Paddle 2.6 creates the loaded moments at the next step: compare after one)
    _step(net, opt, sched, x)
    _step(other, other_opt, other_sched, x)
    mine, theirs = opt.state_dict(), other_opt.state_dict()
    for (name, p), q in zip(net.named_parameters(), other.parameters()):
        for m in MOMENTS:
            np.testing.assert_array_equal(np.asarray(theirs[f'{q.name}_{m}']),
                                          np.asarray(mine[f'{p.name}_{m}']), err_msg=f'{name} {m}')
    _step(net, opt, sched, x)
    _step(other, other_opt, other_sched, x)
    for (name, a), b in zip(net.state_dict().items(), other.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_renaming_takes_the_longest_parameter_name_and_master_weights():
    rename = {'w': 'P', 'w_scale': 'Q', 'fc.weight': 'R'}
    # Paddle writes master_weights after the moments and before LR_Scheduler
    state = {'w_moment1_0': 1, 'w_scale_moment1_0': 2, 'wx': 3, 'fc.weight_x': 4,
             'fc.weightx': 5, 'master_weights': {'w': 7, 'w_scale': 8, 'other': 9},
             'LR_Scheduler': {'w': 6}}
    assert weights._rename_optimizer_state(state, rename) == {
        'P_moment1_0': 1, 'Q_moment1_0': 2, 'wx': 3, 'R_x': 4, 'fc.weightx': 5,
        'LR_Scheduler': {'w': 6}, 'master_weights': {'P': 7, 'Q': 8, 'other': 9}}
    # a master_weights entry that is not a dict is kept as it is
    assert weights._rename_optimizer_state({'master_weights': 1, 'w_m': 2}, rename) == \
        {'master_weights': 1, 'P_m': 2}


def test_weights_file_holds_numpy_arrays_under_generator(tmp_path):
    """Tensors, numpy arrays and non-contiguous arrays are saved as plain numpy arrays
    with their dtype, shape and values (PaddleGAN's pickle.load reads them)."""
    transposed = np.arange(6, dtype='float64').reshape(2, 3).T
    state = {'a': paddle.to_tensor([[1.5, 2.5]]), 'b': transposed,
             'c': np.array([7], dtype='>i4'), 'd': np.float16([0.25, -1])}
    path = str(tmp_path / 'w.pdparams')
    weights.save_atomic({'generator': state}, path)
    with open(path, 'rb') as f:
        assert f.read(2) == b'\x80\x04'                          # pickle protocol 4
    with open(path, 'rb') as f:
        saved = pickle.load(f)
    assert list(saved) == ['generator'] and list(saved['generator']) == ['a', 'b', 'c', 'd']
    for key, expected in [('a', np.float32([[1.5, 2.5]])), ('b', transposed),
                          ('c', np.array([7], '>i4')), ('d', np.float16([0.25, -1]))]:
        got = saved['generator'][key]
        assert type(got) is np.ndarray and got.dtype == expected.dtype, key
        np.testing.assert_array_equal(got, expected, err_msg=key)
    assert os.listdir(tmp_path) == ['w.pdparams']


@pytest.mark.parametrize('obj', [
    {'generator': {'a': np.ones(2, 'float32')}, 'iter': 1},
    {'generator': np.ones(2, 'float32')},
    {'generator': {'a': np.ones(2, 'float32')}, 'generator_ema': {}},
])
def test_anything_but_generator_weights_is_a_paddle_save(tmp_path, obj):
    """Checkpoints and other dicts go through paddle.save (its tensor layout), read back whole."""
    path = str(tmp_path / 'x.pdparams')
    weights.save_atomic(obj, path)
    assert set(paddle.load(path)) == set(obj)
    direct = str(tmp_path / 'direct.pdparams')
    paddle.save(obj, direct)
    assert open(path, 'rb').read() == open(direct, 'rb').read()


def test_refusals_name_the_file_and_what_was_expected(tmp_path):
    assert _error(weights.read_state, 3) == 'weights: expected a .pdparams file, got 3'
    assert _error(weights.read_state, '  ', 'checkpoint') == \
        "checkpoint: expected a .pdparams file, got '  '"
    assert _error(weights.read_state, None) == 'weights: expected a .pdparams file, got None'
    missing = str(tmp_path / 'none.pdparams')
    assert _error(weights.read_state, missing) == f'{missing}: weights file not found'
    assert _error(weights.read_checkpoint, missing) == f'{missing}: checkpoint file not found'
    listed = str(tmp_path / 'list.pdparams')
    paddle.save([1, 2], listed)
    assert _error(weights.read_state, listed) == f'{listed}: expected a dict of tensors, got list'
    weights_only = str(tmp_path / 'w.pdparams')
    weights.save_atomic({'generator': {'a': np.ones(1, 'float32')}}, weights_only)
    assert _error(weights.read_checkpoint, weights_only) == (
        f'{weights_only}: not a full training checkpoint (no optimizer, lr_scheduler, iter, '
        'seed); use --load for a weights file')
    partial = str(tmp_path / 'p.pdparams')
    paddle.save({'generator': {}, 'optimizer': {}, 'lr_scheduler': {}, 'iter': 1}, partial)
    assert _error(weights.read_checkpoint, partial) == (
        f'{partial}: not a full training checkpoint (no seed); use --load for a weights file')


def test_a_file_without_generator_weights_lists_its_first_keys(tmp_path):
    keys = {'generator': None, **{f'k{i}': i for i in range(10)}}
    assert _error(weights.generator_state, keys, 'f.pdparams') == (
        'f.pdparams: no generator weights found (top-level keys: generator, k0, k1, k2, k3, k4, '
        'k5, k6)')
    assert _error(weights.generator_state, {'generator': {}, 3: 1}, 'f') == \
        'f: no generator weights found (top-level keys: generator, 3)'
    assert _error(weights.generator_state, {'generator': [1]}, 'f') == \
        'f: no generator weights found (top-level keys: generator)'
    assert _error(weights.generator_state, {}, 'f') == 'f: no generator weights found (top-level keys: )'
    inner = {'a': 1}
    assert weights.generator_state({'generator': inner, 'x': 2}, 'f') is inner
    assert weights.generator_state(inner, 'f') is inner


def test_weights_that_do_not_fit_are_listed_in_one_line():
    net = tiny(0)
    state = _state(net, **{'fc.weight': np.zeros((3, 2), 'float32'), 'extra': np.ones(1)})
    del state['fc.bias']
    state['w'] = np.array([1, 2], 'int32')
    state['w_scale'] = np.array([np.nan], 'float32')
    state['count'] = np.array([1.0], 'float32')
    assert _error(weights.set_generator_state, net, state, 'f.pdparams') == (
        'f.pdparams: weights do not fit the configured network (missing: fc.bias | '
        'unexpected: extra | shape mismatch: fc.weight [3, 2] vs model [2, 3] | '
        'type mismatch: w int32 vs model float32; count float32 vs model int64 | '
        'NaN or infinite values: w_scale)')
    before = _state(net)
    for key, value in _state(net).items():                     # nothing was set
        np.testing.assert_array_equal(value, before[key])


def test_values_without_a_shape_are_a_shape_mismatch(tmp_path):
    net = tiny(0)
    assert _error(weights.set_generator_state, net, _state(net, w=1.5, count='x'), 'f') == (
        'f: weights do not fit the configured network (shape mismatch: w None vs model [2]; '
        'count None vs model [1])')


def test_loading_a_file_names_it_in_every_refusal(tmp_path):
    net = tiny(0)
    wrong = str(tmp_path / 'wrong.pdparams')
    weights.save_atomic({'generator': _state(net, extra=np.ones(1, 'float32'))}, wrong)
    assert _error(weights.load_generator_weights, net, wrong) == (
        f'{wrong}: weights do not fit the configured network (unexpected: extra)')
    empty = str(tmp_path / 'empty.pdparams')
    paddle.save({'generator': {}, 'iter': 3}, empty)
    assert _error(weights.load_generator_weights, net, empty) == (
        f'{empty}: no generator weights found (top-level keys: generator, iter)')


def test_more_than_six_problems_of_a_kind_are_counted():
    class Wide(paddle.nn.Layer):
        def __init__(self, n):
            super().__init__()
            self.p = paddle.nn.ParameterList([self.create_parameter([1]) for _ in range(n)])
    state = _state(Wide(7))
    assert _error(weights.set_generator_state, Wide(0), state, 'f') == (
        'f: weights do not fit the configured network (unexpected: p.0; p.1; p.2; p.3; p.4; p.5; '
        '... (7 in all))')
    six = _state(Wide(6))
    assert _error(weights.set_generator_state, Wide(0), six, 'f') == (
        'f: weights do not fit the configured network (unexpected: p.0; p.1; p.2; p.3; p.4; p.5)')
    inf = {k: np.array([np.inf], 'float32') for k in state}
    assert _error(weights.set_generator_state, Wide(7), inf, 'f') == (
        'f: weights do not fit the configured network (NaN or infinite values: p.0; p.1; p.2; p.3; '
        'p.4; p.5; ... (7 in all))')


@pytest.mark.parametrize('dtype', ['float64', 'float16'])
def test_weights_of_another_precision_load_converted(dtype):
    net, source = tiny(0), tiny(3)
    state = {k: (v.astype(dtype) if v.dtype.kind == 'f' else v) for k, v in _state(source).items()}
    state['count'] = np.array([9], 'int32')                   # an integer of another width too
    weights.set_generator_state(net, state, 'f')
    for key, value in net.state_dict().items():
        assert value.dtype == source.state_dict()[key].dtype, key
        np.testing.assert_array_equal(value.numpy(), np.asarray(state[key]).astype(
            value.numpy().dtype), err_msg=key)
    assert net.count.numpy().tolist() == [9]


def test_bool_and_unsigned_values_fit_integer_buffers_and_bfloat16_is_left_to_paddle():
    net = tiny(0)
    weights.set_generator_state(net, _state(net, count=np.array([True])), 'f')
    assert net.count.numpy().tolist() == [1] and net.count.dtype == paddle.int64
    weights.set_generator_state(net, _state(net, count=np.array([200], 'uint8')), 'f')
    assert net.count.numpy().tolist() == [200]
    values = np.array([1.5, 2.5], 'float32')
    tensor = paddle.zeros([2], dtype='bfloat16')
    assert weights._as_dtype_of(values, tensor) is values


def test_latest_checkpoint_and_pruning_by_iteration_number(tmp_path):
    folder = tmp_path / 'run [1]'
    folder.mkdir()
    for k in (9, 10, 100, 20):
        for kind in ('checkpoint', 'weight'):
            (folder / f'iter_{k}_{kind}.pdparams').write_bytes(b'x')
    (folder / 'iter_300_checkpoint.pdparams.bak').write_bytes(b'x')
    (folder / 'best_weight.pdparams').write_bytes(b'x')
    assert weights.latest_checkpoint(str(folder)) == str(folder / 'iter_100_checkpoint.pdparams')
    everything = sorted(os.listdir(folder))
    for keep in (None, 0, -1):
        weights.prune_checkpoints(str(folder), keep)
        assert sorted(os.listdir(folder)) == everything
    weights.prune_checkpoints(str(folder), 3)
    assert sorted(os.listdir(folder)) == sorted(
        ['best_weight.pdparams', 'iter_300_checkpoint.pdparams.bak'] +
        [f'iter_{k}_{kind}.pdparams' for k in (20, 100, 10) for kind in ('checkpoint', 'weight')])
    weights.prune_checkpoints(str(folder), 1)
    assert sorted(os.listdir(folder)) == ['best_weight.pdparams', 'iter_100_checkpoint.pdparams',
                                          'iter_100_weight.pdparams',
                                          'iter_300_checkpoint.pdparams.bak']
    assert weights.latest_checkpoint(str(tmp_path / 'empty')) is None


def test_load_generator_weights_reads_bare_and_wrapped_state(tmp_path):
    net, source = tiny(0), tiny(4)
    path = str(tmp_path / 'bare.pdparams')
    paddle.save(source.state_dict(), path)
    weights.load_generator_weights(net, path)
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(net.state_dict()[key].numpy(), value.numpy(), err_msg=key)
