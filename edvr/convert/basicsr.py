# SPDX-License-Identifier: Apache-2.0
"""BasicSR's EDVR (``basicsr/archs/edvr_arch.py``) -> our EDVRNet (PaddleGAN's names).

Correspondences worth knowing:

* Temporal attention: BasicSR's ``fusion.temporal_attn1`` embeds the
  reference (centre) frame and ``temporal_attn2`` every frame; in PaddleGAN's
  TSA the reference embedding is ``tAtt_2`` and the per-frame one ``tAtt_1``.
  So ``temporal_attn1 -> tAtt_2`` and ``temporal_attn2 -> tAtt_1``.
* DCN packs: BasicSR's ``conv_offset`` gives 3*G*9 channels, split in three
  equal chunks (o1, o2, mask), offset = cat(o1, o2), i.e. the first 2*G*9
  channels, read by the deformable kernel (torchvision / BasicSR's DCNv2
  extension) as (dy, dx) pairs per group and tap. Ours splits the same conv
  the same way and its kernels read the same layout (see edvr/models/dcn.py),
  so ``conv_offset`` copies unchanged to ``conv_offset_mask``; the DCN weight
  and bias go to ``dcn.weight`` / ``dcn.bias``.
* Pre-deblur (``HR_in``): BasicSR's ``conv_first`` + ``stride_conv_hr1/2``
  are PaddleGAN's ``conv_first_1/2/3``; without ``HR_in`` ``conv_first``
  keeps its name. ``resblock_l1.0-4`` are ``RB_L1_1-5``.

Convolution weights are (out, in, kh, kw) in both frameworks, so every tensor
copies as it is.
"""
from collections import OrderedDict

from edvr.convert.key_maps import compile_rules, rename_keys
from edvr.errors import WeightsError


def _predeblur_rules(hr_in):
    first = 'pre_deblur.conv_first_1' if hr_in else 'pre_deblur.conv_first'
    return [
        (r'predeblur\.conv_first', first),
        (r'predeblur\.stride_conv_hr([12])',
         lambda m: f'pre_deblur.conv_first_{int(m.group(1)) + 1}'),
        (r'predeblur\.stride_conv_l([23])', r'pre_deblur.deblur_L\1_conv'),
        (r'predeblur\.resblock_l3\.(conv[12])', r'pre_deblur.RB_L3_1.\1'),
        (r'predeblur\.resblock_l2_([12])\.(conv[12])', r'pre_deblur.RB_L2_\1.\2'),
        (r'predeblur\.resblock_l1\.([0-4])\.(conv[12])',
         lambda m: f'pre_deblur.RB_L1_{int(m.group(1)) + 1}.{m.group(2)}'),
        (r'conv_1x1', 'cov_1'),
    ]


RULES = [
    (r'conv_first', 'conv_first'),
    (r'feature_extraction\.(\d+)\.(conv[12])', r'feature_extractor.block\1.\2'),
    (r'conv_l([23])_([12])', r'fea_L\1_conv\2'),
    (r'pcd_align\.offset_conv([123])\.l([123])', r'PCDModule.PCD_Align_L\2_offset_conv\1'),
    (r'pcd_align\.dcn_pack\.l([123])\.conv_offset', r'PCDModule.PCD_Align_L\1_dcn.conv_offset_mask'),
    (r'pcd_align\.dcn_pack\.l([123])', r'PCDModule.PCD_Align_L\1_dcn.dcn'),
    (r'pcd_align\.feat_conv\.l([12])', r'PCDModule.PCD_Align_L\1_fea_conv'),
    (r'pcd_align\.cas_offset_conv([12])', r'PCDModule.PCD_Align_cas_offset_conv\1'),
    (r'pcd_align\.cas_dcnpack\.conv_offset', 'PCDModule.PCD_Align_cascade_dcn.conv_offset_mask'),
    (r'pcd_align\.cas_dcnpack', 'PCDModule.PCD_Align_cascade_dcn.dcn'),
    (r'fusion\.temporal_attn1', 'TSAModule.tAtt_2'),   # reference-frame embedding
    (r'fusion\.temporal_attn2', 'TSAModule.tAtt_1'),   # every frame's embedding
    (r'fusion\.feat_fusion', 'TSAModule.fea_fusion'),
    (r'fusion\.spatial_attn([1-5])', r'TSAModule.sAtt_\1'),
    (r'fusion\.spatial_attn_l([123])', r'TSAModule.sAtt_L\1'),
    (r'fusion\.spatial_attn_add([12])', r'TSAModule.sAtt_add_\1'),
    (r'fusion', 'TSAModule'),                          # the 1x1 conv without TSA
    (r'reconstruction\.(\d+)\.(conv[12])', r'reconstructor.block\1.\2'),
    (r'upconv([12])', r'upconv\1'),
    (r'conv_hr', 'HRconv'),
    (r'conv_last', 'conv_last'),
]


def basicsr_state(obj, where):
    """The network state dict inside a BasicSR file (``params``, else ``params_ema``, else bare).

    Returns:
        (state dict, description of where it was found).
    """
    if not isinstance(obj, dict):
        raise WeightsError(f'{where}: expected a dict of tensors, got {type(obj).__name__}')
    for key in ('params', 'params_ema'):
        if key in obj:
            state, found = obj[key], f"'{key}'"
            break
    else:
        state, found = obj, 'the top level'
    if not isinstance(state, dict):
        raise WeightsError(f'{where}: {found} is a {type(state).__name__}, not a dict of tensors')
    if state and all(str(k).startswith('module.') for k in state):  # saved from DataParallel
        state = OrderedDict((str(k)[len('module.'):], v) for k, v in state.items())
    return state, found


def basicsr_to_paddle(state, where, source='BasicSR'):
    """Rename a BasicSR EDVR state dict to EDVRNet's keys (values unchanged)."""
    hr_in = 'predeblur.stride_conv_hr1.weight' in state
    rules = compile_rules(_predeblur_rules(hr_in) + RULES)
    return rename_keys(state, rules, where, source)
