# SPDX-License-Identifier: Apache-2.0
"""EDVR's layers as BasicSR and mmagic name them, with shapes, and random checkpoints of them.

Written from the two frameworks' module definitions (BasicSR
``basicsr/archs/edvr_arch.py``; mmagic ``mmagic/models/editors/edvr/edvr_net.py``,
where mmcv ``ConvModule`` layers hold their conv in ``.conv`` and
``PixelShufflePack`` in ``.upsample_conv``), independently of the converter.
"""
from collections import OrderedDict

import numpy as np

# Small sizes that keep every code path: 2 deformable groups, 1+1 blocks.
TINY = dict(nf=8, nframes=5, groups=2, front_RBs=1, back_RBs=1)
VARIANTS = {
    'sr_tsa': dict(TINY, w_TSA=True, predeblur=False, HR_in=False),
    'sr_wo_tsa': dict(TINY, w_TSA=False, predeblur=False, HR_in=False),
    'sr_tsa_7frames': dict(TINY, nframes=7, w_TSA=True, predeblur=False, HR_in=False),
    'predeblur': dict(TINY, w_TSA=True, predeblur=True, HR_in=False),
    'deblur_hr_in': dict(TINY, w_TSA=True, predeblur=True, HR_in=True),
    'deblur_hr_in_wo_tsa': dict(TINY, w_TSA=False, predeblur=True, HR_in=True),
}
MMAGIC_VARIANTS = ['sr_tsa', 'sr_wo_tsa', 'sr_tsa_7frames']  # mmagic's EDVRNet has no pre-deblur
# The published models' sizes (EDVR-M: nf 64, 5+10 blocks; EDVR-L: nf 128, 5+40).
REAL = {
    'EDVR_M_x4_SR_REDS': dict(nf=64, nframes=5, groups=8, front_RBs=5, back_RBs=10,
                              w_TSA=True, predeblur=False, HR_in=False),
    'EDVR_L_x4_SR_REDS': dict(nf=128, nframes=5, groups=8, front_RBs=5, back_RBs=40,
                              w_TSA=True, predeblur=False, HR_in=False),
    'EDVR_L_x4_SR_Vimeo90K': dict(nf=128, nframes=7, groups=8, front_RBs=5, back_RBs=40,
                                  w_TSA=True, predeblur=False, HR_in=False),
    'EDVR_L_deblur_REDS': dict(nf=128, nframes=5, groups=8, front_RBs=5, back_RBs=40,
                               w_TSA=True, predeblur=True, HR_in=True),
}


def source_layers(arch):
    """[(basicsr name, mmagic name or None, weight shape)] for every conv (all have a bias)."""
    nf, t, g = arch['nf'], arch['nframes'], arch['groups']
    layers = []

    def conv(basicsr, mmagic, cin, cout, k=3):
        layers.append((basicsr, mmagic, (cout, cin, k, k)))

    def resblock(basicsr, mmagic):
        for c in ('conv1', 'conv2'):
            conv(f'{basicsr}.{c}', mmagic and f'{mmagic}.{c}', nf, nf)

    if arch['predeblur']:
        conv('predeblur.conv_first', None, 3, nf)
        if arch['HR_in']:
            conv('predeblur.stride_conv_hr1', None, nf, nf)
            conv('predeblur.stride_conv_hr2', None, nf, nf)
        conv('predeblur.stride_conv_l2', None, nf, nf)
        conv('predeblur.stride_conv_l3', None, nf, nf)
        resblock('predeblur.resblock_l3', None)
        resblock('predeblur.resblock_l2_1', None)
        resblock('predeblur.resblock_l2_2', None)
        for i in range(5):
            resblock(f'predeblur.resblock_l1.{i}', None)
        conv('conv_1x1', None, nf, nf, 1)
    else:
        conv('conv_first', 'conv_first', 3, nf)
    for i in range(arch['front_RBs']):
        resblock(f'feature_extraction.{i}', f'feature_extraction.{i}')
    for level in (2, 3):
        for j in (1, 2):
            conv(f'conv_l{level}_{j}', f'feat_l{level}_conv{j}.conv', nf, nf)
    for level in (3, 2, 1):
        lv = f'l{level}'
        conv(f'pcd_align.offset_conv1.{lv}', f'pcd_alignment.offset_conv1.{lv}.conv', 2 * nf, nf)
        conv(f'pcd_align.offset_conv2.{lv}', f'pcd_alignment.offset_conv2.{lv}.conv',
             nf if level == 3 else 2 * nf, nf)
        if level < 3:
            conv(f'pcd_align.offset_conv3.{lv}', f'pcd_alignment.offset_conv3.{lv}.conv', nf, nf)
        conv(f'pcd_align.dcn_pack.{lv}', f'pcd_alignment.dcn_pack.{lv}', nf, nf)
        conv(f'pcd_align.dcn_pack.{lv}.conv_offset', f'pcd_alignment.dcn_pack.{lv}.conv_offset',
             nf, 3 * g * 9)
        if level < 3:
            conv(f'pcd_align.feat_conv.{lv}', f'pcd_alignment.feat_conv.{lv}.conv', 2 * nf, nf)
    conv('pcd_align.cas_offset_conv1', 'pcd_alignment.cas_offset_conv1.conv', 2 * nf, nf)
    conv('pcd_align.cas_offset_conv2', 'pcd_alignment.cas_offset_conv2.conv', nf, nf)
    conv('pcd_align.cas_dcnpack', 'pcd_alignment.cas_dcnpack', nf, nf)
    conv('pcd_align.cas_dcnpack.conv_offset', 'pcd_alignment.cas_dcnpack.conv_offset', nf, 3 * g * 9)
    if arch['w_TSA']:
        f = 'fusion'
        conv(f'{f}.temporal_attn1', f'{f}.temporal_attn1', nf, nf)
        conv(f'{f}.temporal_attn2', f'{f}.temporal_attn2', nf, nf)
        conv(f'{f}.feat_fusion', f'{f}.feat_fusion.conv', t * nf, nf, 1)
        conv(f'{f}.spatial_attn1', f'{f}.spatial_attn1.conv', t * nf, nf, 1)
        conv(f'{f}.spatial_attn2', f'{f}.spatial_attn2.conv', 2 * nf, nf, 1)
        conv(f'{f}.spatial_attn3', f'{f}.spatial_attn3.conv', nf, nf, 3)
        conv(f'{f}.spatial_attn4', f'{f}.spatial_attn4.conv', nf, nf, 1)
        conv(f'{f}.spatial_attn5', f'{f}.spatial_attn5', nf, nf, 3)
        conv(f'{f}.spatial_attn_l1', f'{f}.spatial_attn_l1.conv', nf, nf, 1)
        conv(f'{f}.spatial_attn_l2', f'{f}.spatial_attn_l2.conv', 2 * nf, nf, 3)
        conv(f'{f}.spatial_attn_l3', f'{f}.spatial_attn_l3.conv', nf, nf, 3)
        conv(f'{f}.spatial_attn_add1', f'{f}.spatial_attn_add1.conv', nf, nf, 1)
        conv(f'{f}.spatial_attn_add2', f'{f}.spatial_attn_add2', nf, nf, 1)
    else:
        conv('fusion', 'fusion', t * nf, nf, 1)
    for i in range(arch['back_RBs']):
        resblock(f'reconstruction.{i}', f'reconstruction.{i}')
    conv('upconv1', 'upsample1.upsample_conv', nf, 4 * nf)
    conv('upconv2', 'upsample2.upsample_conv', nf, 4 * 64)
    conv('conv_hr', 'conv_hr', 64, 64)
    conv('conv_last', 'conv_last', 64, 3)
    return layers


def random_weights(arch, seed=0, offset_gain=4.0):
    """{BasicSR name: array} with random values (DCN offset convs scaled up so offsets are pixels)."""
    rng = np.random.default_rng(seed)
    out = OrderedDict()
    for name, _, shape in source_layers(arch):
        fan_in = shape[1] * shape[2] * shape[3]
        gain = offset_gain if name.endswith('conv_offset') else 1.0
        out[f'{name}.weight'] = (rng.uniform(-1, 1, shape) * gain / np.sqrt(fan_in)).astype(np.float32)
        out[f'{name}.bias'] = (rng.uniform(-0.1, 0.1, shape[:1]) * gain).astype(np.float32)
    return out


def basicsr_checkpoint(weights):
    """A BasicSR-style file object: the network under 'params'."""
    return {'params': weights}


def mmagic_checkpoint(weights, arch):
    """An mmagic-style file object: 'meta' and 'state_dict' with 'generator.'-prefixed names."""
    rename = {b: m for b, m, _ in source_layers(arch)}
    state = OrderedDict()
    for key, value in weights.items():
        layer, param = key.rsplit('.', 1)
        state[f'generator.{rename[layer]}.{param}'] = value
    return {'meta': {'mmagic_version': '1.2.0', 'iter': 600000}, 'state_dict': state}
