# SPDX-License-Identifier: Apache-2.0
"""BasicSR / mmagic checkpoints -> .pdparams: every tensor placed, same outputs as the source network.

The checkpoints are written here (random values, the source framework's names
and shapes, both torch.save layouts). Equivalence is checked against
`numpy_edvr.BasicSREDVR`, BasicSR's forward pass in numpy: our EDVRNet loaded
with the converted file must give its output for the same input.
"""
import json
import os
from collections import OrderedDict

import numpy as np
import paddle
import pytest

from edvr.convert.basicsr import basicsr_to_paddle
from edvr.convert.convert import check_fits_edvr, convert_checkpoint
from edvr.convert.infer_arch import infer_edvr_args
from edvr.convert.mmagic import mmagic_to_paddle
from edvr.weights import load_generator_weights
from edvr.models.edvr_net import EDVRNet
from tests.convert.numpy_edvr import BasicSREDVR
from tests.convert.source_layers import (MMAGIC_VARIANTS, REAL, VARIANTS, basicsr_checkpoint,
                                         mmagic_checkpoint, random_weights, source_layers)
from tests.convert.torch_writer import SAVERS, Call, Global, save_zip, state_dict
from tools.convert_weights import main as convert_main

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      'models', 'golden_edvr_keys.json')


def expected_args(arch):
    return dict(in_nf=3, out_nf=3, scale_factor=1 if arch['HR_in'] else 4,
                center=arch['nframes'] // 2, **arch)


def load_converted(path, arch):
    net = EDVRNet(**expected_args(arch))
    load_generator_weights(net, path)   # what `tools/main.py --load` and inference use
    net.eval()
    return net


def run_both(net, weights, arch, seed=1):
    size = 16 if arch['HR_in'] else 8
    x = np.random.default_rng(seed).random((1, arch['nframes'], 3, size, size)).astype(np.float32)
    with paddle.no_grad():
        ours = net(paddle.to_tensor(x)).numpy()
    return ours, BasicSREDVR(weights, arch)(x)


def assert_every_tensor_placed_once(weights, path):
    """Each source tensor (random, so unique) equals exactly one converted tensor, and vice versa."""
    converted = {k: v.numpy() for k, v in paddle.load(path)['generator'].items()}
    assert len(converted) == len(weights)
    by_bytes = {}
    for key, value in converted.items():
        by_bytes.setdefault((value.shape, value.tobytes()), []).append(key)
    for key, value in weights.items():
        assert len(by_bytes.get((value.shape, value.tobytes()), [])) == 1, key


@pytest.mark.parametrize('layout', list(SAVERS))
@pytest.mark.parametrize('variant', list(VARIANTS))
def test_basicsr_checkpoint_converts_to_the_same_network(tmp_path, variant, layout, capsys):
    arch = VARIANTS[variant]
    weights = random_weights(arch, seed=len(variant))
    src, dst = str(tmp_path / 'edvr.pth'), str(tmp_path / 'edvr.pdparams')
    SAVERS[layout]({'params': state_dict(weights)}, src)
    assert convert_main([src, dst]) == 0
    printed = capsys.readouterr().out
    assert f'basicsr EDVR weights from \'params\', {len(weights)} tensors' in printed
    assert f'    nf: {arch["nf"]}\n    nframes: {arch["nframes"]}\n' in printed
    assert f'    HR_in: {arch["HR_in"]}\n    w_TSA: {arch["w_TSA"]}' in printed
    assert sorted(os.listdir(tmp_path)) == ['edvr.pdparams', 'edvr.pth']
    saved = paddle.load(dst)
    assert list(saved) == ['generator']
    assert_every_tensor_placed_once(weights, dst)
    ours, reference = run_both(load_converted(dst, arch), weights, arch)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=2e-5)


@pytest.mark.parametrize('layout', list(SAVERS))
@pytest.mark.parametrize('variant', MMAGIC_VARIANTS)
def test_mmagic_checkpoint_converts_to_the_same_network(tmp_path, variant, layout):
    arch = VARIANTS[variant]
    weights = random_weights(arch, seed=3)
    src, dst = str(tmp_path / 'edvrm.pth'), str(tmp_path / 'edvrm.pdparams')
    SAVERS[layout](mmagic_checkpoint(weights, arch), src)
    state, args, info = convert_checkpoint(src)
    assert info == {'source': 'mmagic', 'found': "'state_dict', prefix 'generator.'"}
    assert args == expected_args(arch)
    assert convert_main([src, dst, '--from', 'mmagic']) == 0
    assert_every_tensor_placed_once(weights, dst)
    ours, reference = run_both(load_converted(dst, arch), weights, arch)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=2e-5)


def test_temporal_attention_roles_are_swapped_into_place():
    """BasicSR's temporal_attn1 embeds the centre frame; ours calls that conv tAtt_2."""
    arch = VARIANTS['sr_tsa']
    weights = random_weights(arch, seed=11)
    state = basicsr_to_paddle(weights, 'test')
    assert state['TSAModule.tAtt_2.weight'] is weights['fusion.temporal_attn1.weight']
    assert state['TSAModule.tAtt_1.weight'] is weights['fusion.temporal_attn2.weight']
    net = EDVRNet(**expected_args(arch))
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    aligned = np.random.default_rng(2).standard_normal((2, 5, 8, 8, 8)).astype(np.float32)
    reference = BasicSREDVR(weights, arch)
    with paddle.no_grad():
        ours = net.TSAModule(paddle.to_tensor(aligned)).numpy()
        weighted = net.TSAModule.temporal_attention(paddle.to_tensor(aligned)).numpy()
    np.testing.assert_allclose(ours, reference.tsa(aligned.astype(np.float64)), atol=2e-5)
    # the correlation sigmoid(<attn2(frame), attn1(centre)>) written out for frame 0:
    emb_ref = reference.c('fusion.temporal_attn1', aligned[:, 2].astype(np.float64))
    emb_0 = reference.c('fusion.temporal_attn2', aligned[:, 0].astype(np.float64))
    corr = 1 / (1 + np.exp(-(emb_0 * emb_ref).sum(1, keepdims=True)))
    np.testing.assert_allclose(weighted[:, :8], aligned[:, 0] * corr, atol=2e-5)
    # without the swap the outputs differ clearly: the test can tell the roles apart
    wrong = dict(weights)
    for p in ('weight', 'bias'):
        wrong[f'fusion.temporal_attn1.{p}'] = weights[f'fusion.temporal_attn2.{p}']
        wrong[f'fusion.temporal_attn2.{p}'] = weights[f'fusion.temporal_attn1.{p}']
    assert np.abs(ours - BasicSREDVR(wrong, arch).tsa(aligned.astype(np.float64))).max() > 1e-2


def test_dcn_offset_and_mask_channels_copy_unchanged():
    """conv_offset -> conv_offset_mask as is: both read (dy, dx) per group and tap, then the mask."""
    arch = VARIANTS['sr_tsa']
    weights = random_weights(arch, seed=5)
    state = basicsr_to_paddle(weights, 'test')
    net = EDVRNet(**expected_args(arch))
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    reference = BasicSREDVR(weights, arch)
    rng = np.random.default_rng(4)
    x, feat = (rng.standard_normal((2, 8, 8, 8)).astype(np.float32) for _ in range(2))
    expected = reference.dcn_pack('pcd_align.dcn_pack.l1', x.astype(np.float64),
                                  feat.astype(np.float64))
    offsets = np.split(reference.c('pcd_align.dcn_pack.l1.conv_offset', feat), 3, axis=1)
    assert np.abs(np.concatenate(offsets[:2], 1)).mean() > 0.5   # offsets of pixels, not ~0
    dcn = net.PCDModule.PCD_Align_L1_dcn
    for kernel in ('paddle', 'sampling'):
        with paddle.no_grad():
            offset, mask = paddle.split(dcn.conv_offset_mask(paddle.to_tensor(feat)), [36, 18], 1)
            ours = dcn.dcn(paddle.to_tensor(x), offset, paddle.nn.functional.sigmoid(mask),
                           kernel=kernel).numpy()
        np.testing.assert_allclose(ours, expected, atol=2e-5)
    # other readings of the same channels give other results (the check is sensitive):
    # (dx, dy) pairs, or all dy then all dx per group
    w = weights['pcd_align.dcn_pack.l1.conv_offset.weight']
    pairs = np.arange(36).reshape(2, 9, 2)
    for order in (pairs[..., ::-1].reshape(-1), pairs.transpose(0, 2, 1).reshape(-1)):
        alt = dict(weights)
        alt['pcd_align.dcn_pack.l1.conv_offset.weight'] = np.concatenate([w[:36][order], w[36:]])
        alt['pcd_align.dcn_pack.l1.conv_offset.bias'] = np.concatenate(
            [weights['pcd_align.dcn_pack.l1.conv_offset.bias'][:36][order],
             weights['pcd_align.dcn_pack.l1.conv_offset.bias'][36:]])
        other = BasicSREDVR(alt, arch).dcn_pack('pcd_align.dcn_pack.l1', x.astype(np.float64),
                                                feat.astype(np.float64))
        assert np.abs(other - expected).max() > 1e-2


@pytest.mark.parametrize('name', list(REAL))
def test_published_model_sizes_map_and_infer(name):
    """Shapes only (no values): the real EDVR-M/L layouts map onto EDVRNet of the right size."""
    arch = REAL[name]
    shapes = {f'{layer}.{p}': np.broadcast_to(np.float32(0), shape if p == 'weight' else shape[:1])
              for layer, _, shape in source_layers(arch) for p in ('weight', 'bias')}
    state = basicsr_to_paddle(shapes, name)
    args = infer_edvr_args(state, name)
    assert args == expected_args(arch)
    ordered = check_fits_edvr(state, args, name)
    with open(GOLDEN) as f:
        golden = json.load(f)
    golden_name = {'EDVR_M_x4_SR_REDS': 'edvr_m_w_tsa', 'EDVR_L_x4_SR_REDS': 'edvr_l_w_tsa',
                   'EDVR_L_deblur_REDS': 'edvr_l_blur_w_tsa'}.get(name)
    if golden_name:
        assert [[k, list(v.shape)] for k, v in ordered.items()] == golden[golden_name]['params']
    if not arch['predeblur']:
        renamed = OrderedDict((f'{m}.{k.rsplit(".", 1)[1]}', shapes[k])
                              for b, m, _ in source_layers(arch) for k in
                              (f'{b}.weight', f'{b}.bias'))
        assert infer_edvr_args(mmagic_to_paddle(renamed, name), name) == args


def test_real_parameter_counts():
    counts = {name: sum(int(np.prod(s)) for _, _, s in source_layers(arch))
              + sum(s[0] for _, _, s in source_layers(arch)) for name, arch in REAL.items()}
    assert counts['EDVR_M_x4_SR_REDS'] == 3_300_131          # PaddleGAN's edvr_m_w_tsa
    assert counts['EDVR_L_x4_SR_REDS'] == 20_633_827         # edvr_l_w_tsa
    assert counts['EDVR_L_deblur_REDS'] == 23_602_019        # edvr_l_blur_w_tsa
    assert counts['EDVR_L_x4_SR_Vimeo90K'] == 20_633_827 + 2 * 128 * 128 * 2  # 2 more frames in 2 1x1 convs


def _write_existing(path):
    path.write_bytes(b'previous weights')
    return b'previous weights'


def _assert_untouched(tmp_path, dst, before, src_name):
    assert dst.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == sorted([src_name, dst.name])


def test_other_architecture_is_an_error_listing_keys(tmp_path, capsys):
    rng = np.random.default_rng(0)
    msrresnet = OrderedDict((k, rng.standard_normal(s).astype(np.float32)) for k, s in (
        ('conv_first.weight', (64, 3, 3, 3)), ('conv_first.bias', (64,)),
        ('body.0.conv1.weight', (64, 64, 3, 3)), ('body.0.conv1.bias', (64,)),
        ('upconv1.weight', (256, 64, 3, 3)), ('conv_hr.weight', (64, 64, 3, 3))))
    src, dst = tmp_path / 'msrresnet.pth', tmp_path / 'out.pdparams'
    save_zip({'params': state_dict(msrresnet)}, str(src))
    before = _write_existing(dst)
    assert convert_main([str(src), str(dst)]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1
    assert 'msrresnet.pth: 2 key(s) are not part of BasicSR EDVR' in err
    assert 'body.0.conv1.weight, body.0.conv1.bias' in err
    _assert_untouched(tmp_path, dst, before, src.name)
    # a BasicVSR-like file (no 'params', unknown keys) cannot even be told apart
    save_zip({'spynet.basic_module.0.weight': np.zeros(3, np.float32)}, str(src))
    assert convert_main([str(src), str(dst)]) == 2
    assert 'not a BasicSR or mmagic EDVR checkpoint (found: spynet' in capsys.readouterr().err
    _assert_untouched(tmp_path, dst, before, src.name)


def test_missing_and_extra_tensors_are_errors(tmp_path, capsys):
    arch = VARIANTS['sr_tsa']
    weights = random_weights(arch)
    src, dst = tmp_path / 'edvr.pth', tmp_path / 'out.pdparams'
    before = _write_existing(dst)
    cut = OrderedDict((k, v) for k, v in weights.items() if not k.startswith('fusion.spatial_attn3'))
    save_zip({'params': state_dict(cut)}, str(src))
    assert convert_main([str(src), str(dst)]) == 2
    assert ('missing: TSAModule.sAtt_3.weight; TSAModule.sAtt_3.bias'
            in capsys.readouterr().err)
    extra = OrderedDict(weights, **{'pcd_align.offset_conv3.l3.weight': np.zeros((8, 8, 3, 3),
                                                                                  np.float32)})
    save_zip({'params': state_dict(extra)}, str(src))
    assert convert_main([str(src), str(dst)]) == 2
    assert 'unexpected: PCDModule.PCD_Align_L3_offset_conv3.weight' in capsys.readouterr().err
    stats = OrderedDict(weights, **{'fusion.num_batches_tracked': np.zeros((), np.int64)})
    save_zip({'params': state_dict(stats)}, str(src))
    assert convert_main([str(src), str(dst)]) == 2
    assert 'fusion.num_batches_tracked' in capsys.readouterr().err
    mm = mmagic_checkpoint(weights, arch)
    mm['state_dict']['discriminator.conv.weight'] = np.zeros(1, np.float32)
    save_zip(mm, str(src))
    assert convert_main([str(src), str(dst)]) == 2
    assert "keys outside the generator in 'state_dict': discriminator.conv.weight" \
        in capsys.readouterr().err
    _assert_untouched(tmp_path, dst, before, src.name)


@pytest.mark.parametrize('layout', list(SAVERS))
def test_bad_files_leave_no_output(tmp_path, capsys, layout):
    src, dst = tmp_path / 'in.pth', tmp_path / 'out.pdparams'
    before = _write_existing(dst)
    src.write_text('not a checkpoint')
    assert convert_main([str(src), str(dst)]) == 2
    assert 'not a PyTorch checkpoint' in capsys.readouterr().err
    weights = random_weights(VARIANTS['sr_tsa'])
    SAVERS[layout]({'params': state_dict(weights)}, str(src))
    data = src.read_bytes()
    src.write_bytes(data[:len(data) * 2 // 3])
    assert convert_main([str(src), str(dst)]) == 2
    assert 'truncated' in capsys.readouterr().err
    SAVERS[layout]({'params': state_dict(weights), 'hook': Call(Global('os', 'system'), 'true')},
                   str(src))
    assert convert_main([str(src), str(dst)]) == 2
    assert 'refused to load: the pickle asks for os.system' in capsys.readouterr().err
    _assert_untouched(tmp_path, dst, before, src.name)


def test_config_is_checked_against_the_weights(tmp_path, capsys):
    arch = VARIANTS['sr_wo_tsa']
    src, dst = tmp_path / 'edvr.pth', tmp_path / 'out.pdparams'
    save_zip(basicsr_checkpoint(random_weights(arch)), str(src))
    good = tmp_path / 'good.yaml'
    good.write_text('model:\n  name: EDVRModel\n  generator:\n    name: EDVRNet\n    nf: 8\n'
                    '    groups: 2\n    front_RBs: 1\n    back_RBs: 1\n    w_TSA: False\n')
    assert convert_main([str(src), str(dst), '--config', str(good)]) == 0
    assert 'good.yaml: model.generator matches the weights' in capsys.readouterr().out
    os.remove(dst)
    bad = tmp_path / 'bad.yaml'
    bad.write_text(good.read_text().replace('nf: 8', 'nf: 64').replace('w_TSA: False', 'w_TSA: True'))
    assert convert_main([str(src), str(dst), '--config', str(bad)]) == 2
    err = capsys.readouterr().err
    assert ('bad.yaml does not match the weights: model.generator.nf: config 64, weights 8; '
            'model.generator.w_TSA: config True, weights False') in err
    assert not dst.exists()
