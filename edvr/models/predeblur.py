# SPDX-License-Identifier: Apache-2.0
"""Pre-deblurring pyramid applied to every frame before alignment."""
import paddle.nn as nn

from edvr.models.blocks import LRELU_SLOPE, ResidualBlockNoBN, conv2d, upsample2x


class PredeblurResNetPyramid(nn.Layer):
    """A three-level residual pyramid that removes blur from single frames.

    With ``HR_in`` the input is at full resolution and two stride-2 convs bring
    it to 1/4 size first, so the output is (n, nf, h/4, w/4).

    Paper: EDVR: Video Restoration with Enhanced Deformable Convolutional Networks
    (Wang et al., CVPRW 2019).

    Args:
        in_nf: input image channels.
        nf: feature channels.
        HR_in: whether the input is at high (4x) resolution.
    """

    def __init__(self, in_nf=3, nf=64, HR_in=False):
        super().__init__()
        self.HR_in = bool(HR_in)
        if self.HR_in:
            self.conv_first_1 = conv2d(in_nf, nf, 3, act=LRELU_SLOPE)
            self.conv_first_2 = conv2d(nf, nf, 3, stride=2, act=LRELU_SLOPE)
            self.conv_first_3 = conv2d(nf, nf, 3, stride=2, act=LRELU_SLOPE)
        else:
            self.conv_first = conv2d(in_nf, nf, 3, act=LRELU_SLOPE)
        for name in ('L1_1', 'L1_2', 'L1_3', 'L1_4', 'L1_5', 'L2_1', 'L2_2', 'L3_1'):
            setattr(self, 'RB_' + name, ResidualBlockNoBN(nf))
        self.deblur_L2_conv = conv2d(nf, nf, 3, stride=2, act=LRELU_SLOPE)
        self.deblur_L3_conv = conv2d(nf, nf, 3, stride=2, act=LRELU_SLOPE)

    def forward(self, x):
        """(n, in_nf, h, w) -> (n, nf, h, w), or (n, nf, h/4, w/4) with ``HR_in``."""
        if self.HR_in:
            l1 = self.conv_first_3(self.conv_first_2(self.conv_first_1(x)))
        else:
            l1 = self.conv_first(x)
        l2 = self.deblur_L2_conv(l1)
        l3 = self.deblur_L3_conv(l2)
        l3 = upsample2x(self.RB_L3_1(l3))
        l2 = self.RB_L2_2(self.RB_L2_1(l2) + l3)
        l1 = self.RB_L1_2(self.RB_L1_1(l1)) + upsample2x(l2)
        return self.RB_L1_5(self.RB_L1_4(self.RB_L1_3(l1)))
