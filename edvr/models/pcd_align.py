# SPDX-License-Identifier: Apache-2.0
"""PCD alignment: Pyramid, Cascading and Deformable convolution."""
import paddle.nn as nn

from edvr.models.blocks import LRELU_SLOPE, DCNPack, conv2d, lrelu, upsample2x


class PCDAlign(nn.Layer):
    """Align neighbour-frame features to the reference frame over a 3-level pyramid.

    From the coarsest level L3 (1/4 size) to L1 (full size), each level predicts
    DCN offsets from the neighbour and reference features plus the 2x-upsampled
    offsets of the level below, aligns with a `DCNPack`, and merges the upsampled
    aligned features of the level below. A final cascading DCN refines L1.

    Any number of frames is aligned in one call: stack them in the batch axis, with
    the reference features either repeated to match or given once per ``repeats``
    consecutive frames.

    Paper: EDVR: Video Restoration with Enhanced Deformable Convolutional Networks
    (Wang et al., CVPRW 2019).

    Args:
        nf: feature channels.
        groups: deformable groups of each DCN.
    """

    def __init__(self, nf=64, groups=8):
        super().__init__()
        for level in (3, 2, 1):
            name = f'PCD_Align_L{level}_'
            setattr(self, name + 'offset_conv1', conv2d(2 * nf, nf, act=LRELU_SLOPE))
            if level == 3:
                setattr(self, name + 'offset_conv2', conv2d(nf, nf, act=LRELU_SLOPE))
            else:
                setattr(self, name + 'offset_conv2', conv2d(2 * nf, nf, act=LRELU_SLOPE))
                setattr(self, name + 'offset_conv3', conv2d(nf, nf, act=LRELU_SLOPE))
            setattr(self, name + 'dcn', DCNPack(nf, 3, deformable_groups=groups))
            if level < 3:
                setattr(self, name + 'fea_conv', conv2d(2 * nf, nf))
        self.PCD_Align_cas_offset_conv1 = conv2d(2 * nf, nf, act=LRELU_SLOPE)
        self.PCD_Align_cas_offset_conv2 = conv2d(nf, nf, act=LRELU_SLOPE)
        self.PCD_Align_cascade_dcn = DCNPack(nf, 3, deformable_groups=groups)

    def _layer(self, level, name):
        return getattr(self, f'PCD_Align_L{level}_{name}')

    def forward(self, nbr_feats, ref_feats, repeats=1):
        """Align.

        Args:
            nbr_feats: neighbour features [L1, L2, L3], shapes (n, nf, h, w),
                (n, nf, h/2, w/2), (n, nf, h/4, w/4).
            ref_feats: reference features, the same shapes with n / repeats samples.
            repeats: consecutive neighbour samples that share one reference sample.

        Returns:
            Aligned features (n, nf, h, w).
        """
        up_offset = up_feat = None
        for level in (3, 2, 1):
            nbr = nbr_feats[level - 1]
            convs = [self._layer(level, 'offset_conv1'), self._layer(level, 'offset_conv2')]
            if level < 3:
                convs.append(self._layer(level, 'offset_conv3'))
            offset = self._offset(convs, nbr, ref_feats[level - 1], repeats, up_offset)
            feat = self._layer(level, 'dcn')(nbr, offset)
            if up_feat is not None:
                feat = self._layer(level, 'fea_conv').forward_pair(feat, up_feat)
            if level > 1:
                feat = lrelu(feat)
                up_offset, up_feat = upsample2x(offset, 2.0), upsample2x(feat)  # offsets doubled

        convs = [self.PCD_Align_cas_offset_conv1, self.PCD_Align_cas_offset_conv2]
        offset = self._offset(convs, feat, ref_feats[0], repeats)
        return lrelu(self.PCD_Align_cascade_dcn(feat, offset))

    @staticmethod
    def _offset(convs, nbr, ref, repeats, up_offset=None):
        """DCN offset features: ``convs[0]`` on ``concat([nbr, ref])``, then the other
        convs, with the level below's doubled upsampled offsets ``up_offset`` (if any)
        concatenated after the first."""
        offset = convs[0].forward_concat(nbr, ref, repeats)   # ref shared by `repeats` nbrs
        rest = convs[1:]
        if up_offset is not None:
            offset, rest = rest[0].forward_pair(offset, up_offset), rest[1:]
        for conv in rest:
            offset = conv(offset)
        return offset

    def dcn_layers(self):
        """The four `DCNPack` layers, coarse to fine, then the cascading one."""
        return [self._layer(level, 'dcn') for level in (3, 2, 1)] + [self.PCD_Align_cascade_dcn]
