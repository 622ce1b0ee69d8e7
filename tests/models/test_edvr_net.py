# SPDX-License-Identifier: Apache-2.0
"""EDVRNet: PaddleGAN weight names and sizes, shapes, batching equivalences, init, errors.

`golden_edvr_keys.json` lists, for PaddleGAN's six EDVR configs, every
state_dict key with its shape in order. Regenerate it (only after checking the
names against PaddleGAN's) with
``PYTHONPATH=. python tests/models/test_edvr_net.py --write-golden``.
"""
import json
import os
import sys

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from edvr.errors import ConfigError, DataError
from edvr.models.edvr_net import EDVRNet
from edvr.ops import set_dcn_kernel
from edvr.ops.conv import repeat_frames
from edvr.registry import NETWORKS, build_from_config

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden_edvr_keys.json')

# Generator sections of PaddleGAN's configs/edvr_*.yaml.
_M = dict(in_nf=3, out_nf=3, scale_factor=4, nf=64, nframes=5, groups=8, front_RBs=5,
          back_RBs=10, center=2, predeblur=False, HR_in=False)
_L = dict(_M, nf=128, back_RBs=40)
_BLUR = dict(_L, scale_factor=1, predeblur=True, HR_in=True)
CONFIGS = {
    'edvr_m_wo_tsa': dict(_M, w_TSA=False), 'edvr_m_w_tsa': dict(_M, w_TSA=True),
    'edvr_l_wo_tsa': dict(_L, w_TSA=False), 'edvr_l_w_tsa': dict(_L, w_TSA=True),
    'edvr_l_blur_wo_tsa': dict(_BLUR, w_TSA=False), 'edvr_l_blur_w_tsa': dict(_BLUR, w_TSA=True),
}
PARAM_COUNTS = {
    'edvr_m_wo_tsa': 2_996_259, 'edvr_m_w_tsa': 3_300_131,
    'edvr_l_wo_tsa': 19_419_875, 'edvr_l_w_tsa': 20_633_827,
    'edvr_l_blur_wo_tsa': 22_388_067, 'edvr_l_blur_w_tsa': 23_602_019,
}
TINY = dict(nf=8, groups=2, front_RBs=1, back_RBs=1)


def _keys_and_shapes(net):
    return [[k, list(v.shape)] for k, v in net.state_dict().items()]


@pytest.mark.parametrize('name', list(CONFIGS))
def test_state_dict_equals_paddlegan_names_and_shapes(name):
    with open(GOLDEN) as f:
        golden = json.load(f)[name]
    net = build_from_config(dict(CONFIGS[name], name='EDVRNet'), NETWORKS, where='generator')
    assert golden['args'] == CONFIGS[name]
    assert _keys_and_shapes(net) == golden['params']
    assert sum(int(np.prod(s)) for _, s in golden['params']) == PARAM_COUNTS[name]


def test_golden_holds_paddlegan_spellings():
    with open(GOLDEN) as f:
        keys = {k for k, _ in json.load(f)['edvr_l_blur_w_tsa']['params']}
    for key in ('cov_1.weight', 'HRconv.weight', 'TSAModule.tAtt_1.weight',
                'PCDModule.PCD_Align_L3_offset_conv1.weight',
                'PCDModule.PCD_Align_cascade_dcn.conv_offset_mask.weight',
                'PCDModule.PCD_Align_L1_dcn.dcn.weight', 'pre_deblur.RB_L1_5.conv2.bias',
                'reconstructor.block39.conv2.weight'):
        assert key in keys, key
    assert 'PCDModule.PCD_Align_L3_offset_conv3.weight' not in keys


@pytest.mark.parametrize('args,size,out_size', [
    (dict(TINY), 8, 32),
    (dict(TINY, w_TSA=False), 8, 32),
    (dict(TINY, predeblur=True), 8, 32),
    (dict(TINY, predeblur=True, HR_in=True, scale_factor=1), 16, 16),
    (dict(TINY, nframes=3, center=0), 4, 16),
])
def test_forward_shape_and_gradients(args, size, out_size):
    paddle.seed(0)
    net = EDVRNet(**args)
    x = paddle.rand([2, args.get('nframes', 5), 3, size, size])
    out = net(x)
    assert list(out.shape) == [2, 3, out_size, out_size]
    out.mean().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
    assert np.abs(net.conv_last.weight.grad.numpy()).max() > 0


def test_fresh_network_stays_close_to_the_upsampled_centre_frame():
    paddle.seed(0)
    net = EDVRNet(**TINY)
    x = paddle.rand([1, 5, 3, 8, 8])
    base = F.interpolate(x[:, 2], scale_factor=4, mode='bilinear', align_corners=False,
                         align_mode=0)
    diff = float((net(x) - base).abs().mean())
    assert 0 < diff < 0.1


def _randomize_offset_convs(net, seed=0):
    """Give every DCN non-trivial offsets and masks (they start at zero)."""
    rng = np.random.RandomState(seed)
    for layer in net.PCDModule.dcn_layers():
        w = layer.conv_offset_mask.weight
        w.set_value(rng.randn(*w.shape).astype('float32') * 0.3)


def _randomize_all(net, seed=0):
    """He-normal weights and small random biases everywhere, so every input matters."""
    rng = np.random.RandomState(seed)
    for p in net.parameters():
        if len(p.shape) == 4:
            std = np.sqrt(2.0 / np.prod(p.shape[1:]))
            p.set_value((rng.randn(*p.shape) * std).astype('float32'))
        else:
            p.set_value((rng.randn(*p.shape) * 0.1).astype('float32'))


def test_batched_alignment_equals_the_per_frame_loop():
    paddle.seed(1)
    net = EDVRNet(**TINY)
    _randomize_offset_convs(net)
    net.eval()
    b, t, nf = 2, 5, 8
    feats = [paddle.rand([b * t, nf, 8 // s, 8 // s]) for s in (1, 2, 4)]
    refs = [f.reshape([b, t, nf] + list(f.shape[2:]))[:, 2] for f in feats]
    with paddle.no_grad():
        shared = net.PCDModule(feats, refs, t).reshape([b, t, nf, 8, 8]).numpy()
        repeated = net.PCDModule(feats, [repeat_frames(r, t) for r in refs]).numpy()
        np.testing.assert_allclose(repeated.reshape(shared.shape), shared, rtol=1e-5, atol=1e-6)
        for i in range(t):
            nbr = [f.reshape([b, t, nf] + list(f.shape[2:]))[:, i] for f in feats]
            single = net.PCDModule(nbr, refs).numpy()
            np.testing.assert_allclose(shared[:, i], single, rtol=1e-5, atol=1e-6)


def test_vectorised_temporal_attention_equals_the_per_frame_loop():
    paddle.seed(2)
    net = EDVRNet(**TINY)
    tsa = net.TSAModule
    aligned = paddle.rand([2, 5, 8, 8, 8])
    with paddle.no_grad():
        got = tsa.temporal_attention(aligned).numpy()
        emb_ref = tsa.tAtt_2(aligned[:, 2])
        for i in range(5):
            corr = (tsa.tAtt_1(aligned[:, i]) * emb_ref).sum(axis=1, keepdim=True)
            expected = aligned[:, i] * F.sigmoid(corr)
            np.testing.assert_allclose(got[:, i * 8:(i + 1) * 8], expected.numpy(),
                                       rtol=1e-5, atol=1e-6)


def test_samples_in_a_batch_do_not_mix():
    paddle.seed(3)
    net = EDVRNet(**dict(TINY, predeblur=True))
    _randomize_all(net)
    net.eval()
    x = paddle.rand([3, 5, 3, 8, 8])
    with paddle.no_grad():
        together = net(x).numpy()
        scale = np.abs(together).max()
        for i in range(3):
            np.testing.assert_allclose(together[i:i + 1], net(x[i:i + 1]).numpy(),
                                       rtol=1e-4, atol=1e-5 * scale)
        # Changing one sample's neighbour frame changes that sample only.
        x_changed = x.numpy()
        x_changed[1, 0] = 1 - x_changed[1, 0]
        changed = net(paddle.to_tensor(x_changed)).numpy()
    assert np.abs(changed[1] - together[1]).max() > 1e-2 * scale
    np.testing.assert_allclose(changed[[0, 2]], together[[0, 2]], rtol=1e-4, atol=1e-5 * scale)


def test_both_dcn_kernels_give_the_same_training_step():
    paddle.seed(4)
    net = EDVRNet(**TINY)
    _randomize_all(net)
    x = paddle.rand([2, 5, 3, 8, 8])
    results = []
    try:
        for kernel in ('paddle', 'sampling'):
            set_dcn_kernel(kernel)
            out = net(x)
            out.square().mean().backward()
            results.append([out.numpy()] + [p.grad.numpy() for p in net.parameters()])
            net.clear_gradients()
    finally:
        set_dcn_kernel('auto')
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_initialisation_recipe():
    paddle.seed(5)
    net = EDVRNet(**dict(TINY, nf=64, groups=8))
    for layer in net.PCDModule.dcn_layers():
        assert not layer.conv_offset_mask.weight.numpy().any()
        assert not layer.conv_offset_mask.bias.numpy().any()
    block = net.reconstructor.block0
    std = float(block.conv1.weight.numpy().std())
    assert std == pytest.approx(0.1 * np.sqrt(2 / (64 * 9)), rel=0.05)
    assert not block.conv2.bias.numpy().any()
    bound = 1 / np.sqrt(64 * 9)
    assert np.abs(net.fea_L2_conv1.weight.numpy()).max() <= bound


def test_dcn_offset_mean_hook():
    paddle.seed(6)
    net = EDVRNet(**TINY)
    assert net.get_dcn_offset_mean() is None
    net(paddle.rand([1, 5, 3, 8, 8]))
    assert net.get_dcn_offset_mean() == 0.0   # offsets start at zero
    for layer in net.PCDModule.dcn_layers():
        layer.conv_offset_mask.bias.set_value(paddle.full([54], -0.5))
    net(paddle.rand([1, 5, 3, 8, 8]))
    assert net.get_dcn_offset_mean() == pytest.approx(0.5, abs=1e-6)


def test_frame_size_must_fit_the_pyramid():
    net = EDVRNet(**TINY)
    with pytest.raises(DataError, match='10x12.*divisible by 4'):
        net(paddle.rand([1, 5, 3, 10, 12]))
    net = EDVRNet(**dict(TINY, predeblur=True, HR_in=True, scale_factor=1))
    assert net.size_multiple == 16
    with pytest.raises(DataError, match='divisible by 16'):
        net(paddle.rand([1, 5, 3, 8, 8]))


@pytest.mark.parametrize('args,message', [
    (dict(HR_in=True, scale_factor=1), 'HR_in=True needs predeblur=True'),
    (dict(scale_factor=2), 'scale_factor=2'),
    (dict(predeblur=True, HR_in=True), 'scale_factor=4 .*expected 1'),
    (dict(nf=9), 'nf=9 must be divisible by groups=2'),
    (dict(center=5), r'center=5 must lie in \[0, 4\]'),
])
def test_bad_arguments_raise_config_error(args, message):
    with pytest.raises(ConfigError, match=message):
        build_from_config(dict(TINY, name='EDVRNet', **args), NETWORKS)


def write_golden():
    """Write golden_edvr_keys.json from the current implementation."""
    lines = ['{']
    for i, (name, args) in enumerate(CONFIGS.items()):
        params = _keys_and_shapes(EDVRNet(**args))
        lines.append(f'  {json.dumps(name)}: {{')
        lines.append(f'    "args": {json.dumps(args)},')
        lines.append('    "params": [')
        lines += [f'      {json.dumps(p)}' + (',' if j < len(params) - 1 else '')
                  for j, p in enumerate(params)]
        lines.append('    ]')
        lines.append('  }' + (',' if i < len(CONFIGS) - 1 else ''))
    lines.append('}')
    with open(GOLDEN, 'w') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    if sys.argv[1:] != ['--write-golden']:
        sys.exit('usage: PYTHONPATH=. python tests/models/test_edvr_net.py --write-golden')
    write_golden()
