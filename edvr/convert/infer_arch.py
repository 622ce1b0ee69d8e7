# SPDX-License-Identifier: Apache-2.0
"""Read EDVRNet's constructor arguments off the shapes of its weights (PaddleGAN names)."""
import re

from edvr.errors import WeightsError

# What every EDVRNet state dict has, whatever the variant.
_REQUIRED = ('PCDModule.PCD_Align_L1_dcn.conv_offset_mask.weight',
             'PCDModule.PCD_Align_L1_dcn.dcn.weight', 'conv_last.weight', 'upconv1.weight')


def _count_blocks(state, prefix, where):
    """Number of residual blocks ``prefix.block{i}``; they must be numbered 0..n-1."""
    found = {int(m.group(1)) for k in state
             if (m := re.match(re.escape(prefix) + r'\.block(\d+)\.', k))}
    if found != set(range(len(found))):
        raise WeightsError(f'{where}: residual blocks of {prefix} are numbered '
                           f'{sorted(found)}, expected 0..{len(found) - 1}')
    return len(found)


def infer_edvr_args(state, where):
    """EDVRNet arguments (PaddleGAN's config names) that fit ``state``.

    Args:
        state: dict of EDVRNet key -> array (PaddleGAN names).
        where: file path for messages.

    Returns:
        dict with in_nf, out_nf, scale_factor, nf, nframes, groups, front_RBs,
        back_RBs, center, predeblur, HR_in, w_TSA. ``center`` is not stored in
        weights; it is the middle frame, as in every published EDVR model.

    Raises:
        WeightsError: a key that every EDVR has is missing, or shapes disagree.
    """
    missing = [k for k in _REQUIRED if k not in state]
    predeblur = any(k.startswith('pre_deblur.') for k in state)
    hr_in = 'pre_deblur.conv_first_1.weight' in state
    first = ('pre_deblur.conv_first_1.weight' if hr_in else
             'pre_deblur.conv_first.weight' if predeblur else 'conv_first.weight')
    w_tsa = 'TSAModule.tAtt_1.weight' in state
    fusion = 'TSAModule.fea_fusion.weight' if w_tsa else 'TSAModule.weight'
    missing += [k for k in (first, fusion) if k not in state]
    if missing:
        raise WeightsError(f'{where}: not an EDVR checkpoint (no {", ".join(missing)})')

    nf, in_nf = state[first].shape[:2]
    dcn_weight = state['PCDModule.PCD_Align_L1_dcn.dcn.weight'].shape
    taps = int(dcn_weight[2]) * int(dcn_weight[3])
    offset_channels = state['PCDModule.PCD_Align_L1_dcn.conv_offset_mask.weight'].shape[0]
    if offset_channels % (3 * taps):
        raise WeightsError(f'{where}: DCN offset conv has {offset_channels} outputs, '
                           f'not a multiple of 3 x {taps} taps')
    fused_in = state[fusion].shape[1]
    if fused_in % nf:
        raise WeightsError(f'{where}: {fusion} takes {fused_in} channels, not a multiple '
                           f'of nf={nf}')
    nframes = int(fused_in // nf)
    return dict(in_nf=int(in_nf), out_nf=int(state['conv_last.weight'].shape[0]),
                scale_factor=1 if hr_in else 4, nf=int(nf), nframes=nframes,
                groups=int(offset_channels // (3 * taps)),
                front_RBs=_count_blocks(state, 'feature_extractor', where),
                back_RBs=_count_blocks(state, 'reconstructor', where),
                center=nframes // 2, predeblur=predeblur, HR_in=hr_in, w_TSA=w_tsa)
