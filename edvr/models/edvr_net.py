# SPDX-License-Identifier: Apache-2.0
"""EDVRNet: the EDVR video restoration network."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from edvr.errors import ConfigError, DataError
from edvr.models.blocks import LRELU_SLOPE, conv2d, make_residual_blocks, unflatten_frames
from edvr.models.pcd_align import PCDAlign
from edvr.models.predeblur import PredeblurResNetPyramid
from edvr.models.tsa_fusion import TSAFusion
from edvr.ops import pin_kernels
from edvr.registry import NETWORKS


@NETWORKS.register
class EDVRNet(nn.Layer):
    """Restore the centre frame of a short clip from all its frames.

    Frames go through feature extraction (optionally pre-deblurring), a 3-level
    feature pyramid, PCD alignment of every frame to the centre frame (all frames
    in one batched call), TSA fusion (or a 1x1 conv without TSA), residual
    reconstruction and two pixel-shuffle 2x upsamplings; the result is added to
    the bilinearly 4x-upsampled centre frame (to the centre frame with ``HR_in``).
    Parameter names equal PaddleGAN's, so its EDVR weights load unchanged.

    Paper: EDVR: Video Restoration with Enhanced Deformable Convolutional Networks
    (Wang et al., CVPRW 2019).

    Args:
        in_nf: input image channels.
        out_nf: output image channels.
        scale_factor: 4, or 1 with ``HR_in`` (the input is already full size).
        nf: feature channels; divisible by ``groups``.
        nframes: frames per clip.
        groups: deformable groups of the DCNs.
        front_RBs: residual blocks in feature extraction.
        back_RBs: residual blocks in reconstruction.
        center: index of the reference frame; None means ``nframes // 2``.
        predeblur: pre-deblur every frame with `PredeblurResNetPyramid`.
        HR_in: the input is at output resolution (needs ``predeblur``).
        w_TSA: fuse with `TSAFusion`; otherwise with a 1x1 conv.
        dcn_kernel: kernel of the deformable convolutions ('auto', 'paddle',
            'sampling', 'cpp'; see `edvr.ops.dcn`); None follows
            `set_dcn_kernel` / ``EDVR_DCN_KERNEL`` (default 'auto').
        conv_kernel: kernel of the plain convolutions ('auto', 'paddle', 'cpp', 'direct',
            'columns'; see `edvr.ops.conv`); None follows `set_conv_kernel` /
            ``EDVR_CONV_KERNEL`` (default 'auto').
    """

    def __init__(self, in_nf=3, out_nf=3, scale_factor=4, nf=64, nframes=5, groups=8,
                 front_RBs=5, back_RBs=10, center=None, predeblur=False, HR_in=False,
                 w_TSA=True, dcn_kernel=None, conv_kernel=None):
        super().__init__()
        _check_types(dict(in_nf=in_nf, out_nf=out_nf, scale_factor=scale_factor, nf=nf,
                          nframes=nframes, groups=groups, front_RBs=front_RBs,
                          back_RBs=back_RBs, center=center))
        self.center = nframes // 2 if center is None else center
        self.nframes = nframes
        self.predeblur = bool(predeblur)
        self.HR_in = bool(HR_in)
        self.w_TSA = bool(w_TSA)
        self.scale_factor = scale_factor
        _check_args(scale_factor, nf, nframes, groups, self.center, self.predeblur, self.HR_in)
        # LR frames must survive two (with HR_in four) halvings exactly.
        self.size_multiple = 16 if self.HR_in else 4

        if self.predeblur:
            self.pre_deblur = PredeblurResNetPyramid(in_nf, nf, HR_in=self.HR_in)
            self.cov_1 = conv2d(nf, nf, 1)
        else:
            self.conv_first = conv2d(in_nf, nf, 3, act=LRELU_SLOPE)
        self.feature_extractor = make_residual_blocks(front_RBs, nf)
        for level in (2, 3):
            setattr(self, f'fea_L{level}_conv1', conv2d(nf, nf, 3, stride=2, act=LRELU_SLOPE))
            setattr(self, f'fea_L{level}_conv2', conv2d(nf, nf, 3, act=LRELU_SLOPE))

        self.PCDModule = PCDAlign(nf, groups)
        if self.w_TSA:
            self.TSAModule = TSAFusion(nf, nframes, self.center)
        else:
            self.TSAModule = conv2d(nframes * nf, nf, 1)

        self.reconstructor = make_residual_blocks(back_RBs, nf)
        # The widths after the first pixel shuffle are fixed at 64 for any nf. The leaky
        # ReLU after each pixel shuffle is applied by the conv before it (it commutes with
        # the shuffle, a permutation).
        self.upconv1 = conv2d(nf, 4 * nf, 3, act=LRELU_SLOPE)
        self.upconv2 = conv2d(nf, 4 * 64, 3, act=LRELU_SLOPE)
        self.HRconv = conv2d(64, 64, 3, act=LRELU_SLOPE)
        self.conv_last = conv2d(64, out_nf, 3)
        pin_kernels(self, dcn_kernel, conv_kernel)

    def forward(self, x):
        """Restore the centre frame: `extract_features` of every frame, then
        `restore_from_features`.

        Args:
            x: frames (b, t, c, h, w) in [0, 1]; h and w divisible by `size_multiple`.

        Returns:
            Tensor (b, c, h * scale_factor, w * scale_factor).
        """
        pyramid = self.extract_features(x.flatten(0, 1))           # frames as (b*t, c, h, w)
        return self.restore_from_features(pyramid, x[:, self.center], x.shape[1])

    def extract_features(self, frames):
        """The per-frame stage: features (pre-deblurred with ``predeblur``) and their pyramid.

        Each frame's features depend on that frame alone, so they can be computed once
        and reused by every window that holds the frame.

        Args:
            frames: (n, c, h, w) single frames in [0, 1]; h and w divisible by `size_multiple`.

        Returns:
            [L1, L2, L3]: (n, nf, h', w'), (n, nf, h'/2, w'/2), (n, nf, h'/4, w'/4), where
            (h', w') is (h, w), or (h/4, w/4) with ``HR_in``.
        """
        if paddle.in_dynamic_mode():
            self._check_size(frames.shape[-2], frames.shape[-1])
        if self.predeblur:
            feat = self.cov_1(self.pre_deblur(frames))
        else:
            feat = self.conv_first(frames)
        pyramid = [self.feature_extractor(feat)]
        for level in (2, 3):
            feat = getattr(self, f'fea_L{level}_conv1')(pyramid[-1])
            pyramid.append(getattr(self, f'fea_L{level}_conv2')(feat))
        return pyramid

    def restore_from_features(self, pyramid, x_center, t):
        """The per-window stage: PCD alignment, fusion and reconstruction.

        Args:
            pyramid: `extract_features` of the window's frames, frame-major:
                [L1, L2, L3], each (b*t, nf, ...), sample i's frame j at i * t + j.
            x_center: the centre frames (b, c, h, w) in [0, 1].
            t: frames per window.

        Returns:
            Tensor (b, c, h * scale_factor, w * scale_factor).
        """
        refs = [unflatten_frames(level_feat, t)[:, self.center] for level_feat in pyramid]
        aligned = unflatten_frames(self.PCDModule(pyramid, refs, t), t)  # (b, t, nf, h, w)
        if self.w_TSA:
            feat = self.TSAModule(aligned)
        else:
            feat = self.TSAModule(aligned.flatten(1, 2))

        out = self.reconstructor(feat)
        out = self.upconv1.forward_shuffled(out)      # pixel_shuffle(upconv1(out), 2)
        out = self.upconv2.forward_shuffled(out)
        if self.HR_in:
            base = x_center
        else:
            base = F.interpolate(x_center, scale_factor=4, mode='bilinear',
                                 align_corners=False, align_mode=0)
        return self.conv_last.forward_residual(self.HRconv(out), base)   # conv_last(.) + base

    def _check_size(self, h, w):
        if h % self.size_multiple or w % self.size_multiple:
            raise DataError(f'EDVRNet input frames are {h}x{w}; height and width must be '
                            f'divisible by {self.size_multiple} (pad the frames)')

    def get_dcn_offset_mean(self):
        """Mean absolute DCN offset of the last training-mode forward, or None."""
        values = [layer.last_offset_abs_mean for layer in self.PCDModule.dcn_layers()
                  if layer.last_offset_abs_mean is not None]
        if not values:
            return None
        return float(paddle.stack(values).mean())


# argument -> smallest allowed value (all whole numbers; center may be None)
_LOWEST = dict(in_nf=1, out_nf=1, scale_factor=1, nf=1, nframes=1, groups=1, front_RBs=0,
               back_RBs=0, center=0)


def _check_types(args):
    """Raise ConfigError naming the first argument that is not a whole number in range."""
    for name, value in args.items():
        if value is None and name == 'center':
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < _LOWEST[name] \
                or value > 4096:
            raise ConfigError(f'EDVRNet: {name}={value!r}; expected a whole number from '
                              f'{_LOWEST[name]} to 4096')


def _check_args(scale_factor, nf, nframes, groups, center, predeblur, hr_in):
    """Raise ConfigError for a combination EDVRNet cannot build or run."""
    if hr_in and not predeblur:
        raise ConfigError('EDVRNet: HR_in=True needs predeblur=True')
    expected = 1 if hr_in else 4
    if scale_factor != expected:
        raise ConfigError(f'EDVRNet: scale_factor={scale_factor} is not supported with '
                          f'HR_in={hr_in}; expected {expected}')
    if nf % groups:
        raise ConfigError(f'EDVRNet: nf={nf} must be divisible by groups={groups}')
    if not 0 <= center < nframes:
        raise ConfigError(f'EDVRNet: center={center} must lie in [0, {nframes - 1}] '
                          f'for nframes={nframes}')
