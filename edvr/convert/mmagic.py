# SPDX-License-Identifier: Apache-2.0
"""mmagic's (and MMEditing's) EDVRNet -> BasicSR's names -> ours.

mmagic's network (``mmagic/models/editors/edvr/edvr_net.py``) is BasicSR's EDVR
with other wrappers and a few other names; its checkpoints keep the network
under ``state_dict`` with a ``generator.`` prefix. Differences from BasicSR:

* layers built as mmcv ``ConvModule`` keep their conv in ``.conv``: the
  pyramid convs ``feat_l{2,3}_conv{1,2}`` (BasicSR ``conv_l{2,3}_{1,2}``), the
  PCD offset/feature convs, and in TSA ``feat_fusion``, ``spatial_attn1-4``,
  ``spatial_attn_l1-3`` and ``spatial_attn_add1``; ``temporal_attn1/2``,
  ``spatial_attn5`` and ``spatial_attn_add2`` are plain convs;
* ``pcd_alignment`` is BasicSR's ``pcd_align``, ``upsample{1,2}.upsample_conv``
  its ``upconv{1,2}``;
* the TSA roles are BasicSR's (``temporal_attn1`` embeds the reference frame),
  and ``ModulatedDCNPack`` splits ``conv_offset`` into (o1, o2, mask) and
  passes cat(o1, o2) to mmcv's kernel, which reads (dy, dx) pairs per group and
  tap like ours, so DCN tensors copy unchanged (see `edvr.convert.basicsr`).

mmagic's EDVRNet has no pre-deblur module, so only SR models come from it.
"""
from collections import OrderedDict

from edvr.convert.basicsr import basicsr_to_paddle
from edvr.convert.key_maps import compile_rules, rename_keys
from edvr.errors import WeightsError

PREFIX = 'generator.'

RULES = compile_rules([
    (r'conv_first', 'conv_first'),
    (r'feature_extraction\.(\d+)\.(conv[12])', r'feature_extraction.\1.\2'),
    (r'feat_l([23])_conv([12])\.conv', r'conv_l\1_\2'),
    (r'pcd_alignment\.(offset_conv[123]|feat_conv)\.(l[123])\.conv', r'pcd_align.\1.\2'),
    (r'pcd_alignment\.dcn_pack\.(l[123])(\.conv_offset)?', r'pcd_align.dcn_pack.\1\2'),
    (r'pcd_alignment\.(cas_offset_conv[12])\.conv', r'pcd_align.\1'),
    (r'pcd_alignment\.cas_dcnpack(\.conv_offset)?', r'pcd_align.cas_dcnpack\1'),
    (r'fusion\.(temporal_attn[12]|spatial_attn5|spatial_attn_add2)', r'fusion.\1'),
    (r'fusion\.(feat_fusion|spatial_attn[1-4]|spatial_attn_l[123]|spatial_attn_add1)\.conv',
     r'fusion.\1'),
    (r'fusion', 'fusion'),
    (r'reconstruction\.(\d+)\.(conv[12])', r'reconstruction.\1.\2'),
    (r'upsample([12])\.upsample_conv', r'upconv\1'),
    (r'conv_hr', 'conv_hr'),
    (r'conv_last', 'conv_last'),
])


def mmagic_state(obj, where):
    """The generator's weights inside an mmagic file, without the ``generator.`` prefix.

    Returns:
        (state dict, description of where it was found).
    """
    if not isinstance(obj, dict):
        raise WeightsError(f'{where}: expected a dict of tensors, got {type(obj).__name__}')
    state, found = obj, 'the top level'
    if 'state_dict' in obj:
        state, found = obj['state_dict'], "'state_dict'"
    if not isinstance(state, dict):
        raise WeightsError(f'{where}: {found} is a {type(state).__name__}, not a dict of tensors')
    if any(str(k).startswith(PREFIX) for k in state):
        others = [str(k) for k in state if not str(k).startswith(PREFIX)]
        if others:
            raise WeightsError(f'{where}: keys outside the generator in {found}: '
                               f'{", ".join(others[:8])}')
        state = OrderedDict((str(k)[len(PREFIX):], v) for k, v in state.items())
        found += ", prefix 'generator.'"
    return state, found


def mmagic_to_paddle(state, where):
    """Rename an mmagic EDVRNet state dict (prefix removed) to EDVRNet's keys."""
    return basicsr_to_paddle(rename_keys(state, RULES, where, 'mmagic'), where, 'mmagic')
