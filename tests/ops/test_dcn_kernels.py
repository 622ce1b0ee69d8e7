# SPDX-License-Identifier: Apache-2.0
"""DCNv2: the kernels agree, the offset/mask layout, the crash workarounds and kernel
selection."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from edvr.errors import ConfigError
from edvr.models.blocks import DCNPack
from edvr.ops import cpu_ops, dcn
from edvr.ops.dcn import (deform_conv2d_sampling, get_dcn_kernel, modulated_deform_conv2d,
                          resolve_kernel, set_dcn_kernel)


def _tensors(b=2, c=8, h=7, w=9, groups=2, c_out=6, ho=7, wo=9, seed=0):
    """Random DCN inputs; offsets of a few pixels so many samples are fractional or outside."""
    rng = np.random.RandomState(seed)
    arrays = dict(x=rng.rand(b, c, h, w), offset=rng.randn(b, 2 * groups * 9, ho, wo) * 1.5,
                  mask=rng.rand(b, groups * 9, ho, wo), weight=rng.randn(c_out, c, 3, 3) * 0.1,
                  bias=rng.randn(c_out) * 0.1)
    return {k: paddle.to_tensor(v.astype('float32'), stop_gradient=False)
            for k, v in arrays.items()}


def _run(kernel, t, stride=1, padding=1, dilation=1, groups=2):
    out = modulated_deform_conv2d(t['x'], t['offset'], t['mask'], t['weight'], t['bias'],
                                  stride, padding, dilation, groups, kernel)
    probe = paddle.to_tensor(np.random.RandomState(1).randn(*out.shape).astype('float32'))
    (out * probe).sum().backward()
    result = {'out': out.numpy()}
    for name, tensor in t.items():
        result[name] = tensor.grad.numpy()
        tensor.clear_gradient()
    return result


@pytest.mark.parametrize('stride,padding,dilation,size', [
    (1, 1, 1, (7, 9)), (2, 1, 1, (4, 5)), (1, 2, 2, (7, 9))])
def test_kernels_agree_in_output_and_all_gradients(stride, padding, dilation, size):
    t = _tensors(ho=size[0], wo=size[1])
    ref = _run('paddle', t, stride, padding, dilation)
    got = _run('sampling', t, stride, padding, dilation)
    for name in ('out', 'x', 'offset', 'mask', 'weight', 'bias'):
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-4, atol=1e-5, err_msg=name)
    assert np.abs(ref['offset']).max() > 1e-2  # offsets really steer the result


@pytest.mark.parametrize('kernel', ['paddle', 'sampling'])
def test_zero_offset_unit_mask_is_a_plain_conv(kernel):
    t = _tensors()
    with paddle.no_grad():
        out = modulated_deform_conv2d(t['x'], paddle.zeros_like(t['offset']),
                                      paddle.ones_like(t['mask']), t['weight'], t['bias'],
                                      1, 1, 1, 2, kernel)
        conv = F.conv2d(t['x'], t['weight'], t['bias'], padding=1)
    np.testing.assert_allclose(out.numpy(), conv.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kernel', ['paddle', 'sampling'])
@pytest.mark.parametrize('group,tap,axis', [(0, 0, 'dx'), (1, 5, 'dy'), (1, 7, 'dx'),
                                            (0, 4, 'dy')])
def test_offset_layout_is_group_tap_then_dy_dx(kernel, group, tap, axis):
    """A one-pixel offset on one (group, tap, axis) channel shifts exactly that input."""
    b, c, h, w, groups = 1, 4, 6, 7, 2
    t = _tensors(b=b, c=c, h=h, w=w, groups=groups, ho=h, wo=w)
    x, weight = t['x'].numpy(), t['weight'].numpy()
    offset = np.zeros((b, 2 * groups * 9, h, w), 'float32')
    offset[:, (group * 9 + tap) * 2 + (0 if axis == 'dy' else 1)] = 1.0
    with paddle.no_grad():
        out = modulated_deform_conv2d(t['x'], paddle.to_tensor(offset),
                                      paddle.ones([b, groups * 9, h, w]), t['weight'], None,
                                      1, 1, 1, groups, kernel).numpy()

    # Expected: the selected tap of the selected group reads the input one pixel
    # further down (dy) or right (dx); everything else is an ordinary conv.
    cg = c // groups
    tap_weight = np.zeros_like(weight)
    sl = slice(group * cg, (group + 1) * cg)
    tap_weight[:, sl, tap // 3, tap % 3] = weight[:, sl, tap // 3, tap % 3]
    shifted = np.zeros_like(x)
    if axis == 'dy':
        shifted[:, :, :-1] = x[:, :, 1:]
    else:
        shifted[:, :, :, :-1] = x[:, :, :, 1:]

    def conv(inp, wt):
        return F.conv2d(paddle.to_tensor(inp), paddle.to_tensor(wt), padding=1).numpy()
    expected = conv(x, weight - tap_weight) + conv(shifted, tap_weight)
    # Border pixels differ: the conv pads the shifted image, DCN reads the real one.
    np.testing.assert_allclose(out[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1],
                               rtol=1e-5, atol=1e-5)
    assert not np.allclose(out, conv(x, weight), atol=1e-3)


def test_paddle_kernel_with_constant_mask_does_not_crash():
    """Paddle's CPU backward segfaults for a stop-gradient mask; we route around it."""
    t = _tensors()
    mask = t['mask'].detach()
    out = modulated_deform_conv2d(t['x'], t['offset'], mask, t['weight'], t['bias'],
                                  1, 1, 1, 2, 'paddle')
    out.sum().backward()
    grad_x = t['x'].grad.numpy()
    t['x'].clear_gradient()
    deform_conv2d_sampling(t['x'], t['offset'], mask, t['weight'], t['bias'],
                           1, 1, 1, 2).sum().backward()
    np.testing.assert_allclose(grad_x, t['x'].grad.numpy(), rtol=1e-5, atol=1e-5)


def _without_cpp_ops(monkeypatch):
    """Behave as if the C++ ops could not be built."""
    monkeypatch.setitem(cpu_ops._state, 'tried', True)
    monkeypatch.setitem(cpu_ops._state, 'ops', None)


def test_kernel_selection(monkeypatch, cpu_ops_expected):
    monkeypatch.setattr(dcn._dcn_choice, 'name', None)
    monkeypatch.setenv('EDVR_DCN_KERNEL', 'paddle')
    assert get_dcn_kernel() == 'paddle'
    assert resolve_kernel(backward=True) == 'paddle'

    set_dcn_kernel('auto')
    assert cpu_ops.load_cpu_ops() is not None or not cpu_ops_expected()
    if cpu_ops.load_cpu_ops() is not None:
        assert resolve_kernel(backward=True) == 'cpp'
        assert resolve_kernel(backward=False) == 'cpp'
        assert resolve_kernel(backward=True, kernel='cpp') == 'cpp'
    _without_cpp_ops(monkeypatch)
    assert resolve_kernel(backward=True) == 'sampling'   # CPU training without C++ ops
    assert resolve_kernel(backward=False) == 'paddle'
    assert resolve_kernel(backward=True, kernel='cpp') == 'sampling'
    assert resolve_kernel(backward=False, kernel='sampling') == 'sampling'
    with pytest.raises(ConfigError, match='fast'):
        set_dcn_kernel('fast')

    monkeypatch.setattr(dcn._dcn_choice, 'name', None)
    monkeypatch.setenv('EDVR_DCN_KERNEL', 'cuda')
    with pytest.raises(ConfigError, match='EDVR_DCN_KERNEL'):
        get_dcn_kernel()


def test_auto_uses_sampling_only_when_gradients_flow(monkeypatch):
    """Without the C++ ops, 'auto' trains with the sampling kernel."""
    _without_cpp_ops(monkeypatch)
    calls = []

    def spy(*args, **kwargs):
        calls.append(1)
        return deform_conv2d_sampling(*args, **kwargs)
    monkeypatch.setattr(dcn, 'deform_conv2d_sampling', spy)
    monkeypatch.setattr(dcn._dcn_choice, 'name', 'auto')
    layer = DCNPack(num_filters=8, deformable_groups=2)
    x, feat = paddle.rand([1, 8, 4, 4]), paddle.rand([1, 8, 4, 4])
    with paddle.no_grad():
        layer(x, feat)
    assert calls == []
    for p in layer.parameters():        # frozen, as in TSA-only training
        p.stop_gradient = True
    layer(x, feat)
    assert calls == []
    for p in layer.parameters():
        p.stop_gradient = False
    layer(x, feat).sum().backward()
    assert calls == [1]


def test_constant_input_with_learned_offsets():
    """Paddle's CPU grid_sample backward crashes for a constant input; we route around it."""
    t = _tensors()
    x = t.pop('x').detach()   # offset, mask, weight and bias still take gradients
    grads = []
    for kernel in ('paddle', 'sampling'):
        modulated_deform_conv2d(x, t['offset'], t['mask'], t['weight'], t['bias'],
                                1, 1, 1, 2, kernel).sum().backward()
        grads.append({k: v.grad.numpy() for k, v in t.items()})
        for v in t.values():
            v.clear_gradient()
    for name in grads[0]:
        np.testing.assert_allclose(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-5)
    assert x.grad is None
