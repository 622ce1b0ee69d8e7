// SPDX-License-Identifier: Apache-2.0
//
// The gradient through the fused convolutions' activation (training):
//
//   edvr_activation_backward  y, grad_y (same shape), slope
//                             -> grad_x: grad_y where y > 0, slope * grad_y elsewhere
//
// y is the output of a leaky ReLU (slope 0: ReLU); for a slope >= 0, y > 0 exactly where its
// input is, so this is Paddle's leaky_relu backward taken from the saved output. float32,
// contiguous; split over threads in parts of 65536 values.
#include <algorithm>
#include <vector>

#include "op_checks.h"
#include "paddle/extension.h"

namespace {

using edvr_ops::CheckFloat;

std::vector<paddle::Tensor> ActivationBackwardOp(const paddle::Tensor& y,
                                                 const paddle::Tensor& grad_y, float slope,
                                                 int threads) {
  CheckFloat(y, "y");
  CheckFloat(grad_y, "grad_y");
  PD_CHECK(y.shape() == grad_y.shape(), "y and grad_y must have the same shape");
  auto out = paddle::empty(y.shape(), paddle::DataType::FLOAT32, paddle::CPUPlace());
  const float* yv = y.data<float>();
  const float* g = grad_y.data<float>();
  float* o = out.data<float>();
  const int64_t n = y.numel(), parts = (n + 65535) / 65536;
#pragma omp parallel for num_threads(std::max(1, threads)) schedule(static)
  for (int64_t part = 0; part < parts; ++part)
    for (int64_t i = part * 65536; i < std::min(n, (part + 1) * 65536); ++i)
      o[i] = yv[i] > 0.f ? g[i] : (slope != 0.f ? slope * g[i] : 0.f);
  return {out};
}

std::vector<std::vector<int64_t>> SameShape(const std::vector<int64_t>& y,
                                            const std::vector<int64_t>&, float, int) {
  return {y};
}

std::vector<paddle::DataType> ActivationDtype(const paddle::DataType& t,
                                              const paddle::DataType&) {
  return {t};
}

}  // namespace

PD_BUILD_OP(edvr_activation_backward)
    .Inputs({"Y", "GradY"})
    .Outputs({"GradX"})
    .Attrs({"slope: float", "threads: int"})
    .SetKernelFn(PD_KERNEL(ActivationBackwardOp))
    .SetInferShapeFn(PD_INFER_SHAPE(SameShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(ActivationDtype));
