// SPDX-License-Identifier: Apache-2.0
//
// CPU column kernels of plain convolutions (conv_columns.h: out = weight @ cols, the matrix
// product in Paddle): these build `cols` and scatter a column gradient back.
//
//   edvr_im2col  x (b, c, h, w)             -> cols (b, c*K, ho*wo)
//   edvr_col2im  grad_cols (b, c*K, ho*wo)  -> grad_x (b, c, h, w)   (attrs h, w first)
//
// Taps that fall in the padding read zero (im2col) and drop out (col2im). All tensors are
// float32 and contiguous. Work is split over (sample, channel) planes with OpenMP.
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv_columns.h"
#include "op_checks.h"
#include "paddle/extension.h"

namespace {

using edvr_ops::CheckFloat;
using edvr_ops::ConvShape;
using edvr_ops::OutSize;
using edvr_ops::ShapeOf;

// Smallest o >= 0 with o*s + base >= 0, and largest o < n with o*s + base < limit;
// the range of output positions whose input index is inside [0, limit).
void ValidRange(int64_t base, int s, int64_t limit, int64_t n, int64_t* lo, int64_t* hi) {
  int64_t first = base >= 0 ? 0 : (-base + s - 1) / s;
  int64_t last = limit - 1 - base < 0 ? -1 : (limit - 1 - base) / s;
  *lo = std::max<int64_t>(first, 0);
  *hi = std::min<int64_t>(last + 1, n);
  if (*hi < *lo) *hi = *lo;
}

void Im2col(const float* x, float* cols, const ConvShape& s, int threads) {
  const int64_t planes = s.b * s.c, taps = s.taps(), npos = s.positions();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    const float* in = x + plane * s.h * s.w;
    for (int ky = 0; ky < s.kh; ++ky) {
      for (int kx = 0; kx < s.kw; ++kx) {
        float* row = cols + (plane * taps + ky * s.kw + kx) * npos;
        const int64_t base_x = static_cast<int64_t>(kx) * s.dw - s.pw;
        int64_t lo, hi;
        ValidRange(base_x, s.sw, s.w, s.wo, &lo, &hi);
        for (int64_t oy = 0; oy < s.ho; ++oy) {
          float* out = row + oy * s.wo;
          const int64_t iy = oy * s.sh - s.ph + static_cast<int64_t>(ky) * s.dh;
          if (iy < 0 || iy >= s.h) {
            std::memset(out, 0, sizeof(float) * s.wo);
            continue;
          }
          const float* src = in + iy * s.w + base_x;
          for (int64_t ox = 0; ox < lo; ++ox) out[ox] = 0.f;
          if (s.sw == 1) {
            std::memcpy(out + lo, src + lo, sizeof(float) * (hi - lo));
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) out[ox] = src[ox * s.sw];
          }
          for (int64_t ox = hi; ox < s.wo; ++ox) out[ox] = 0.f;
        }
      }
    }
  }
}

void Col2im(const float* cols, float* gx, const ConvShape& s, int threads) {
  const int64_t planes = s.b * s.c, taps = s.taps(), npos = s.positions();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    float* grad = gx + plane * s.h * s.w;
    std::memset(grad, 0, sizeof(float) * s.h * s.w);
    for (int ky = 0; ky < s.kh; ++ky) {
      for (int kx = 0; kx < s.kw; ++kx) {
        const float* row = cols + (plane * taps + ky * s.kw + kx) * npos;
        const int64_t base_x = static_cast<int64_t>(kx) * s.dw - s.pw;
        int64_t lo, hi;
        ValidRange(base_x, s.sw, s.w, s.wo, &lo, &hi);
        for (int64_t oy = 0; oy < s.ho; ++oy) {
          const int64_t iy = oy * s.sh - s.ph + static_cast<int64_t>(ky) * s.dh;
          if (iy < 0 || iy >= s.h) continue;
          const float* src = row + oy * s.wo;
          float* dst = grad + iy * s.w + base_x;
          if (s.sw == 1) {
            for (int64_t ox = lo; ox < hi; ++ox) dst[ox] += src[ox];
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) dst[ox * s.sw] += src[ox];
          }
        }
      }
    }
  }
}

std::vector<paddle::Tensor> Im2colOp(const paddle::Tensor& x, int kh, int kw, int sh, int sw,
                                     int ph, int pw, int dh, int dw, int threads) {
  CheckFloat(x, "x");
  ConvShape s = ShapeOf(x, kh, kw, sh, sw, ph, pw, dh, dw);
  auto cols = paddle::empty({s.b, s.c * s.taps(), s.positions()}, paddle::DataType::FLOAT32,
                            paddle::CPUPlace());
  Im2col(x.data<float>(), cols.data<float>(), s, threads);
  return {cols};
}

std::vector<paddle::Tensor> Col2imOp(const paddle::Tensor& grad_cols, int h, int w, int kh,
                                     int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                                     int threads) {
  CheckFloat(grad_cols, "grad_cols");
  auto d = grad_cols.shape();
  PD_CHECK(d.size() == 3 && d[1] % (kh * kw) == 0, "grad_cols must be (b, c*K, ho*wo)");
  ConvShape s{d[0], d[1] / (kh * kw), h, w, OutSize(h, kh, sh, ph, dh),
              OutSize(w, kw, sw, pw, dw), kh, kw, sh, sw, ph, pw, dh, dw};
  PD_CHECK(s.positions() == d[2], "grad_cols does not match the output size");
  auto gx = paddle::empty({s.b, s.c, s.h, s.w}, paddle::DataType::FLOAT32, paddle::CPUPlace());
  Col2im(grad_cols.data<float>(), gx.data<float>(), s, threads);
  return {gx};
}

// Shape functions (only used when a static graph is built).
std::vector<std::vector<int64_t>> Im2colShape(const std::vector<int64_t>& x, int kh, int kw,
                                              int sh, int sw, int ph, int pw, int dh, int dw,
                                              int) {
  return {edvr_ops::ColumnsShape(x, kh, kw, sh, sw, ph, pw, dh, dw)};
}

std::vector<std::vector<int64_t>> Col2imShape(const std::vector<int64_t>& g, int h, int w,
                                              int kh, int kw, int, int, int, int, int, int,
                                              int) {
  return {{g[0], g[1] / (kh * kw), h, w}};
}

std::vector<paddle::DataType> OneFloat(const paddle::DataType& t) { return {t}; }

}  // namespace

PD_BUILD_OP(edvr_im2col)
    .Inputs({"X"})
    .Outputs({"Cols"})
    .Attrs({EDVR_CONV_ATTRS, "threads: int"})
    .SetKernelFn(PD_KERNEL(Im2colOp))
    .SetInferShapeFn(PD_INFER_SHAPE(Im2colShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(OneFloat));

PD_BUILD_OP(edvr_col2im)
    .Inputs({"GradCols"})
    .Outputs({"GradX"})
    .Attrs({"h: int", "w: int", EDVR_CONV_ATTRS, "threads: int"})
    .SetKernelFn(PD_KERNEL(Col2imOp))
    .SetInferShapeFn(PD_INFER_SHAPE(Col2imShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(OneFloat));
