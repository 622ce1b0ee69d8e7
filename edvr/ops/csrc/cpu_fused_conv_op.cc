// SPDX-License-Identifier: Apache-2.0
//
// The Paddle op of the fused CPU convolutions (fused_conv.h):
//
//   edvr_conv_fused  x (b, c, h, w), weight (c_out, c, kh, kw), bias (c_out) or none,
//                    residual (b, c_out, ho, wo) or none
//                    -> act(conv(x, weight) + bias) + residual   (stride 1, padding ph, pw)
//                       or act(conv(x, weight) + bias + residual) with `residual_first` 1
//
// `activate` 0/1 turns the leaky ReLU (negative `slope`) off/on; `winograd` 0/1 runs the
// direct kernel / Winograd F(4x4, 3x3) (3x3 kernels only). At most kNarrow output channels
// always run on the narrow direct kernel.
#include <vector>

#include "fused_conv.h"
#include "op_checks.h"
#include "paddle/extension.h"

namespace {

using edvr_ops::CheckFloat;

using edvr_ops::Geometry;

Geometry MakeGeometry(const std::vector<int64_t>& x, const std::vector<int64_t>& w, int ph,
                      int pw) {
  PD_CHECK(x.size() == 4 && w.size() == 4, "x and weight must be 4-D");
  PD_CHECK(x[1] == w[1], "weight has ", w[1], " input channels, x has ", x[1]);
  Geometry g{x[0], x[1], x[2], x[3], w[0], 0, 0, static_cast<int>(w[2]),
             static_cast<int>(w[3]), ph, pw};
  PD_CHECK(ph >= 0 && ph < g.kh && pw >= 0 && pw < g.kw,
           "padding must be below the kernel size");
  g.ho = g.h + 2 * ph - g.kh + 1;
  g.wo = g.w + 2 * pw - g.kw + 1;
  PD_CHECK(g.ho > 0 && g.wo > 0, "input smaller than the kernel");
  return g;
}

std::vector<paddle::Tensor> FusedConvOp(const paddle::Tensor& x, const paddle::Tensor& weight,
                                        const paddle::optional<paddle::Tensor>& bias,
                                        const paddle::optional<paddle::Tensor>& residual,
                                        int ph, int pw, int activate, float slope,
                                        int residual_first, int winograd, int threads) {
  CheckFloat(x, "x");
  CheckFloat(weight, "weight");
  const Geometry g = MakeGeometry(x.shape(), weight.shape(), ph, pw);
  edvr_ops::Epilogue epilogue{nullptr, nullptr, activate != 0, slope, residual_first != 0};
  if (bias) {
    CheckFloat(*bias, "bias");
    PD_CHECK(bias->numel() == g.c_out, "bias must have ", g.c_out, " values");
    epilogue.bias = bias->data<float>();
  }
  if (residual) {
    CheckFloat(*residual, "residual");
    PD_CHECK(residual->shape() == std::vector<int64_t>({g.b, g.c_out, g.ho, g.wo}),
             "residual must have the output's shape");
    epilogue.residual = residual->data<float>();
  }
  auto y = paddle::empty({g.b, g.c_out, g.ho, g.wo}, paddle::DataType::FLOAT32,
                         paddle::CPUPlace());
  if (g.c_out <= edvr_ops::kNarrow) {
    edvr_ops::NarrowConv(x.data<float>(), weight.data<float>(), y.data<float>(), g, epilogue,
                         threads);
  } else if (winograd) {
    PD_CHECK(g.kh == 3 && g.kw == 3, "Winograd needs a 3x3 kernel");
    edvr_ops::WinogradConv(x.data<float>(), weight.data<float>(), y.data<float>(), g, epilogue,
                           threads);
  } else {
    edvr_ops::DirectConv(x.data<float>(), weight.data<float>(), y.data<float>(), g, epilogue,
                         threads);
  }
  return {y};
}

std::vector<std::vector<int64_t>> FusedConvShape(const std::vector<int64_t>& x,
                                                 const std::vector<int64_t>& w,
                                                 const paddle::optional<std::vector<int64_t>>&,
                                                 const paddle::optional<std::vector<int64_t>>&,
                                                 int ph, int pw, int, float, int, int, int) {
  const Geometry g = MakeGeometry(x, w, ph, pw);
  return {{g.b, g.c_out, g.ho, g.wo}};
}

std::vector<paddle::DataType> FusedConvDtype(const paddle::DataType& t, const paddle::DataType&,
                                             const paddle::optional<paddle::DataType>&,
                                             const paddle::optional<paddle::DataType>&) {
  return {t};
}

}  // namespace

PD_BUILD_OP(edvr_conv_fused)
    .Inputs({"X", "Weight", paddle::Optional("Bias"), paddle::Optional("Residual")})
    .Outputs({"Out"})
    .Attrs({"ph: int", "pw: int", "activate: int", "slope: float", "residual_first: int",
            "winograd: int", "threads: int"})
    .SetKernelFn(PD_KERNEL(FusedConvOp))
    .SetInferShapeFn(PD_INFER_SHAPE(FusedConvShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(FusedConvDtype));
