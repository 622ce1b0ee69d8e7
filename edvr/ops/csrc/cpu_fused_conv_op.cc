// SPDX-License-Identifier: Apache-2.0
//
// The Paddle ops of the fused CPU convolutions (fused_conv.h):
//
//   edvr_conv_fused  x (b, c1, h, w), weight (c_out, c, kh, kw), bias (c_out) or none,
//                    residual (b, c_out, ho, wo) or none, x2 (b, c - c1, h, w) or none
//                    -> act(conv(x, weight) + bias) + residual   (stride 1, padding ph, pw)
//                       or act(conv(x, weight) + bias + residual) with `residual_first` 1
//
// `activate` 0/1 turns the leaky ReLU (negative `slope`) off/on; `winograd` 0/1 runs the
// direct kernel / Winograd F(4x4, 3x3) (3x3 kernels only). At most kNarrow output channels
// always run on the narrow direct kernel. With x2 the input is concat([x, x2], 1), read in
// place by Winograd (copied for the other kernels). `shuffle` 1 (no residual, c_out
// divisible by 4) returns the output pixel-shuffled by 2, (b, c_out / 4, 2 ho, 2 wo), stored
// so by Winograd (shuffled after the fact by the other kernels): the same values as
// pixel_shuffle(conv, 2).
//
//   edvr_conv_split_sigmoid  x, weight (3x3), bias or none
//                    -> (y[:, :split], sigmoid(y[:, split:])) of y = conv(x, weight) + bias
//
// on Winograd, the two parts stored apart as they are computed (a DCN's offsets and mask;
// split a multiple of the vector width). The sigmoid's exp is a polynomial accurate to
// about 1 ulp, so the mask agrees with Paddle's sigmoid to float rounding.
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv_geometry.h"
#include "fused_conv.h"
#include "op_checks.h"
#include "paddle/extension.h"

namespace {

using edvr_ops::CheckFloat;
using edvr_ops::ConvGeometry;
using edvr_ops::Geometry;

// y (b, c, 2 ho, 2 wo) <- pixel_shuffle(conv (b, 4 c, ho, wo), 2).
void Shuffle(const float* conv, float* y, const Geometry& g, int threads) {
  const int64_t c4 = g.c_out / 4;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < g.b * c4 * g.ho; ++r) {
    const int64_t plane = r / g.ho, oy = r % g.ho;
    for (int k = 0; k < 4; ++k) {
      const float* src = conv + ((plane * 4 + k) * g.ho + oy) * g.wo;
      float* dst = y + (plane * 2 * g.ho + 2 * oy + k / 2) * 2 * g.wo + k % 2;
      for (int64_t ox = 0; ox < g.wo; ++ox) dst[2 * ox] = src[ox];
    }
  }
}

// concat([x (b, c1, h, w), x2 (b, c - c1, h, w)], 1) -> out (b, c, h, w).
void Concat(const float* x, const float* x2, int64_t c1, const Geometry& g, float* out) {
  const int64_t plane = g.h * g.w, c2 = g.c - c1;
  for (int64_t n = 0; n < g.b; ++n) {
    std::memcpy(out + n * g.c * plane, x + n * c1 * plane, sizeof(float) * c1 * plane);
    std::memcpy(out + (n * g.c + c1) * plane, x2 + n * c2 * plane, sizeof(float) * c2 * plane);
  }
}

std::vector<paddle::Tensor> FusedConvOp(const paddle::Tensor& x, const paddle::Tensor& weight,
                                        const paddle::optional<paddle::Tensor>& bias,
                                        const paddle::optional<paddle::Tensor>& residual,
                                        const paddle::optional<paddle::Tensor>& x2,
                                        int ph, int pw, int activate, float slope,
                                        int residual_first, int winograd, int threads,
                                        int shuffle) {
  CheckFloat(x, "x");
  CheckFloat(weight, "weight");
  std::vector<int64_t> x2_shape;
  if (x2) {
    CheckFloat(*x2, "x2");
    x2_shape = x2->shape();
  }
  const Geometry g = ConvGeometry(x.shape(), weight.shape(), ph, pw, x2 ? &x2_shape : nullptr);
  PD_CHECK(!shuffle || (g.c_out % 4 == 0 && !residual),
           "shuffle needs output channels divisible by 4 and no residual");
  const edvr_ops::Epilogue epilogue =
      edvr_ops::ConvEpilogue(g, bias, residual, activate != 0, slope, residual_first != 0);
  auto y = shuffle ? paddle::empty({g.b, g.c_out / 4, 2 * g.ho, 2 * g.wo},
                                   paddle::DataType::FLOAT32, paddle::CPUPlace())
                   : paddle::empty({g.b, g.c_out, g.ho, g.wo}, paddle::DataType::FLOAT32,
                                   paddle::CPUPlace());
  const int64_t c1 = x.shape()[1];
  if (winograd && g.c_out > edvr_ops::kNarrow) {
    PD_CHECK(g.kh == 3 && g.kw == 3, "Winograd needs a 3x3 kernel");
    edvr_ops::WinogradConv(edvr_ops::Inputs{x.data<float>(), x2 ? x2->data<float>() : nullptr, c1},
                           weight.data<float>(),
                           edvr_ops::Outputs{y.data<float>(), shuffle != 0, nullptr, g.c_out}, g,
                           epilogue, threads);
    return {y};
  }
  std::vector<float> joined, unshuffled;
  const float* input = x.data<float>();
  if (x2) {
    joined.resize(g.b * g.c * g.h * g.w);
    Concat(input, x2->data<float>(), c1, g, joined.data());
    input = joined.data();
  }
  float* out = y.data<float>();
  if (shuffle) {
    unshuffled.resize(g.b * g.c_out * g.ho * g.wo);
    out = unshuffled.data();
  }
  if (g.c_out <= edvr_ops::kNarrow) {
    edvr_ops::NarrowConv(input, weight.data<float>(), out, g, epilogue, threads);
  } else {
    edvr_ops::DirectConv(input, weight.data<float>(), out, g, epilogue, threads);
  }
  if (shuffle) Shuffle(out, y.data<float>(), g, threads);
  return {y};
}

// (y[:, :split], sigmoid(y[:, split:])) of y = conv(x, weight) + bias, on Winograd.
std::vector<paddle::Tensor> SplitSigmoidConvOp(const paddle::Tensor& x,
                                               const paddle::Tensor& weight,
                                               const paddle::optional<paddle::Tensor>& bias,
                                               int ph, int pw, int split, int threads) {
  CheckFloat(x, "x");
  CheckFloat(weight, "weight");
  const Geometry g = ConvGeometry(x.shape(), weight.shape(), ph, pw);
  PD_CHECK(g.kh == 3 && g.kw == 3 && g.c_out > edvr_ops::kNarrow,
           "split outputs need a 3x3 kernel and more than ", edvr_ops::kNarrow, " outputs");
  PD_CHECK(split > 0 && split < g.c_out && split % edvr_ops::kLanes == 0,
           "split must lie inside the output channels and be a multiple of ",
           edvr_ops::kLanes);
  const edvr_ops::Epilogue epilogue =
      edvr_ops::ConvEpilogue(g, bias, paddle::optional<paddle::Tensor>(), false, 0.f, false);
  auto y = paddle::empty({g.b, split, g.ho, g.wo}, paddle::DataType::FLOAT32,
                         paddle::CPUPlace());
  auto y2 = paddle::empty({g.b, g.c_out - split, g.ho, g.wo}, paddle::DataType::FLOAT32,
                          paddle::CPUPlace());
  edvr_ops::WinogradConv(edvr_ops::Inputs{x.data<float>(), nullptr, g.c}, weight.data<float>(),
                         edvr_ops::Outputs{y.data<float>(), false, y2.data<float>(), split}, g,
                         epilogue, threads);
  return {y, y2};
}

std::vector<std::vector<int64_t>> SplitSigmoidConvShape(
    const std::vector<int64_t>& x, const std::vector<int64_t>& w,
    const paddle::optional<std::vector<int64_t>>&, int ph, int pw, int split, int) {
  const Geometry g = ConvGeometry(x, w, ph, pw);
  return {{g.b, split, g.ho, g.wo}, {g.b, g.c_out - split, g.ho, g.wo}};
}

std::vector<paddle::DataType> SplitSigmoidConvDtype(const paddle::DataType& t,
                                                    const paddle::DataType&,
                                                    const paddle::optional<paddle::DataType>&) {
  return {t, t};
}

std::vector<std::vector<int64_t>> FusedConvShape(
    const std::vector<int64_t>& x, const std::vector<int64_t>& w,
    const paddle::optional<std::vector<int64_t>>&, const paddle::optional<std::vector<int64_t>>&,
    const paddle::optional<std::vector<int64_t>>& x2, int ph, int pw, int, float, int, int, int,
    int shuffle) {
  const Geometry g = ConvGeometry(x, w, ph, pw, x2 ? &*x2 : nullptr);
  if (shuffle) return {{g.b, g.c_out / 4, 2 * g.ho, 2 * g.wo}};
  return {{g.b, g.c_out, g.ho, g.wo}};
}

std::vector<paddle::DataType> FusedConvDtype(const paddle::DataType& t, const paddle::DataType&,
                                             const paddle::optional<paddle::DataType>&,
                                             const paddle::optional<paddle::DataType>&,
                                             const paddle::optional<paddle::DataType>&) {
  return {t};
}

}  // namespace

PD_BUILD_OP(edvr_conv_fused)
    .Inputs({"X", "Weight", paddle::Optional("Bias"), paddle::Optional("Residual"),
             paddle::Optional("X2")})
    .Outputs({"Out"})
    .Attrs({"ph: int", "pw: int", "activate: int", "slope: float", "residual_first: int",
            "winograd: int", "threads: int", "shuffle: int"})
    .SetKernelFn(PD_KERNEL(FusedConvOp))
    .SetInferShapeFn(PD_INFER_SHAPE(FusedConvShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(FusedConvDtype));

PD_BUILD_OP(edvr_conv_split_sigmoid)
    .Inputs({"X", "Weight", paddle::Optional("Bias")})
    .Outputs({"Out", "Out2"})
    .Attrs({"ph: int", "pw: int", "split: int", "threads: int"})
    .SetKernelFn(PD_KERNEL(SplitSigmoidConvOp))
    .SetInferShapeFn(PD_INFER_SHAPE(SplitSigmoidConvShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(SplitSigmoidConvDtype));
