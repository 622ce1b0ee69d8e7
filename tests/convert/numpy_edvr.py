# SPDX-License-Identifier: Apache-2.0
"""BasicSR's EDVR forward pass in numpy (float64), reading BasicSR-named weights.

Follows ``basicsr/archs/edvr_arch.py`` and the operators it calls, written from
their definitions:

* modulated deformable conv as torchvision's ``deform_conv2d`` / mmcv's kernel
  define it: for group g and tap k = i*3 + j, offset channel 2*(g*9 + k) is the
  vertical shift, 2*(g*9 + k) + 1 the horizontal one, mask channel g*9 + k;
  samples outside (-1, size) read 0, otherwise bilinear over the in-image
  corners; the DCN pack's conv output is chunked in three (o1, o2, mask),
  offset = cat(o1, o2), mask = sigmoid;
* TSA: ``temporal_attn1`` embeds the centre frame, ``temporal_attn2`` every
  frame;
* ``nn.Upsample(bilinear, align_corners=False)``, ``MaxPool2d(3, 2, 1)``,
  ``AvgPool2d(3, 2, 1)`` (padding counted), ``PixelShuffle``.
"""
import numpy as np


def conv(x, w, b, stride=1):
    """(n, c, h, w) * (o, c, k, k) with 'same' padding k//2."""
    k = w.shape[-1]
    p = k // 2
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = (h + 2 * p - k) // stride + 1, (wd + 2 * p - k) // stride + 1
    cols = np.empty((n, c, k, k, ho, wo))
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
    out = np.tensordot(cols, w.astype(np.float64), axes=([1, 2, 3], [1, 2, 3]))
    return out.transpose(0, 3, 1, 2) + b.astype(np.float64)[None, :, None, None]


def lrelu(x):
    return np.where(x >= 0, x, 0.1 * x)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def upsample(x, scale=2):
    """Bilinear, align_corners=False (source = (dst + 0.5) / scale - 0.5, clamped at 0)."""
    for axis in (2, 3):
        size = x.shape[axis]
        src = np.maximum((np.arange(size * scale) + 0.5) / scale - 0.5, 0)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, size - 1)
        lam = src - i0
        shape = [1, 1, 1, 1]
        shape[axis] = -1
        x = np.take(x, i0, axis) * (1 - lam).reshape(shape) + np.take(x, i1, axis) * lam.reshape(shape)
    return x


def pixel_shuffle(x, r=2):
    n, c, h, w = x.shape
    return x.reshape(n, c // (r * r), r, r, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(
        n, c // (r * r), h * r, w * r)


def _pool_windows(x, pad_value):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=pad_value)
    ho, wo = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    return np.stack([xp[:, :, i:i + 2 * ho:2, j:j + 2 * wo:2] for i in range(3) for j in range(3)])


def max_pool(x):
    return _pool_windows(x, -np.inf).max(0)


def avg_pool(x):
    return _pool_windows(x, 0.0).sum(0) / 9.0


def bilinear_zero(img, y, x):
    """Sample img (n, c, h, w) at (y, x) (n, ho, wo) as the DCNv2 kernels do -> (n, c, ho, wo)."""
    n, c, h, w = img.shape
    inside = (y > -1) & (y < h) & (x > -1) & (x < w)
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    ly, lx = y - y0, x - x0
    out = np.zeros((n, c) + y.shape[1:])
    batch = np.arange(n)[:, None, None]
    for dy, dx, weight in ((0, 0, (1 - ly) * (1 - lx)), (0, 1, (1 - ly) * lx),
                           (1, 0, ly * (1 - lx)), (1, 1, ly * lx)):
        yy, xx = y0 + dy, x0 + dx
        valid = inside & (yy >= 0) & (yy <= h - 1) & (xx >= 0) & (xx <= w - 1)
        values = img[batch, :, np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]  # (n, ho, wo, c)
        out += (values * (weight * valid)[..., None]).transpose(0, 3, 1, 2)
    return out


def modulated_deform_conv(x, offset, mask, w, b, groups):
    """3x3, stride 1, padding 1 DCNv2 with the torchvision / mmcv channel layout."""
    n, c, h, wd = x.shape
    cg = c // groups
    ys, xs = np.meshgrid(np.arange(h), np.arange(wd), indexing='ij')
    cols = np.zeros((n, c, 9, h, wd))
    for g in range(groups):
        for k in range(9):
            i, j = divmod(k, 3)
            py = ys - 1 + i + offset[:, 2 * (g * 9 + k)]
            px = xs - 1 + j + offset[:, 2 * (g * 9 + k) + 1]
            cols[:, g * cg:(g + 1) * cg, k] = bilinear_zero(x[:, g * cg:(g + 1) * cg], py, px) \
                * mask[:, g * 9 + k][:, None]
    out = np.tensordot(cols, w.reshape(w.shape[0], c, 9).astype(np.float64), axes=([1, 2], [1, 2]))
    return out.transpose(0, 3, 1, 2) + b.astype(np.float64)[None, :, None, None]


class BasicSREDVR:
    """``EDVR.forward`` of BasicSR on BasicSR-named weights ``p`` (dict name -> array)."""

    def __init__(self, p, arch):
        self.p, self.arch = p, arch
        center = arch.get('center')
        self.center = arch['nframes'] // 2 if center is None else center

    def c(self, name, x, stride=1):
        return conv(x, self.p[f'{name}.weight'], self.p[f'{name}.bias'], stride)

    def resblock(self, name, x):
        return x + self.c(f'{name}.conv2', np.maximum(self.c(f'{name}.conv1', x), 0))

    def dcn_pack(self, name, x, feat):
        out = self.c(f'{name}.conv_offset', feat)
        o1, o2, mask = np.split(out, 3, axis=1)
        return modulated_deform_conv(x, np.concatenate([o1, o2], 1), sigmoid(mask),
                                     self.p[f'{name}.weight'], self.p[f'{name}.bias'],
                                     self.arch['groups'])

    def pcd(self, nbr, ref):
        up_offset = up_feat = None
        for i in (3, 2, 1):
            lv = f'l{i}'
            offset = lrelu(self.c(f'pcd_align.offset_conv1.{lv}',
                                  np.concatenate([nbr[i - 1], ref[i - 1]], 1)))
            if i == 3:
                offset = lrelu(self.c(f'pcd_align.offset_conv2.{lv}', offset))
            else:
                offset = lrelu(self.c(f'pcd_align.offset_conv2.{lv}',
                                      np.concatenate([offset, up_offset], 1)))
                offset = lrelu(self.c(f'pcd_align.offset_conv3.{lv}', offset))
            feat = self.dcn_pack(f'pcd_align.dcn_pack.{lv}', nbr[i - 1], offset)
            if i < 3:
                feat = self.c(f'pcd_align.feat_conv.{lv}', np.concatenate([feat, up_feat], 1))
            if i > 1:
                feat = lrelu(feat)
                up_offset, up_feat = upsample(offset) * 2, upsample(feat)
        offset = lrelu(self.c('pcd_align.cas_offset_conv1', np.concatenate([feat, ref[0]], 1)))
        offset = lrelu(self.c('pcd_align.cas_offset_conv2', offset))
        return lrelu(self.dcn_pack('pcd_align.cas_dcnpack', feat, offset))

    def tsa(self, aligned):
        """aligned (b, t, c, h, w) -> (b, c, h, w)."""
        b, t, c, h, w = aligned.shape
        emb_ref = self.c('fusion.temporal_attn1', aligned[:, self.center])
        emb = self.c('fusion.temporal_attn2', aligned.reshape(-1, c, h, w)).reshape(b, t, c, h, w)
        corr = sigmoid((emb * emb_ref[:, None]).sum(2))                      # (b, t, h, w)
        weighted = (aligned * corr[:, :, None]).reshape(b, t * c, h, w)
        feat = lrelu(self.c('fusion.feat_fusion', weighted))
        attn = lrelu(self.c('fusion.spatial_attn1', weighted))
        attn = lrelu(self.c('fusion.spatial_attn2', np.concatenate([max_pool(attn), avg_pool(attn)], 1)))
        level = lrelu(self.c('fusion.spatial_attn_l1', attn))
        level = lrelu(self.c('fusion.spatial_attn_l2',
                             np.concatenate([max_pool(level), avg_pool(level)], 1)))
        level = upsample(lrelu(self.c('fusion.spatial_attn_l3', level)))
        attn = lrelu(self.c('fusion.spatial_attn3', attn)) + level
        attn = upsample(lrelu(self.c('fusion.spatial_attn4', attn)))
        attn = self.c('fusion.spatial_attn5', attn)
        attn_add = self.c('fusion.spatial_attn_add2', lrelu(self.c('fusion.spatial_attn_add1', attn)))
        return feat * sigmoid(attn) * 2 + attn_add

    def predeblur(self, x):
        l1 = lrelu(self.c('predeblur.conv_first', x))
        if self.arch['HR_in']:
            l1 = lrelu(self.c('predeblur.stride_conv_hr1', l1, 2))
            l1 = lrelu(self.c('predeblur.stride_conv_hr2', l1, 2))
        l2 = lrelu(self.c('predeblur.stride_conv_l2', l1, 2))
        l3 = lrelu(self.c('predeblur.stride_conv_l3', l2, 2))
        l3 = upsample(self.resblock('predeblur.resblock_l3', l3))
        l2 = self.resblock('predeblur.resblock_l2_1', l2) + l3
        l2 = upsample(self.resblock('predeblur.resblock_l2_2', l2))
        for i in range(2):
            l1 = self.resblock(f'predeblur.resblock_l1.{i}', l1)
        l1 = l1 + l2
        for i in range(2, 5):
            l1 = self.resblock(f'predeblur.resblock_l1.{i}', l1)
        return l1

    def __call__(self, x):
        """x (b, t, c, h, w) in float64 -> (b, c, H, W)."""
        x = x.astype(np.float64)
        b, t, c, h, w = x.shape
        flat = x.reshape(-1, c, h, w)
        if self.arch['predeblur']:
            l1 = self.c('conv_1x1', self.predeblur(flat))
        else:
            l1 = lrelu(self.c('conv_first', flat))
        for i in range(self.arch['front_RBs']):
            l1 = self.resblock(f'feature_extraction.{i}', l1)
        l2 = lrelu(self.c('conv_l2_2', lrelu(self.c('conv_l2_1', l1, 2))))
        l3 = lrelu(self.c('conv_l3_2', lrelu(self.c('conv_l3_1', l2, 2))))
        levels = [f.reshape((b, t) + f.shape[1:]) for f in (l1, l2, l3)]
        ref = [f[:, self.center] for f in levels]
        aligned = np.stack([self.pcd([f[:, i] for f in levels], ref) for i in range(t)], 1)
        if self.arch['w_TSA']:
            feat = self.tsa(aligned)
        else:
            feat = self.c('fusion', aligned.reshape((b, -1) + aligned.shape[3:]))
        out = feat
        for i in range(self.arch['back_RBs']):
            out = self.resblock(f'reconstruction.{i}', out)
        out = lrelu(pixel_shuffle(self.c('upconv1', out)))
        out = lrelu(pixel_shuffle(self.c('upconv2', out)))
        out = self.c('conv_last', lrelu(self.c('conv_hr', out)))
        base = x[:, self.center] if self.arch['HR_in'] else upsample(x[:, self.center], 4)
        return out + base
