// SPDX-License-Identifier: Apache-2.0
//
// The Paddle ops of the bfloat16 inference mode (AVX-512 BF16; kernels in cpu_bf16_winograd.cc
// and cpu_bf16_conv.cc):
//
//   edvr_conv_bf16   the arguments and result of edvr_conv_fused (cpu_fused_conv_op.cc):
//                    x (b, c, h, w), weight (c_out, c, kh, kw), bias (c_out) or none,
//                    residual (b, c_out, ho, wo) or none -> act(conv + bias) + residual
//                    (or act(conv + bias + residual) with `residual_first` 1), float32 in and
//                    out, the products in bfloat16 with float32 sums: `winograd` 1 rounds the
//                    Winograd-transformed input and weights (3x3 only), 0 the input and
//                    weights of the direct sum. At most kNarrow output channels run in
//                    float32 on the narrow kernel (the products are too few to matter).
//   edvr_bf16_probe  any tensor -> int32 (1): 1 if this build runs AVX-512 BF16, else 0.
//
// edvr_conv_bf16 fails on a build without AVX-512 BF16 (the caller checks the probe).
#include <vector>

#include "bf16_conv.h"
#include "op_checks.h"
#include "paddle/extension.h"

namespace {

using edvr_ops::CheckFloat;
using edvr_ops::Geometry;

Geometry Bf16Geometry(const std::vector<int64_t>& x, const std::vector<int64_t>& w, int ph,
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

std::vector<paddle::Tensor> Bf16ConvOp(const paddle::Tensor& x, const paddle::Tensor& weight,
                                       const paddle::optional<paddle::Tensor>& bias,
                                       const paddle::optional<paddle::Tensor>& residual,
                                       int ph, int pw, int activate, float slope,
                                       int residual_first, int winograd, int threads) {
  PD_CHECK(edvr_ops::Bf16Available(), "this build has no AVX-512 BF16");
  CheckFloat(x, "x");
  CheckFloat(weight, "weight");
  const Geometry g = Bf16Geometry(x.shape(), weight.shape(), ph, pw);
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
  const float* xd = x.data<float>();
  const float* wd = weight.data<float>();
  if (g.c_out <= edvr_ops::kNarrow) {
    edvr_ops::NarrowConv(xd, wd, y.data<float>(), g, epilogue, threads);
  } else if (winograd) {
    PD_CHECK(g.kh == 3 && g.kw == 3, "Winograd needs a 3x3 kernel");
    edvr_ops::Bf16WinogradConv(xd, wd, y.data<float>(), g, epilogue, threads);
  } else {
    edvr_ops::DirectConvBf16(xd, wd, y.data<float>(), g, epilogue, threads);
  }
  return {y};
}

std::vector<std::vector<int64_t>> Bf16ConvShape(const std::vector<int64_t>& x,
                                                const std::vector<int64_t>& w,
                                                const paddle::optional<std::vector<int64_t>>&,
                                                const paddle::optional<std::vector<int64_t>>&,
                                                int ph, int pw, int, float, int, int, int) {
  const Geometry g = Bf16Geometry(x, w, ph, pw);
  return {{g.b, g.c_out, g.ho, g.wo}};
}

std::vector<paddle::DataType> Bf16ConvDtype(const paddle::DataType& t, const paddle::DataType&,
                                            const paddle::optional<paddle::DataType>&,
                                            const paddle::optional<paddle::DataType>&) {
  return {t};
}

std::vector<paddle::Tensor> Bf16ProbeOp(const paddle::Tensor&) {
  auto out = paddle::empty({1}, paddle::DataType::INT32, paddle::CPUPlace());
  out.data<int>()[0] = edvr_ops::Bf16Available() ? 1 : 0;
  return {out};
}

std::vector<std::vector<int64_t>> Bf16ProbeShape(const std::vector<int64_t>&) { return {{1}}; }

std::vector<paddle::DataType> Bf16ProbeDtype(const paddle::DataType&) {
  return {paddle::DataType::INT32};
}

}  // namespace

PD_BUILD_OP(edvr_conv_bf16)
    .Inputs({"X", "Weight", paddle::Optional("Bias"), paddle::Optional("Residual")})
    .Outputs({"Out"})
    .Attrs({"ph: int", "pw: int", "activate: int", "slope: float", "residual_first: int",
            "winograd: int", "threads: int"})
    .SetKernelFn(PD_KERNEL(Bf16ConvOp))
    .SetInferShapeFn(PD_INFER_SHAPE(Bf16ConvShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(Bf16ConvDtype));

PD_BUILD_OP(edvr_bf16_probe)
    .Inputs({"X"})
    .Outputs({"Out"})
    .SetKernelFn(PD_KERNEL(Bf16ProbeOp))
    .SetInferShapeFn(PD_INFER_SHAPE(Bf16ProbeShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(Bf16ProbeDtype));
