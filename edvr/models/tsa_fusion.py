# SPDX-License-Identifier: Apache-2.0
"""TSA fusion: Temporal and Spatial Attention over aligned frame features."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from edvr.models.blocks import LRELU_SLOPE, conv2d, unflatten_frames, upsample2x


def _pool_pair(x):
    """Max- and average-pool (3x3, stride 2) side by side: (n, c, h, w) -> (n, 2c, h/2, w/2)."""
    x_max = F.max_pool2d(x, 3, stride=2, padding=1)
    x_avg = F.avg_pool2d(x, 3, stride=2, padding=1, exclusive=False)
    return paddle.concat([x_max, x_avg], 1)


class TSAFusion(nn.Layer):
    """Fuse aligned frames into one feature map.

    Temporal attention weights every frame, per pixel, by the sigmoid of its
    embedding's correlation with the centre frame's embedding. The weighted
    frames are fused by a 1x1 conv and modulated by a spatial attention mask
    computed on a two-level pyramid.

    Paper: EDVR: Video Restoration with Enhanced Deformable Convolutional Networks
    (Wang et al., CVPRW 2019).

    Args:
        nf: feature channels.
        nframes: number of frames.
        center: index of the reference frame.
    """

    def __init__(self, nf=64, nframes=5, center=2):
        super().__init__()
        self.center = center
        act = LRELU_SLOPE
        self.tAtt_2 = conv2d(nf, nf, 3)
        self.tAtt_1 = conv2d(nf, nf, 3)
        self.fea_fusion = conv2d(nframes * nf, nf, 1, act=act)
        self.sAtt_1 = conv2d(nframes * nf, nf, 1, act=act)
        self.sAtt_2 = conv2d(2 * nf, nf, 1, act=act)
        self.sAtt_3 = conv2d(nf, nf, 3, act=act)
        self.sAtt_4 = conv2d(nf, nf, 1, act=act)
        self.sAtt_5 = conv2d(nf, nf, 3)
        self.sAtt_add_1 = conv2d(nf, nf, 1, act=act)
        self.sAtt_add_2 = conv2d(nf, nf, 1)
        self.sAtt_L1 = conv2d(nf, nf, 1, act=act)
        self.sAtt_L2 = conv2d(2 * nf, nf, 3, act=act)
        self.sAtt_L3 = conv2d(nf, nf, 3, act=act)

    def forward(self, aligned):
        """Fuse.

        Args:
            aligned: aligned features (b, t, nf, h, w).

        Returns:
            Fused features (b, nf, h, w).
        """
        weighted = self.temporal_attention(aligned)                    # (b, t*nf, h, w)
        fea = self.fea_fusion(weighted)

        att = self.sAtt_1(weighted)
        att = self.sAtt_2(_pool_pair(att))                    # 1/2 size
        att_l = self.sAtt_L1(att)
        att_l = self.sAtt_L2(_pool_pair(att_l))               # 1/4 size
        att_l = upsample2x(self.sAtt_L3(att_l))
        att = self.sAtt_3(att) + att_l
        att = upsample2x(self.sAtt_4(att))
        att = self.sAtt_5(att)
        att_add = self.sAtt_add_2(self.sAtt_add_1(att))
        return fea * F.sigmoid(att) * 2 + att_add

    def temporal_attention(self, aligned):
        """Weight each frame by its per-pixel correlation with the centre frame.

        Args:
            aligned: aligned features (b, t, nf, h, w).

        Returns:
            The weighted frames concatenated along channels, (b, t * nf, h, w).
        """
        t = aligned.shape[1]
        emb_ref = self.tAtt_2(aligned[:, self.center])                  # (b, nf, h, w)
        emb = unflatten_frames(self.tAtt_1(aligned.flatten(0, 1)), t)  # (b, t, nf, h, w)
        corr = (emb * emb_ref.unsqueeze(1)).sum(axis=2, keepdim=True)  # (b, t, 1, h, w)
        return (aligned * F.sigmoid(corr)).flatten(1, 2)
