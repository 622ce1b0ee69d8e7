// SPDX-License-Identifier: Apache-2.0
//
// The Paddle op of bilinear 2x upsampling on the CPU:
//
//   edvr_upsample2x  x (b, c, h, w) -> scale * bilinear_2x(x)  (b, c, 2h, 2w)
//
// Half-pixel centres (align_corners=False, align_mode=0), edges clamped, as
// paddle.nn.functional.interpolate(x, scale_factor=2, mode='bilinear'); each value is
// computed with Paddle's CPU kernel's arithmetic (the four corner terms, each
// (value * vertical weight) * horizontal weight, summed left to right, no fused
// multiply-add), so the outputs are the same bits; the factor `scale` (PCD's 2 for its
// offsets) is applied last. Output rows are split over threads with OpenMP.
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "op_checks.h"
#include "paddle/extension.h"

namespace {

// Source index and weights of each output coordinate along an axis of `in` values.
struct Taps {
  std::vector<int64_t> near, far;   // near: the lower source index, far: the next (clamped)
  std::vector<float> w_far, w_near;  // w_far: the far one's weight (lambda), w_near: 1 - it
};

Taps MakeTaps(int64_t in) {
  Taps t;
  const int64_t out = 2 * in;
  const float ratio = 0.5f;
  for (int64_t k = 0; k < out; ++k) {
    int64_t near = static_cast<int64_t>(ratio * (k + 0.5) - 0.5);
    near = near > 0 ? near : 0;
    const int64_t far = near + 1 < in - 1 ? near + 1 : in - 1;
    float src = static_cast<float>(ratio * (k + 0.5) - 0.5);
    src = src > 0 ? src : 0;
    const float lambda = src - static_cast<float>(near);
    t.near.push_back(near);
    t.far.push_back(far);
    t.w_far.push_back(lambda);
    t.w_near.push_back(1.f - lambda);
  }
  return t;
}

// Rows [first, last) of y (planes of 2h x 2w): each input row pair's vertical products
// (north * d_s, south * d_n) once per row, then the four terms per value, summed in
// Paddle's order, each operation rounded on its own (no fused multiply-add).
__attribute__((noinline, optimize("fp-contract=off"))) void UpsampleRows(
    const float* src, float* dst, int64_t h, int64_t w, const Taps& ty, const Taps& tx,
    float scale, int64_t first, int64_t last) {
  std::vector<float> north(w), south(w);
  for (int64_t r = first; r < last; ++r) {
    const int64_t plane = r / (2 * h), k = r % (2 * h);
    const float* n_row = src + (plane * h + ty.near[k]) * w;
    const float* s_row = src + (plane * h + ty.far[k]) * w;
    const float d_s = ty.w_near[k], d_n = ty.w_far[k];
    for (int64_t x = 0; x < w; ++x) {
      north[x] = n_row[x] * d_s;
      south[x] = s_row[x] * d_n;
    }
    float* out = dst + r * 2 * w;
    for (int64_t l = 0; l < 2 * w; ++l) {
      const int64_t xw = tx.near[l], xe = tx.far[l];
      const float d_e = tx.w_near[l], d_w = tx.w_far[l];
      float v = north[xw] * d_e;
      v = v + south[xw] * d_e;
      v = v + north[xe] * d_w;
      v = v + south[xe] * d_w;
      out[l] = v * scale;   // exact for scale 1 (and powers of 2)
    }
  }
}

std::vector<paddle::Tensor> Upsample2xOp(const paddle::Tensor& x, float scale, int threads) {
  edvr_ops::CheckFloat(x, "x");
  PD_CHECK(x.shape().size() == 4, "x must be 4-D");
  const int64_t b = x.shape()[0], c = x.shape()[1], h = x.shape()[2], w = x.shape()[3];
  auto y = paddle::empty({b, c, 2 * h, 2 * w}, paddle::DataType::FLOAT32, paddle::CPUPlace());
  const Taps ty = MakeTaps(h), tx = MakeTaps(w);
  const int64_t rows = b * c * 2 * h;
  const float* src = x.data<float>();
  float* dst = y.data<float>();
#pragma omp parallel num_threads(threads)
  {
#if defined(_OPENMP)
    const int64_t parts = omp_get_num_threads(), part = omp_get_thread_num();
#else
    const int64_t parts = 1, part = 0;
#endif
    UpsampleRows(src, dst, h, w, ty, tx, scale, rows * part / parts, rows * (part + 1) / parts);
  }
  return {y};
}

std::vector<std::vector<int64_t>> Upsample2xShape(const std::vector<int64_t>& x, float, int) {
  PD_CHECK(x.size() == 4, "x must be 4-D");
  return {{x[0], x[1], 2 * x[2], 2 * x[3]}};
}

std::vector<paddle::DataType> Upsample2xDtype(const paddle::DataType& t) { return {t}; }

}  // namespace

PD_BUILD_OP(edvr_upsample2x)
    .Inputs({"X"})
    .Outputs({"Out"})
    .Attrs({"scale: float", "threads: int"})
    .SetKernelFn(PD_KERNEL(Upsample2xOp))
    .SetInferShapeFn(PD_INFER_SHAPE(Upsample2xShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(Upsample2xDtype));
