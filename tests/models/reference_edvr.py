# SPDX-License-Identifier: Apache-2.0
"""The straightforward EDVR, kept as the reference for speed and equivalence.

Written the way the tutorials write it: Paddle's own `nn.Conv2D` and
`paddle.vision.ops.DeformConv2D`, one PCD call per neighbour frame, and the
temporal correlation in a Python loop over frames. Its state_dict keys equal
`edvr.models.edvr_net.EDVRNet`'s (PaddleGAN's names), so
``reference.set_state_dict(ours.state_dict())`` runs both on the same weights.
Covers the SR networks (``predeblur=False``) that the benchmark and the
equivalence tests use.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle.vision.ops import DeformConv2D


def _lrelu(x):
    return F.leaky_relu(x, negative_slope=0.1)


def _up2(x):
    return F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False, align_mode=0)


def _conv(in_nf, out_nf, k=3, stride=1):
    return nn.Conv2D(in_nf, out_nf, k, stride=stride, padding=k // 2)


class ReferenceResBlock(nn.Layer):
    def __init__(self, nf):
        super().__init__()
        self.conv1 = _conv(nf, nf)
        self.conv2 = _conv(nf, nf)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(x)))


def _blocks(n, nf):
    seq = nn.Sequential()
    for i in range(n):
        seq.add_sublayer(f'block{i}', ReferenceResBlock(nf))
    return seq


class ReferenceDCNPack(nn.Layer):
    def __init__(self, nf, groups):
        super().__init__()
        self.conv_offset_mask = _conv(nf, 3 * groups * 9)
        self.dcn = DeformConv2D(nf, nf, 3, padding=1, deformable_groups=groups)
        self.groups = groups

    def forward(self, x, feat):
        out = self.conv_offset_mask(feat)
        offset, mask = out[:, :18 * self.groups], F.sigmoid(out[:, 18 * self.groups:])
        return self.dcn(x, offset, mask)


class ReferencePCD(nn.Layer):
    def __init__(self, nf, groups):
        super().__init__()
        for level in (3, 2, 1):
            name = f'PCD_Align_L{level}_'
            setattr(self, name + 'offset_conv1', _conv(2 * nf, nf))
            setattr(self, name + 'offset_conv2', _conv(nf if level == 3 else 2 * nf, nf))
            if level < 3:
                setattr(self, name + 'offset_conv3', _conv(nf, nf))
            setattr(self, name + 'dcn', ReferenceDCNPack(nf, groups))
            if level < 3:
                setattr(self, name + 'fea_conv', _conv(2 * nf, nf))
        self.PCD_Align_cas_offset_conv1 = _conv(2 * nf, nf)
        self.PCD_Align_cas_offset_conv2 = _conv(nf, nf)
        self.PCD_Align_cascade_dcn = ReferenceDCNPack(nf, groups)

    def forward(self, nbr, ref):
        """One neighbour frame: nbr/ref are [L1, L2, L3] features of (b, nf, h, w) sizes."""
        l3_off = _lrelu(self.PCD_Align_L3_offset_conv1(paddle.concat([nbr[2], ref[2]], 1)))
        l3_off = _lrelu(self.PCD_Align_L3_offset_conv2(l3_off))
        l3_fea = _lrelu(self.PCD_Align_L3_dcn(nbr[2], l3_off))

        l2_off = _lrelu(self.PCD_Align_L2_offset_conv1(paddle.concat([nbr[1], ref[1]], 1)))
        l2_off = _lrelu(self.PCD_Align_L2_offset_conv2(
            paddle.concat([l2_off, _up2(l3_off) * 2], 1)))
        l2_off = _lrelu(self.PCD_Align_L2_offset_conv3(l2_off))
        l2_fea = self.PCD_Align_L2_dcn(nbr[1], l2_off)
        l2_fea = _lrelu(self.PCD_Align_L2_fea_conv(paddle.concat([l2_fea, _up2(l3_fea)], 1)))

        l1_off = _lrelu(self.PCD_Align_L1_offset_conv1(paddle.concat([nbr[0], ref[0]], 1)))
        l1_off = _lrelu(self.PCD_Align_L1_offset_conv2(
            paddle.concat([l1_off, _up2(l2_off) * 2], 1)))
        l1_off = _lrelu(self.PCD_Align_L1_offset_conv3(l1_off))
        l1_fea = self.PCD_Align_L1_dcn(nbr[0], l1_off)
        l1_fea = self.PCD_Align_L1_fea_conv(paddle.concat([l1_fea, _up2(l2_fea)], 1))

        off = _lrelu(self.PCD_Align_cas_offset_conv1(paddle.concat([l1_fea, ref[0]], 1)))
        off = _lrelu(self.PCD_Align_cas_offset_conv2(off))
        return _lrelu(self.PCD_Align_cascade_dcn(l1_fea, off))


class ReferenceTSA(nn.Layer):
    def __init__(self, nf, nframes, center):
        super().__init__()
        self.center = center
        self.tAtt_2 = _conv(nf, nf)
        self.tAtt_1 = _conv(nf, nf)
        self.fea_fusion = _conv(nframes * nf, nf, 1)
        self.sAtt_1 = _conv(nframes * nf, nf, 1)
        self.sAtt_2 = _conv(2 * nf, nf, 1)
        self.sAtt_3 = _conv(nf, nf)
        self.sAtt_4 = _conv(nf, nf, 1)
        self.sAtt_5 = _conv(nf, nf)
        self.sAtt_add_1 = _conv(nf, nf, 1)
        self.sAtt_add_2 = _conv(nf, nf, 1)
        self.sAtt_L1 = _conv(nf, nf, 1)
        self.sAtt_L2 = _conv(2 * nf, nf)
        self.sAtt_L3 = _conv(nf, nf)
        self.max_pool = nn.MaxPool2D(3, stride=2, padding=1)
        self.avg_pool = nn.AvgPool2D(3, stride=2, padding=1, exclusive=False)

    def forward(self, aligned):
        b, n, c, h, w = aligned.shape
        emb_ref = self.tAtt_2(aligned[:, self.center])
        emb = self.tAtt_1(aligned.reshape([-1, c, h, w])).reshape([b, n, -1, h, w])
        cor = []
        for i in range(n):
            cor.append(paddle.sum(emb[:, i] * emb_ref, 1).unsqueeze(1))
        cor_prob = F.sigmoid(paddle.concat(cor, 1))                       # (b, n, h, w)
        cor_prob = cor_prob.unsqueeze(2).expand([b, n, c, h, w]).reshape([b, -1, h, w])
        aligned = aligned.reshape([b, -1, h, w]) * cor_prob

        fea = _lrelu(self.fea_fusion(aligned))
        att = _lrelu(self.sAtt_1(aligned))
        att = _lrelu(self.sAtt_2(paddle.concat([self.max_pool(att), self.avg_pool(att)], 1)))
        att_l = _lrelu(self.sAtt_L1(att))
        att_l = _lrelu(self.sAtt_L2(paddle.concat([self.max_pool(att_l),
                                                   self.avg_pool(att_l)], 1)))
        att_l = _up2(_lrelu(self.sAtt_L3(att_l)))
        att = _lrelu(self.sAtt_3(att)) + att_l
        att = _up2(_lrelu(self.sAtt_4(att)))
        att = self.sAtt_5(att)
        att_add = self.sAtt_add_2(_lrelu(self.sAtt_add_1(att)))
        return fea * F.sigmoid(att) * 2 + att_add


class ReferenceEDVR(nn.Layer):
    """Straightforward EDVR (SR, ``predeblur=False``): (b, t, 3, h, w) -> (b, 3, 4h, 4w)."""

    def __init__(self, in_nf=3, out_nf=3, nf=64, nframes=5, groups=8, front_RBs=5,
                 back_RBs=10, center=None, w_TSA=True):
        super().__init__()
        self.center = nframes // 2 if center is None else center
        self.w_TSA = w_TSA
        self.conv_first = _conv(in_nf, nf)
        self.feature_extractor = _blocks(front_RBs, nf)
        self.fea_L2_conv1 = _conv(nf, nf, 3, 2)
        self.fea_L2_conv2 = _conv(nf, nf)
        self.fea_L3_conv1 = _conv(nf, nf, 3, 2)
        self.fea_L3_conv2 = _conv(nf, nf)
        self.PCDModule = ReferencePCD(nf, groups)
        self.TSAModule = ReferenceTSA(nf, nframes, self.center) if w_TSA else \
            _conv(nframes * nf, nf, 1)
        self.reconstructor = _blocks(back_RBs, nf)
        self.upconv1 = _conv(nf, 4 * nf)
        self.upconv2 = _conv(nf, 4 * 64)
        self.HRconv = _conv(64, 64)
        self.conv_last = _conv(64, out_nf)

    def forward(self, x):
        b, n, c, h, w = x.shape
        x_center = x[:, self.center]
        l1 = _lrelu(self.conv_first(x.reshape([-1, c, h, w])))
        l1 = self.feature_extractor(l1)
        l2 = _lrelu(self.fea_L2_conv2(_lrelu(self.fea_L2_conv1(l1))))
        l3 = _lrelu(self.fea_L3_conv2(_lrelu(self.fea_L3_conv1(l2))))
        l1 = l1.reshape([b, n, -1, h, w])
        l2 = l2.reshape([b, n, -1, h // 2, w // 2])
        l3 = l3.reshape([b, n, -1, h // 4, w // 4])

        ref = [l1[:, self.center], l2[:, self.center], l3[:, self.center]]
        aligned = []
        for i in range(n):
            aligned.append(self.PCDModule([l1[:, i], l2[:, i], l3[:, i]], ref))
        aligned = paddle.stack(aligned, axis=1)                            # (b, n, nf, h, w)
        if self.w_TSA:
            fea = self.TSAModule(aligned)
        else:
            fea = self.TSAModule(aligned.reshape([b, -1, h, w]))

        out = self.reconstructor(fea)
        out = _lrelu(F.pixel_shuffle(self.upconv1(out), 2))
        out = _lrelu(F.pixel_shuffle(self.upconv2(out), 2))
        out = self.conv_last(_lrelu(self.HRconv(out)))
        base = F.interpolate(x_center, scale_factor=4, mode='bilinear', align_corners=False,
                             align_mode=0)
        return out + base
