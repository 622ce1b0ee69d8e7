# SPDX-License-Identifier: Apache-2.0
"""The fast paths equal the straightforward EDVR (`reference_edvr.py`), forward and gradients.

The C++ column kernels are tested directly and inside the network; when they
cannot be built here, those tests are skipped with the build error as reason (failed
with EDVR_EXPECT_CPU_OPS=1, see conftest.py) and the fallback kernels are still tested
against the reference.
"""
import logging

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
from paddle.vision.ops import deform_conv2d

from edvr.errors import ConfigError
from edvr.models.edvr_net import EDVRNet
from edvr.ops import column_conv, conv, cpu_ops, dcn, fused_conv
from edvr.ops.conv import Conv2D, repeat_frames
from edvr.registry import NETWORKS, build_from_config
from edvr.utils.device import cpu_threads, set_cpu_threads
from tests.models.reference_edvr import ReferenceEDVR

TINY = dict(nf=16, groups=2, front_RBs=1, back_RBs=2)


@pytest.fixture
def two_threads():
    """Run with 2 math threads (exercises the OpenMP split), restoring the count after."""
    before = cpu_threads()
    set_cpu_threads(2)
    yield
    set_cpu_threads(before)


@pytest.fixture
def no_cpp_ops(monkeypatch):
    """Behave as if the C++ build had failed."""
    monkeypatch.setitem(cpu_ops._state, 'tried', True)
    monkeypatch.setitem(cpu_ops._state, 'ops', None)


def _leaves(rng, **shapes):
    return {k: paddle.to_tensor((rng.randn(*s) * scale).astype('float32'), stop_gradient=False)
            for k, (s, scale) in shapes.items()}


def _value_and_grads(fn, tensors, seed=1):
    out = fn(**tensors)
    probe = np.random.RandomState(seed).randn(*out.shape).astype('float32')
    (out * paddle.to_tensor(probe)).sum().backward()
    result = {'out': out.numpy()}
    for name, t in tensors.items():
        result[name] = t.grad.numpy()
        t.clear_gradient()
    return result


def _assert_close(got, ref, rtol=1e-4):
    for name in ref:
        scale = np.abs(ref[name]).max()
        assert np.abs(got[name] - ref[name]).max() <= rtol * scale + 1e-7, name


def test_cpp_ops_build_on_this_machine(cpp_ops):
    status = cpu_ops.cpu_ops_status()
    assert status['loaded']
    assert status['flags'] in ('openmp-iomp5', 'openmp-gomp', 'serial', 'portable')


def test_a_failed_build_falls_back_with_one_warning(tmp_path, monkeypatch, capfd):
    (tmp_path / 'broken.cc').write_text('#error this source does not compile\n')
    monkeypatch.setattr(cpu_ops, 'CSRC', str(tmp_path))
    monkeypatch.setattr(cpu_ops, 'SOURCES', {'broken.cc': ()})
    monkeypatch.delenv('EDVR_CPU_OPS', raising=False)
    monkeypatch.setattr(cpu_ops, '_flag_sets', lambda: [('serial', ['-O0'], [])])
    monkeypatch.setenv('EDVR_CACHE_DIR', str(tmp_path / 'cache'))
    for key, value in (('tried', False), ('ops', None), ('error', None), ('compiled', False)):
        monkeypatch.setitem(cpu_ops._state, key, value)
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append          # independent of how other tests set up logging
    logger = logging.getLogger(cpu_ops.__name__)
    monkeypatch.setattr(logger, 'level', logging.WARNING)
    monkeypatch.setattr(logger, 'disabled', False)
    logger.addHandler(handler)
    try:
        assert cpu_ops.load_cpu_ops() is None
        assert len(records) == 1 and 'using the Paddle kernels' in records[0].getMessage()
        assert cpu_ops.cpu_ops_status()['error'].startswith('serial:')
        assert column_conv.columns_available(paddle.ones([1])) is False
        assert cpu_ops.load_cpu_ops() is None and len(records) == 1   # no second attempt
    finally:
        logger.removeHandler(handler)
    err = capfd.readouterr().err   # one line; the compiler's errors go to build.log
    assert err.count('building the CPU kernels once') == 1 and 'does not compile' not in err
    logs = list((tmp_path / 'cache').rglob('build.log'))
    assert len(logs) == 1 and '#error this source does not compile' in logs[0].read_text()


@pytest.mark.parametrize('k,stride,padding,dilation', [(3, 1, 1, 1), (3, 2, 1, 1), (1, 1, 0, 1),
                                                       (3, 1, 2, 2)])
def test_column_conv_equals_paddle_conv(cpp_ops, k, stride, padding, dilation, two_threads):
    t = _leaves(np.random.RandomState(0), x=((3, 5, 9, 11), 1.0), weight=((4, 5, k, k), 0.3),
                bias=((4,), 0.1))
    ref = _value_and_grads(lambda x, weight, bias: F.conv2d(x, weight, bias, stride, padding,
                                                            dilation), t)
    got = _value_and_grads(lambda x, weight, bias: column_conv.conv2d_columns(
        x, weight, bias, stride, padding, dilation), t)
    _assert_close(got, ref)


@pytest.mark.parametrize('kh,kw,ph,pw,width', [(3, 3, 1, 1, 40), (3, 3, 1, 1, 5), (3, 3, 1, 1, 101),
                                               (1, 1, 0, 0, 29),
                                               (5, 3, 2, 1, 33), (3, 3, 0, 0, 31), (3, 3, 2, 2, 3)])
@pytest.mark.parametrize('c_out', [4, 37])
@pytest.mark.parametrize('winograd', [False, True])
def test_fused_conv_equals_paddle_conv(cpp_ops, kh, kw, ph, pw, width, c_out, winograd, two_threads):
    """Forward and the three gradients, direct and Winograd (3x3 only; the rest run direct);
    widths below, at and over one register tile (12 or 6 pixels or Winograd tiles; 64 or 32
    pixels of the narrow kernel, which takes the 4 output channels) with borders on both
    sides, output channels below and over one block (32 or 16)."""
    t = _leaves(np.random.RandomState(0), x=((2, 5, 7, width), 1.0),
                weight=((c_out, 5, kh, kw), 0.3), bias=((c_out,), 0.1))
    ref = _value_and_grads(lambda x, weight, bias: F.conv2d(x, weight, bias, 1, (ph, pw)), t)
    got = _value_and_grads(lambda x, weight, bias: fused_conv.conv2d_fused(
        x, weight, bias, (ph, pw), winograd=winograd), t)
    _assert_close(got, ref)


@pytest.mark.parametrize('slope', [None, 0.0, 0.1])
@pytest.mark.parametrize('with_grad', [False, True])
@pytest.mark.parametrize('winograd', [False, True])
@pytest.mark.parametrize('residual_first', [False, True])
@pytest.mark.parametrize('c_out', [3, 20])
def test_fused_conv_applies_activation_and_residual(cpp_ops, slope, with_grad, winograd, residual_first,
                                                    c_out, two_threads):
    """3 output channels run on the narrow kernel; 20 store one whole vector of channels
    (16) and one partial, in whole and partial Winograd tiles."""
    t = _leaves(np.random.RandomState(2), x=((2, 6, 9, 30), 1.0), weight=((c_out, 6, 3, 3), 0.3),
                bias=((c_out,), 0.1), residual=((2, c_out, 9, 30), 1.0))

    def reference(x, weight, bias, residual):
        y = F.conv2d(x, weight, bias, 1, 1)
        if residual_first:
            y = y + residual
        if slope is not None:
            y = F.leaky_relu(y, slope)
        return y if residual_first else y + residual

    def fused(x, weight, bias, residual):
        return fused_conv.conv2d_fused(x, weight, bias, (1, 1), slope, residual, winograd,
                                       residual_first)
    if with_grad:
        _assert_close(_value_and_grads(fused, t), _value_and_grads(reference, t))
    else:
        with paddle.no_grad():
            got, ref = fused(**t).numpy(), reference(**t).numpy()
        _assert_close({'out': got}, {'out': ref})
        before_activation = F.conv2d(t['x'], t['weight'], t['bias'], 1, 1).numpy()
        assert (before_activation < 0).mean() > 0.2 and (before_activation > 0).mean() > 0.2


@pytest.mark.parametrize('kernel', ['cpp', 'direct', 'columns', 'paddle'])
@pytest.mark.parametrize('repeats', [1, 3])
def test_conv_over_a_shared_input_equals_the_concatenation(cpp_ops, kernel, repeats, two_threads):
    """`Conv2D.forward_concat` (the shared input's share computed once per sample) equals
    the conv of the concatenation, with and without gradients."""
    rng = np.random.RandomState(4)
    layer = Conv2D(10, 7, 3, padding=1, act=0.1)
    layer.kernel = kernel
    x = paddle.to_tensor(rng.randn(2 * repeats, 6, 9, 14).astype('float32'))
    shared = paddle.to_tensor(rng.randn(2, 4, 9, 14).astype('float32'))
    with paddle.no_grad():
        got = layer.forward_concat(x, shared, repeats).numpy()
        whole = paddle.concat([x, repeat_frames(shared, repeats)], 1)
        ref = F.leaky_relu(F.conv2d(whole, layer.weight, layer.bias, padding=1), 0.1).numpy()
    _assert_close({'out': got}, {'out': ref})
    t = {'x': paddle.to_tensor(x.numpy(), stop_gradient=False),
         'shared': paddle.to_tensor(shared.numpy(), stop_gradient=False)}
    got = _value_and_grads(lambda x, shared: layer.forward_concat(x, shared, repeats), t)
    ref = _value_and_grads(lambda x, shared: F.leaky_relu(F.conv2d(
        paddle.concat([x, repeat_frames(shared, repeats)], 1), layer.weight, layer.bias,
        padding=1), 0.1), t)
    _assert_close(got, ref)


@pytest.mark.parametrize('k,stride,padding,dilation', [(3, 1, 1, 1), (3, 2, 1, 1), (3, 1, 2, 2)])
def test_column_conv_in_row_bands_equals_paddle_conv(cpp_ops, k, stride, padding, dilation, monkeypatch):
    """Without gradients, large frames are convolved in bands of output rows."""
    monkeypatch.setattr(column_conv, 'CHUNK_BYTES', 4 * 5 * k * k * 6 * 2)   # ~2 rows a band
    rng = np.random.RandomState(0)
    x = paddle.to_tensor(rng.rand(2, 5, 13, 11).astype('float32'))
    weight = paddle.to_tensor(rng.randn(4, 5, k, k).astype('float32'))
    bias = paddle.to_tensor(rng.randn(4).astype('float32'))
    with paddle.no_grad():
        got = column_conv.conv2d_columns(x, weight, bias, stride, padding, dilation).numpy()
        ref = F.conv2d(x, weight, bias, stride, padding, dilation).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('stride,padding,dilation,out_size', [(1, 1, 1, (7, 9)), (2, 1, 1, (4, 5)),
                                                              (1, 2, 2, (7, 9))])
@pytest.mark.parametrize('chunk_bytes', [None, 1])
def test_column_dcn_equals_paddle_dcn(cpp_ops, stride, padding, dilation, out_size, chunk_bytes,
                                      two_threads, monkeypatch):
    """All five gradients; offsets of several pixels reach over the border; chunk_bytes=1
    processes the batch sample by sample."""
    if chunk_bytes:
        monkeypatch.setattr(column_conv, 'CHUNK_BYTES', chunk_bytes)
    groups, (ho, wo) = 2, out_size
    t = _leaves(np.random.RandomState(0), x=((4, 8, 7, 9), 1.0),
                offset=((4, 2 * groups * 9, ho, wo), 2.5), mask=((4, groups * 9, ho, wo), 1.0),
                weight=((6, 8, 3, 3), 0.1), bias=((6,), 0.1))
    ref = _value_and_grads(lambda x, offset, mask, weight, bias: deform_conv2d(
        x, offset, weight, bias, stride, padding, dilation, deformable_groups=groups,
        mask=mask), t)
    got = _value_and_grads(lambda x, offset, mask, weight, bias: column_conv.deform_conv2d_columns(
        x, offset, mask, weight, bias, stride, padding, dilation, groups), t)
    _assert_close(got, ref)
    assert np.abs(ref['offset']).max() > 1e-2


@pytest.mark.parametrize('stride,padding,dilation,size', [(1, 1, 1, (13, 17)), (2, 1, 1, (9, 11)),
                                                          (1, 2, 2, (7, 9))])
@pytest.mark.parametrize('c_out', [6, 40])
@pytest.mark.parametrize('channels', [8, 16, 32])
def test_dcn_forward_without_gradients_equals_paddle_dcn(cpp_ops, stride, padding, dilation, size, c_out,
                                                        channels, two_threads):
    """The no-gradient DCN kernel (column blocks of 96 or 48 positions, more or fewer than
    one frame here; output channels below and over one block) with offsets reaching over
    the border; 4 channels per group, and 8 and 16 (the channels-last sampling by octets)."""
    rng, groups, (h, w) = np.random.RandomState(5), 2, size
    ho, wo = (h + 2 * padding - 2 * dilation - 1) // stride + 1, \
        (w + 2 * padding - 2 * dilation - 1) // stride + 1
    x = paddle.to_tensor(rng.randn(3, channels, h, w).astype('float32'))
    offset = paddle.to_tensor((rng.randn(3, 2 * groups * 9, ho, wo) * 2.5).astype('float32'))
    mask = paddle.to_tensor(rng.rand(3, groups * 9, ho, wo).astype('float32'))
    weight = paddle.to_tensor((rng.randn(c_out, channels, 3, 3) * 0.1).astype('float32'))
    bias = paddle.to_tensor(rng.randn(c_out).astype('float32'))
    with paddle.no_grad():
        got = column_conv.deform_conv2d_columns(x, offset, mask, weight, bias, stride, padding,
                                                dilation, groups).numpy()
        ref = deform_conv2d(x, offset, weight, bias, stride, padding, dilation,
                            deformable_groups=groups, mask=mask).numpy()
    _assert_close({'out': got}, {'out': ref})


def test_column_dcn_constant_input_and_frozen_weight(cpp_ops, two_threads):
    """Only some inputs need gradients: the others get none, the rest stay exact."""
    rng = np.random.RandomState(3)
    x = paddle.to_tensor(rng.rand(2, 4, 6, 6).astype('float32'))
    weight = paddle.to_tensor(rng.randn(4, 4, 3, 3).astype('float32'))
    t = _leaves(rng, offset=((2, 18, 6, 6), 1.0), mask=((2, 9, 6, 6), 1.0))
    ref = _value_and_grads(lambda offset, mask: deform_conv2d(
        x, offset, weight, None, 1, 1, 1, deformable_groups=1, mask=mask), t)
    got = _value_and_grads(lambda offset, mask: column_conv.deform_conv2d_columns(
        x, offset, mask, weight, None, 1, 1, 1, 1), t)
    _assert_close(got, ref)
    assert x.grad is None and weight.grad is None


def _randomize(net, seed=0):
    """He-normal weights, small biases, DCN offsets of about +-1.5 pixels (set by the bias,
    so few samples sit within rounding distance of a whole pixel, where the bilinear
    gradient jumps)."""
    rng = np.random.RandomState(seed)
    for name, p in net.named_parameters():
        if len(p.shape) == 4:
            std = np.sqrt(2.0 / np.prod(p.shape[1:])) * (0.1 if 'conv_offset_mask' in name else 0.7)
            value = rng.randn(*p.shape) * std
        elif name.endswith('conv_offset_mask.bias'):
            value = rng.randn(*p.shape) * 1.5
        else:
            value = rng.randn(*p.shape) * 0.05
        p.set_value(value.astype('float32'))


def _train_pass(net, x):
    out = net(x)
    ((out - 0.5) ** 2).mean().backward()
    result = {'out': out.numpy()}
    result.update({name: p.grad.numpy() for name, p in net.named_parameters()})
    net.clear_gradients()
    return result


def _equal_to_reference(args, no_grad=False):
    paddle.seed(0)
    ours = EDVRNet(**args)
    _randomize(ours)
    ref = ReferenceEDVR(**{k: v for k, v in args.items() if k not in ('dcn_kernel',
                                                                       'conv_kernel')})
    assert list(ref.state_dict()) == list(ours.state_dict())
    ref.set_state_dict(ours.state_dict())
    x = paddle.to_tensor(np.random.RandomState(1).rand(2, 5, 3, 12, 12).astype('float32'))
    if no_grad:
        ours.eval()
        ref.eval()
        with paddle.no_grad():
            _assert_close({'out': ours(x).numpy()}, {'out': ref(x).numpy()})
        return
    _assert_close(_train_pass(ours, x), _train_pass(ref, x))


@pytest.mark.parametrize('w_tsa', [False, True])
def test_fast_edvr_equals_the_straightforward_one(cpp_ops, w_tsa, two_threads, monkeypatch):
    calls = []
    original = column_conv.deform_conv2d_columns
    monkeypatch.setattr(dcn, 'deform_conv2d_columns',
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    _equal_to_reference(dict(TINY, w_TSA=w_tsa))
    assert len(calls) == 4      # the four DCNs of PCD, each once over all frames
    _equal_to_reference(dict(TINY, w_TSA=w_tsa), no_grad=True)


def test_fallback_kernels_equal_the_straightforward_one(no_cpp_ops, two_threads):
    assert column_conv.columns_available(paddle.ones([1])) is False
    assert dcn.resolve_kernel(backward=True) == 'sampling'
    assert dcn.resolve_kernel(backward=False) == 'paddle'
    _equal_to_reference(dict(TINY, w_TSA=True))
    _equal_to_reference(dict(TINY, w_TSA=True), no_grad=True)


@pytest.mark.parametrize('conv_kernel', ['direct', 'columns'])
def test_other_cpp_conv_kernels_equal_the_straightforward_one(cpp_ops, conv_kernel, two_threads):
    _equal_to_reference(dict(TINY, w_TSA=True, conv_kernel=conv_kernel))


def test_pinned_paddle_kernels_equal_the_straightforward_one():
    _equal_to_reference(dict(TINY, w_TSA=True, dcn_kernel='paddle', conv_kernel='paddle'))


def test_kernel_config_keys():
    net = build_from_config(dict(TINY, name='EDVRNet', dcn_kernel='sampling',
                                 conv_kernel='paddle'), NETWORKS, where='model.generator')
    assert {layer.kernel for layer in net.PCDModule.sublayers()
            if isinstance(layer, dcn.ModulatedDeformConv2D)} == {'sampling'}
    assert {layer.kernel for layer in net.sublayers()
            if isinstance(layer, Conv2D)} == {'paddle'}
    assert EDVRNet(**TINY).conv_first.kernel is None     # default: the global choice
    with pytest.raises(ConfigError, match="dcn_kernel='fast'"):
        EDVRNet(**TINY, dcn_kernel='fast')
    with pytest.raises(ConfigError, match="conv_kernel='sampling'"):
        EDVRNet(**TINY, conv_kernel='sampling')


def test_conv_kernel_selection(monkeypatch):
    monkeypatch.setattr(conv._conv_choice, 'name', None)
    monkeypatch.setenv('EDVR_CONV_KERNEL', 'paddle')
    assert conv.get_conv_kernel() == 'paddle'
    monkeypatch.setattr(conv._conv_choice, 'name', None)
    monkeypatch.setenv('EDVR_CONV_KERNEL', 'fast')
    with pytest.raises(ConfigError, match='EDVR_CONV_KERNEL'):
        conv.get_conv_kernel()
    with pytest.raises(ConfigError, match='conv kernel'):
        conv.set_conv_kernel('fast')


def test_cpp_layer_path_is_taken_and_skipped_where_it_cannot_run(cpp_ops, monkeypatch):
    calls = []
    for module, name in ((column_conv, 'conv2d_columns'), (fused_conv, 'conv2d_fused')):
        original = getattr(module, name)
        monkeypatch.setattr(conv, name, lambda *a, _name=name, _fn=original, **k:
                            calls.append(_name) or _fn(*a, **k))
    x = paddle.rand([1, 4, 6, 6])
    layer, strided = Conv2D(4, 4, 3, padding=1), Conv2D(4, 4, 3, stride=2, padding=1)
    layer(x)
    strided(x)
    assert calls == ['conv2d_fused', 'conv2d_columns']
    layer.kernel = 'columns'
    layer(x)
    assert calls[-1] == 'conv2d_columns'
    layer.kernel = 'paddle'
    layer(x)
    assert len(calls) == 3
    assert not column_conv.columns_available(x.astype('float64'))


def test_set_cpu_threads_is_what_the_kernels_use():
    before = cpu_threads()
    try:
        assert set_cpu_threads(2) == 2 and cpu_threads() == 2
        assert set_cpu_threads(0) == 1 and cpu_threads() == 1
    finally:
        set_cpu_threads(before)


@pytest.mark.parametrize('act,apply', [(None, lambda y: y), ('relu', F.relu),
                                       (0.1, lambda y: F.leaky_relu(y, 0.1))])
@pytest.mark.parametrize('kernel,stride', [('paddle', 1), ('cpp', 1), ('cpp', 2),
                                           ('columns', 1)])
def test_conv_applies_the_activation_declared_when_built(act, apply, kernel, stride):
    """``Conv2D(..., act=...)`` equals Paddle's conv followed by that activation, on every
    route (fused, columns, Paddle), with and without gradients."""
    layer = Conv2D(5, 6, 3, stride=stride, padding=1, act=act)
    layer.kernel = kernel
    x = paddle.to_tensor(np.random.RandomState(7).randn(2, 5, 9, 14).astype('float32'))
    ref = apply(F.conv2d(x, layer.weight, layer.bias, stride, 1)).numpy()
    assert (ref < 0).any() == (act is None or act == 0.1)
    with paddle.no_grad():
        _assert_close({'out': layer(x).numpy()}, {'out': ref})
    _assert_close({'out': layer(x).numpy()}, {'out': ref})


def test_conv_act_must_be_none_relu_or_a_slope():
    with pytest.raises(ValueError, match=r"Conv2D act='gelu': expected None, 'relu' or a "
                                         r"leaky-ReLU slope >= 0"):
        Conv2D(2, 2, 3, act='gelu')
