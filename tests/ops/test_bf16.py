# SPDX-License-Identifier: Apache-2.0
"""The bfloat16 inference mode (`edvr.ops.bf16`): the op against float32 and against
bfloat16-rounded sums, layer conversion, float32 untouched, and the fallback without BF16."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from edvr.errors import ConfigError
from edvr.ops import bf16
from edvr.ops.conv import Conv2D
from edvr.ops.dcn import ModulatedDeformConv2D
from edvr.ops.fused_conv import conv2d_fused
from edvr.utils.device import set_cpu_threads
from tests.tiny import dygraph, tiny_net


def to_bf16(a):
    """float32 ndarray rounded to bfloat16 (nearest even), back as float64."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7fff + ((u >> 16) & 1)) >> 16 << 16
    return u.astype(np.uint32).view(np.float32).astype(np.float64)


def conv64(x, w, b, padding):
    """float64 reference convolution (stride 1) of ndarrays."""
    out = F.conv2d(paddle.to_tensor(x), paddle.to_tensor(w), paddle.to_tensor(b),
                   padding=padding)
    return out.numpy()


def rel_rms(a, b):
    return float(np.sqrt(((a - b) ** 2).mean() / (b ** 2).mean()))


def inputs(b, c, h, w, c_out, k, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((b, c, h, w)).astype('float32'),
            (rng.standard_normal((c_out, c, k, k)) / np.sqrt(c * k * k)).astype('float32'),
            rng.standard_normal(c_out).astype('float32'))


@pytest.mark.parametrize('shape', [(2, 9, 13, 30, 40, 1), (1, 64, 21, 50, 64, 0),
                                   (1, 16, 4, 4, 33, 2), (1, 7, 30, 17, 5, 1)])
@pytest.mark.parametrize('threads', [1, 2])
def test_winograd_bf16_near_fp32_and_not_fp32(bf16_ops, threads_back, shape, threads):
    b, c, h, w, c_out, pad = shape
    x, wt, bias = inputs(b, c, h, w, c_out, 3)
    set_cpu_threads(threads)
    got = bf16.conv2d_bf16(paddle.to_tensor(x), paddle.to_tensor(wt), paddle.to_tensor(bias),
                           (pad, pad)).numpy()
    want = conv64(x.astype('float64'), wt.astype('float64'), bias.astype('float64'), pad)
    assert got.shape == want.shape
    err = rel_rms(got, want)
    assert 1e-4 < err < 4e-2   # bfloat16's rounding (amplified by the transforms), not float32's


@pytest.mark.parametrize('k, pad', [(1, 0), (3, 1), (5, 2)])
def test_direct_bf16_equals_rounded_operands(bf16_ops, k, pad):
    x, wt, bias = inputs(2, 11, 9, 26, 37, k, seed=k)
    got = bf16.conv2d_bf16(paddle.to_tensor(x), paddle.to_tensor(wt), paddle.to_tensor(bias),
                           (pad, pad), winograd=False).numpy()
    want = conv64(to_bf16(x), to_bf16(wt), bias.astype('float64'), pad)
    exact = conv64(x.astype('float64'), wt.astype('float64'), bias.astype('float64'), pad)
    assert np.abs(got - want).max() < 1e-5 * np.abs(want).max()   # float32 sums of bf16 products
    assert rel_rms(got, exact) > 1e-4


def test_epilogue_residual_activation_and_narrow_layer(bf16_ops):
    x, wt, bias = inputs(1, 8, 12, 20, 24, 3, seed=3)
    res = np.random.default_rng(4).standard_normal((1, 24, 12, 20)).astype('float32')
    xt, wtt, bt, rt = (paddle.to_tensor(a) for a in (x, wt, bias, res))
    plain = bf16.conv2d_bf16(xt, wtt, bt, (1, 1)).numpy()
    after = bf16.conv2d_bf16(xt, wtt, bt, (1, 1), 0.1, rt).numpy()
    first = bf16.conv2d_bf16(xt, wtt, bt, (1, 1), 0.1, rt, residual_first=True).numpy()
    np.testing.assert_allclose(after, np.where(plain < 0, 0.1 * plain, plain) + res, atol=1e-5)
    v = plain + res
    np.testing.assert_allclose(first, np.where(v < 0, 0.1 * v, v), atol=1e-5)
    # at most 4 output channels: the narrow kernel's layout, bfloat16 products
    narrow = bf16.conv2d_bf16(xt, wtt[:3], bt[:3], (1, 1), 0.1, rt[:, :3]).numpy()
    fp32 = conv2d_fused(xt, wtt[:3], bt[:3], (1, 1), 0.1, rt[:, :3]).numpy()
    sums = conv64(to_bf16(x), to_bf16(wt[:3]), bias[:3].astype('float64'), 1)
    want = np.where(sums < 0, 0.1 * sums, sums) + res[:, :3]
    assert np.abs(narrow - want).max() < 1e-5 * np.abs(want).max()
    assert 0 < np.abs(narrow - fp32).max() < 2e-2 * np.abs(fp32).max()


def test_set_precision_swaps_layers_and_fp32_stays_bit_identical(bf16_ops):
    net = tiny_net()
    x = np.random.default_rng(0).random((1, 5, 3, 12, 16), dtype=np.float32)
    before, keys = dygraph(net, x), list(net.state_dict())
    bf16.set_precision(net, 'bf16')
    assert bf16.network_precision(net) == 'bf16' and list(net.state_dict()) == keys
    assert all(type(m) is bf16.Bf16Conv2D for m in net.sublayers() if isinstance(m, Conv2D))
    assert all(type(m) is bf16.Bf16ModulatedDeformConv2D for m in net.sublayers()
               if isinstance(m, ModulatedDeformConv2D))
    low = dygraph(net, x)
    assert 0 < np.abs(low - before).max() and rel_rms(low, before) < 2e-2
    bf16.set_precision(net, 'fp32')
    assert bf16.network_precision(net) == 'fp32'
    np.testing.assert_array_equal(dygraph(net, x), before)


@pytest.mark.parametrize('c, groups, stride', [(64, 8, 1), (12, 3, 1), (6, 2, 2)])
def test_dcn_bf16_near_fp32(bf16_ops, c, groups, stride):
    paddle.seed(c)
    layer = ModulatedDeformConv2D(c, 19, 3, stride=stride, padding=1, deformable_groups=groups)
    ho = (23 - 1) // stride + 1
    wo = (37 - 1) // stride + 1
    x = paddle.randn([2, c, 23, 37])
    offset = paddle.randn([2, 2 * groups * 9, ho, wo]) * 2
    mask = paddle.rand([2, groups * 9, ho, wo])
    with paddle.no_grad():
        want = layer(x, offset, mask).numpy()
        bf16.set_precision(layer, 'bf16')
        got = layer(x, offset, mask).numpy()
    assert type(layer) is bf16.Bf16ModulatedDeformConv2D
    assert 1e-4 < rel_rms(got, want) < 6e-3   # bfloat16 operands, float32 sums


def test_dcn_with_gradients_stays_float32(bf16_ops):
    paddle.seed(2)
    layer = ModulatedDeformConv2D(8, 8, 3, padding=1, deformable_groups=2)
    x = paddle.randn([1, 8, 9, 10])
    offset, mask = paddle.randn([1, 36, 9, 10]), paddle.rand([1, 18, 9, 10])
    want = layer(x, offset, mask)
    want.sum().backward()
    grad = layer.weight.grad.numpy().copy()
    layer.weight.clear_gradient()
    bf16.set_precision(layer, 'bf16')
    got = layer(x, offset, mask)
    got.sum().backward()
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(layer.weight.grad.numpy(), grad)


def test_gradients_stay_float32(bf16_ops):
    paddle.seed(1)
    layer = Conv2D(6, 10, 3, padding=1, act=0.1)
    x = paddle.randn([2, 6, 9, 11])
    x.stop_gradient = False
    want = layer(x)
    want.sum().backward()
    grad = x.grad.numpy().copy()
    x.clear_gradient()
    bf16.set_precision(layer, 'bf16')
    got = layer(x)
    got.sum().backward()
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), grad)


def test_cpu_flag_read_from_cpuinfo(tmp_path):
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 avx512_vnni\n')
    assert bf16.cpu_has_bf16(str(info))
    info.write_text('processor\t: 0\nflags\t\t: fpu avx512f avx512_vnni\n')
    assert not bf16.cpu_has_bf16(str(info))
    assert not bf16.cpu_has_bf16(str(tmp_path / 'missing'))


def test_without_bf16_one_line_then_float32(monkeypatch, bf16_lines):
    monkeypatch.setenv('EDVR_BF16', '0')
    monkeypatch.setattr(bf16, '_warned', set())
    assert bf16.resolve_precision('bf16') == 'fp32'
    assert bf16.resolve_precision('bf16') == 'fp32'
    assert bf16_lines == ['precision bf16: turned off by EDVR_BF16=0; running float32']
    assert bf16.resolve_precision('fp32') == 'fp32'


def test_cpu_without_the_flag_falls_back(monkeypatch):
    monkeypatch.delenv('EDVR_BF16', raising=False)
    monkeypatch.setattr(bf16, 'cpu_has_bf16', lambda: False)
    monkeypatch.setattr(bf16, '_warned', set())
    assert 'no AVX-512 BF16' in bf16.bf16_unavailable_reason()
    assert bf16.resolve_precision('bf16') == 'fp32'


@pytest.mark.parametrize('bad', ['fp16', 'BF16', None, 16])
def test_unknown_precision_is_one_line(bad):
    with pytest.raises(ConfigError, match='expected one of fp32, bf16'):
        bf16.resolve_precision(bad)


def test_every_conv_method_of_the_network_runs_in_bf16(bf16_ops, monkeypatch):
    """In bfloat16 mode no stride-1 convolution reaches the float32 fused kernels: the
    residual, pair, shuffled and split-sigmoid stores and the narrow last conv run in bfloat16
    too."""
    from edvr.ops import conv as conv_module
    fp32_outputs = []

    def counting(fn):
        def wrapped(x, *args, **kwargs):
            weight = next(a for a in args if isinstance(a, paddle.Tensor) and a.ndim == 4)
            fp32_outputs.append(int(weight.shape[0]))
            return fn(x, *args, **kwargs)
        return wrapped

    for name in ('conv2d_fused', 'conv2d_fused_pair', 'conv2d_split_sigmoid'):
        monkeypatch.setattr(conv_module, name, counting(getattr(conv_module, name)))
    net = tiny_net()
    x = np.random.default_rng(0).random((1, 5, 3, 16, 16), dtype=np.float32)
    reference = dygraph(net, x)
    assert len(fp32_outputs) > 10
    fp32_outputs.clear()
    out = dygraph(bf16.set_precision(net, 'bf16'), x)
    assert fp32_outputs == []
    assert 0 < np.abs(out - reference).max() < 0.05
