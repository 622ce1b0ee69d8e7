// SPDX-License-Identifier: Apache-2.0
//
// CPU column kernels of the modulated deformable convolution (DCNv2), for its backward on
// the layouts the blocked one (cpu_dcn_backward.cc) does not take (conv_columns.h:
// out = weight @ cols, the matrix product in Paddle). G deformable groups, K = kh*kw taps:
//
//   edvr_dcn_im2col  x (b, c, h, w), offset (b, 2*G*K, ho, wo), mask (b, G*K, ho, wo)
//                    -> cols (b, c*K, ho*wo), each entry a masked bilinear sample
//   edvr_dcn_col2im  grad_cols (b, c*K, ho*wo), x, offset, mask
//                    -> grad_x, grad_offset, grad_mask (shapes of x, offset, mask)
//
// Offset channel (g*K + k)*2 holds dy, +1 holds dx; mask channel g*K + k. Samples are
// bilinear; corners outside the image read zero, and a point with y <= -1, y >= h, x <= -1
// or x >= w reads zero (as paddle.vision.ops.deform_conv2d). All tensors are float32 and
// contiguous. Work is split over (sample, deformable group) pairs with OpenMP.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "conv_columns.h"
#include "op_checks.h"
#include "paddle/extension.h"

namespace {

using edvr_ops::CheckFloat;
using edvr_ops::ConvShape;
using edvr_ops::ShapeOf;

// The four bilinear corners of one sample point in an h*w plane: flat indices (0 where
// the corner is outside) and validity (1 or 0), plus the fractional parts.
struct Corners {
  std::vector<int32_t> i00, i01, i10, i11;
  std::vector<float> v00, v01, v10, v11, ly, lx, m;
  explicit Corners(int64_t n)
      : i00(n), i01(n), i10(n), i11(n), v00(n), v01(n), v10(n), v11(n), ly(n), lx(n), m(n) {}
};

// Sample positions of tap k of group g of sample n, for every output position.
void LocateTap(const float* offset, const float* mask, const ConvShape& s, int64_t groups,
               int64_t n, int64_t g, int k, Corners* cr) {
  const int64_t taps = s.taps(), npos = s.positions();
  const int ky = k / s.kw, kx = k % s.kw;
  const float* off_y = offset + ((n * groups + g) * taps + k) * 2 * npos;
  const float* off_x = off_y + npos;
  const float* msk = mask + ((n * groups + g) * taps + k) * npos;
  for (int64_t oy = 0; oy < s.ho; ++oy) {
    for (int64_t ox = 0; ox < s.wo; ++ox) {
      const int64_t p = oy * s.wo + ox;
      const float y = static_cast<float>(oy * s.sh - s.ph + static_cast<int64_t>(ky) * s.dh) +
                      off_y[p];
      const float x = static_cast<float>(ox * s.sw - s.pw + static_cast<int64_t>(kx) * s.dw) +
                      off_x[p];
      cr->m[p] = msk[p];
      if (!(y > -1.f && x > -1.f && y < static_cast<float>(s.h) &&
            x < static_cast<float>(s.w))) {  // also catches NaN
        cr->ly[p] = cr->lx[p] = 0.f;
        cr->v00[p] = cr->v01[p] = cr->v10[p] = cr->v11[p] = 0.f;
        cr->i00[p] = cr->i01[p] = cr->i10[p] = cr->i11[p] = 0;
        continue;
      }
      const float fy = std::floor(y), fx = std::floor(x);
      const int64_t y0 = static_cast<int64_t>(fy), x0 = static_cast<int64_t>(fx);
      cr->ly[p] = y - fy;
      cr->lx[p] = x - fx;
      const bool ok_y0 = y0 >= 0, ok_y1 = y0 + 1 < s.h;
      const bool ok_x0 = x0 >= 0, ok_x1 = x0 + 1 < s.w;
      cr->v00[p] = ok_y0 && ok_x0;
      cr->v01[p] = ok_y0 && ok_x1;
      cr->v10[p] = ok_y1 && ok_x0;
      cr->v11[p] = ok_y1 && ok_x1;
      cr->i00[p] = cr->v00[p] ? static_cast<int32_t>(y0 * s.w + x0) : 0;
      cr->i01[p] = cr->v01[p] ? static_cast<int32_t>(y0 * s.w + x0 + 1) : 0;
      cr->i10[p] = cr->v10[p] ? static_cast<int32_t>((y0 + 1) * s.w + x0) : 0;
      cr->i11[p] = cr->v11[p] ? static_cast<int32_t>((y0 + 1) * s.w + x0 + 1) : 0;
    }
  }
}

void DcnIm2col(const float* x, const float* offset, const float* mask, float* cols,
               const ConvShape& s, int64_t groups, int threads) {
  const int64_t taps = s.taps(), npos = s.positions(), cg = s.c / groups;
  const int64_t tasks = s.b * groups;
#pragma omp parallel num_threads(threads)
  {
    Corners cr(npos);
    std::vector<float> w00(npos), w01(npos), w10(npos), w11(npos);
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / groups, g = task % groups;
      for (int k = 0; k < taps; ++k) {
        LocateTap(offset, mask, s, groups, n, g, k, &cr);
        for (int64_t p = 0; p < npos; ++p) {  // bilinear weights times validity and mask
          const float ly = cr.ly[p], lx = cr.lx[p], hy = 1.f - ly, hx = 1.f - lx, m = cr.m[p];
          w00[p] = hy * hx * cr.v00[p] * m;
          w01[p] = hy * lx * cr.v01[p] * m;
          w10[p] = ly * hx * cr.v10[p] * m;
          w11[p] = ly * lx * cr.v11[p] * m;
        }
        for (int64_t ci = 0; ci < cg; ++ci) {
          const int64_t c = g * cg + ci;
          const float* in = x + (n * s.c + c) * s.h * s.w;
          float* row = cols + ((n * s.c + c) * taps + k) * npos;
          const int32_t *i00 = cr.i00.data(), *i01 = cr.i01.data(), *i10 = cr.i10.data(),
                        *i11 = cr.i11.data();
          for (int64_t p = 0; p < npos; ++p) {
            row[p] = w00[p] * in[i00[p]] + w01[p] * in[i01[p]] + w10[p] * in[i10[p]] +
                     w11[p] * in[i11[p]];
          }
        }
      }
    }
  }
}

void DcnCol2im(const float* gcols, const float* x, const float* offset, const float* mask,
               float* gx, float* goffset, float* gmask, const ConvShape& s, int64_t groups,
               int threads) {
  const int64_t taps = s.taps(), npos = s.positions(), cg = s.c / groups;
  const int64_t tasks = s.b * groups;
#pragma omp parallel num_threads(threads)
  {
    Corners cr(npos);
    std::vector<float> acc_m(npos), acc_y(npos), acc_x(npos);
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / groups, g = task % groups;
      for (int64_t ci = 0; ci < cg; ++ci) {  // this task owns these input-gradient planes
        std::memset(gx + (n * s.c + g * cg + ci) * s.h * s.w, 0, sizeof(float) * s.h * s.w);
      }
      for (int k = 0; k < taps; ++k) {
        LocateTap(offset, mask, s, groups, n, g, k, &cr);
        std::fill(acc_m.begin(), acc_m.end(), 0.f);
        std::fill(acc_y.begin(), acc_y.end(), 0.f);
        std::fill(acc_x.begin(), acc_x.end(), 0.f);
        for (int64_t ci = 0; ci < cg; ++ci) {
          const int64_t c = g * cg + ci;
          const float* in = x + (n * s.c + c) * s.h * s.w;
          float* grad_in = gx + (n * s.c + c) * s.h * s.w;
          const float* row = gcols + ((n * s.c + c) * taps + k) * npos;
          for (int64_t p = 0; p < npos; ++p) {
            const float gc = row[p];
            if (gc == 0.f) continue;
            const float ly = cr.ly[p], lx = cr.lx[p], hy = 1.f - ly, hx = 1.f - lx;
            const float a00 = cr.v00[p] * in[cr.i00[p]], a01 = cr.v01[p] * in[cr.i01[p]];
            const float a10 = cr.v10[p] * in[cr.i10[p]], a11 = cr.v11[p] * in[cr.i11[p]];
            acc_m[p] += gc * (hy * hx * a00 + hy * lx * a01 + ly * hx * a10 + ly * lx * a11);
            acc_y[p] += gc * (hx * (a10 - a00) + lx * (a11 - a01));
            acc_x[p] += gc * (hy * (a01 - a00) + ly * (a11 - a10));
            const float gm = gc * cr.m[p];
            grad_in[cr.i00[p]] += gm * hy * hx * cr.v00[p];
            grad_in[cr.i01[p]] += gm * hy * lx * cr.v01[p];
            grad_in[cr.i10[p]] += gm * ly * hx * cr.v10[p];
            grad_in[cr.i11[p]] += gm * ly * lx * cr.v11[p];
          }
        }
        float* go_y = goffset + ((n * groups + g) * taps + k) * 2 * npos;
        float* go_x = go_y + npos;
        float* gm_out = gmask + ((n * groups + g) * taps + k) * npos;
        for (int64_t p = 0; p < npos; ++p) {
          gm_out[p] = acc_m[p];
          go_y[p] = acc_y[p] * cr.m[p];
          go_x[p] = acc_x[p] * cr.m[p];
        }
      }
    }
  }
}

ConvShape DcnShape(const paddle::Tensor& x, const paddle::Tensor& offset,
                   const paddle::Tensor& mask, int kh, int kw, int sh, int sw, int ph, int pw,
                   int dh, int dw, int groups) {
  CheckFloat(x, "x");
  CheckFloat(offset, "offset");
  CheckFloat(mask, "mask");
  ConvShape s = ShapeOf(x, kh, kw, sh, sw, ph, pw, dh, dw);
  PD_CHECK(groups > 0 && s.c % groups == 0, "channels must be divisible by groups");
  auto od = offset.shape(), md = mask.shape();
  PD_CHECK(od.size() == 4 && od[0] == s.b && od[1] == 2 * groups * s.taps() && od[2] == s.ho &&
               od[3] == s.wo,
           "offset must be (b, 2*G*K, ho, wo)");
  PD_CHECK(md.size() == 4 && md[0] == s.b && md[1] == groups * s.taps() && md[2] == s.ho &&
               md[3] == s.wo,
           "mask must be (b, G*K, ho, wo)");
  PD_CHECK(s.h * s.w < (int64_t{1} << 31), "input plane too large");
  return s;
}

std::vector<paddle::Tensor> DcnIm2colOp(const paddle::Tensor& x, const paddle::Tensor& offset,
                                        const paddle::Tensor& mask, int kh, int kw, int sh,
                                        int sw, int ph, int pw, int dh, int dw, int groups,
                                        int threads) {
  ConvShape s = DcnShape(x, offset, mask, kh, kw, sh, sw, ph, pw, dh, dw, groups);
  auto cols = paddle::empty({s.b, s.c * s.taps(), s.positions()}, paddle::DataType::FLOAT32,
                            paddle::CPUPlace());
  DcnIm2col(x.data<float>(), offset.data<float>(), mask.data<float>(), cols.data<float>(), s,
            groups, threads);
  return {cols};
}

std::vector<paddle::Tensor> DcnCol2imOp(const paddle::Tensor& grad_cols,
                                        const paddle::Tensor& x, const paddle::Tensor& offset,
                                        const paddle::Tensor& mask, int kh, int kw, int sh,
                                        int sw, int ph, int pw, int dh, int dw, int groups,
                                        int threads) {
  ConvShape s = DcnShape(x, offset, mask, kh, kw, sh, sw, ph, pw, dh, dw, groups);
  CheckFloat(grad_cols, "grad_cols");
  auto gd = grad_cols.shape();
  PD_CHECK(gd.size() == 3 && gd[0] == s.b && gd[1] == s.c * s.taps() && gd[2] == s.positions(),
           "grad_cols must be (b, c*K, ho*wo)");
  auto gx = paddle::empty(x.shape(), paddle::DataType::FLOAT32, paddle::CPUPlace());
  auto goffset = paddle::empty(offset.shape(), paddle::DataType::FLOAT32, paddle::CPUPlace());
  auto gmask = paddle::empty(mask.shape(), paddle::DataType::FLOAT32, paddle::CPUPlace());
  DcnCol2im(grad_cols.data<float>(), x.data<float>(), offset.data<float>(), mask.data<float>(),
            gx.data<float>(), goffset.data<float>(), gmask.data<float>(), s, groups, threads);
  return {gx, goffset, gmask};
}

// Shape functions (only used when a static graph is built).
std::vector<std::vector<int64_t>> DcnIm2colShape(const std::vector<int64_t>& x,
                                                 const std::vector<int64_t>&,
                                                 const std::vector<int64_t>&, int kh, int kw,
                                                 int sh, int sw, int ph, int pw, int dh, int dw,
                                                 int, int) {
  return {edvr_ops::ColumnsShape(x, kh, kw, sh, sw, ph, pw, dh, dw)};
}

std::vector<std::vector<int64_t>> DcnCol2imShape(const std::vector<int64_t>&,
                                                 const std::vector<int64_t>& x,
                                                 const std::vector<int64_t>& offset,
                                                 const std::vector<int64_t>& mask) {
  return {x, offset, mask};
}

std::vector<paddle::DataType> ThreeFloats(const paddle::DataType& t, const paddle::DataType&,
                                          const paddle::DataType&) {
  return {t};
}
std::vector<paddle::DataType> FourToThree(const paddle::DataType& t, const paddle::DataType&,
                                          const paddle::DataType&, const paddle::DataType&) {
  return {t, t, t};
}

}  // namespace

PD_BUILD_OP(edvr_dcn_im2col)
    .Inputs({"X", "Offset", "Mask"})
    .Outputs({"Cols"})
    .Attrs({EDVR_CONV_ATTRS, "groups: int", "threads: int"})
    .SetKernelFn(PD_KERNEL(DcnIm2colOp))
    .SetInferShapeFn(PD_INFER_SHAPE(DcnIm2colShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(ThreeFloats));

PD_BUILD_OP(edvr_dcn_col2im)
    .Inputs({"GradCols", "X", "Offset", "Mask"})
    .Outputs({"GradX", "GradOffset", "GradMask"})
    .Attrs({EDVR_CONV_ATTRS, "groups: int", "threads: int"})
    .SetKernelFn(PD_KERNEL(DcnCol2imOp))
    .SetInferShapeFn(PD_INFER_SHAPE(DcnCol2imShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(FourToThree));
