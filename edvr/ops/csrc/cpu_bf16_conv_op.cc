// SPDX-License-Identifier: Apache-2.0
//
// The Paddle ops of the bfloat16 inference mode (AVX-512 BF16; kernels in cpu_bf16_winograd.cc,
// cpu_bf16_conv.cc and cpu_bf16_narrow.cc):
//
//   edvr_conv_bf16   the arguments and results of edvr_conv_fused and edvr_conv_split_sigmoid
//                    (cpu_fused_conv_op.cc) in one op: x (b, c1, h, w), weight
//                    (c_out, c, kh, kw), bias (c_out) or none, residual (b, c_out, ho, wo) or
//                    none, x2 (b, c - c1, h, w) or none -> Out = act(conv + bias) + residual
//                    (or act(conv + bias + residual) with `residual_first` 1) of
//                    concat([x, x2], 1), and Out2, float32 in and out, the products in
//                    bfloat16 with float32 sums: `winograd` 1 rounds the Winograd-transformed
//                    input and weights (3x3 only), 0 the input and weights of the direct sum.
//                    At most kNarrow output channels run on the narrow kernel's layout
//                    (vectors along the output row) with bfloat16 products (NarrowConvBf16;
//                    kernels up to 8 rows, else float32). On Winograd with more outputs (only
//                    there), as the float32 kernel stores them (winograd_store.h):
//                      x2: read in place (no concatenated copy);
//                      `shuffle` 1 (no residual, c_out divisible by 4): Out pixel-shuffled by
//                        2, (b, c_out / 4, 2 ho, 2 wo);
//                      `split` > 0 (no residual, a multiple of the vector width, below
//                        c_out): Out (b, split, ho, wo) = the first `split` channels and
//                        Out2 (b, c_out - split, ho, wo) = sigmoid of the others (a DCN's
//                        offsets and mask).
//                    `stride` 2 (direct kernel, more than kNarrow outputs, one value for both
//                    directions): the strided convolution, (b, c_out, (h + 2 ph - kh) / 2 + 1,
//                    (w + 2 pw - kw) / 2 + 1).
//                    Without `split`, Out2 is a placeholder of one value (Paddle 2.6 refuses an
//                    empty output).
//   edvr_bf16_probe  any tensor -> int32 (1): 1 if this build runs AVX-512 BF16, else 0.
//
// edvr_conv_bf16 fails on a build without AVX-512 BF16 (the caller checks the probe).
#include <vector>

#include "bf16_conv.h"
#include "conv_geometry.h"
#include "op_checks.h"
#include "paddle/extension.h"

namespace {

using edvr_ops::CheckFloat;
using edvr_ops::Geometry;

// ConvGeometry with stride 1 or 2 (the direct kernel's strides).
Geometry Bf16Geometry(const std::vector<int64_t>& x, const std::vector<int64_t>& w, int ph,
                      int pw, const std::vector<int64_t>* x2, int stride) {
  PD_CHECK(stride == 1 || stride == 2, "stride must be 1 or 2");
  return edvr_ops::ConvGeometry(x, w, ph, pw, x2, stride);
}

// The shapes of Out and Out2 (see the top of the file).
std::vector<std::vector<int64_t>> Bf16Shapes(const Geometry& g, int shuffle, int split) {
  if (shuffle) return {{g.b, g.c_out / 4, 2 * g.ho, 2 * g.wo}, {1}};
  if (split) return {{g.b, split, g.ho, g.wo}, {g.b, g.c_out - split, g.ho, g.wo}};
  return {{g.b, g.c_out, g.ho, g.wo}, {1}};
}

std::vector<paddle::Tensor> Bf16ConvOp(const paddle::Tensor& x, const paddle::Tensor& weight,
                                       const paddle::optional<paddle::Tensor>& bias,
                                       const paddle::optional<paddle::Tensor>& residual,
                                       const paddle::optional<paddle::Tensor>& x2,
                                       int ph, int pw, int activate, float slope,
                                       int residual_first, int winograd, int threads,
                                       int shuffle, int split, int stride) {
  PD_CHECK(edvr_ops::Bf16Available(), "this build has no AVX-512 BF16");
  CheckFloat(x, "x");
  CheckFloat(weight, "weight");
  std::vector<int64_t> x2_shape;
  if (x2) {
    CheckFloat(*x2, "x2");
    x2_shape = x2->shape();
  }
  const Geometry g =
      Bf16Geometry(x.shape(), weight.shape(), ph, pw, x2 ? &x2_shape : nullptr, stride);
  const bool on_winograd = winograd && g.c_out > edvr_ops::kNarrow;
  PD_CHECK(stride == 1 || (!winograd && g.c_out > edvr_ops::kNarrow),
           "stride 2 runs on the direct kernel with more than ", edvr_ops::kNarrow, " outputs");
  PD_CHECK(on_winograd || (!x2 && !shuffle && !split),
           "x2, shuffle and split need Winograd (3x3) and more than ", edvr_ops::kNarrow,
           " outputs");
  PD_CHECK(!shuffle || (g.c_out % 4 == 0 && !residual && !split),
           "shuffle needs output channels divisible by 4, no residual and no split");
  PD_CHECK(!split || (split > 0 && split < g.c_out && split % edvr_ops::kLanes == 0 &&
                      !residual),
           "split must lie inside the output channels, be a multiple of ", edvr_ops::kLanes,
           " and come without a residual");
  const edvr_ops::Epilogue epilogue =
      edvr_ops::ConvEpilogue(g, bias, residual, activate != 0, slope, residual_first != 0);
  const auto shapes = Bf16Shapes(g, shuffle, split);
  auto y = paddle::empty(shapes[0], paddle::DataType::FLOAT32, paddle::CPUPlace());
  auto y2 = paddle::empty(shapes[1], paddle::DataType::FLOAT32, paddle::CPUPlace());
  if (!split) y2.data<float>()[0] = 0.f;
  const float* xd = x.data<float>();
  const float* wd = weight.data<float>();
  if (on_winograd) {
    PD_CHECK(g.kh == 3 && g.kw == 3, "Winograd needs a 3x3 kernel");
    edvr_ops::Bf16WinogradConv(
        edvr_ops::Inputs{xd, x2 ? x2->data<float>() : nullptr, x.shape()[1]}, wd,
        edvr_ops::Outputs{y.data<float>(), shuffle != 0, split ? y2.data<float>() : nullptr,
                          split ? split : g.c_out},
        g, epilogue, threads);
  } else if (g.c_out <= edvr_ops::kNarrow && g.kh <= 8) {
    edvr_ops::NarrowConvBf16(xd, wd, y.data<float>(), g, epilogue, threads);
  } else if (g.c_out <= edvr_ops::kNarrow) {
    edvr_ops::NarrowConv(xd, wd, y.data<float>(), g, epilogue, threads);
  } else {
    edvr_ops::StridedConvBf16(xd, wd, y.data<float>(), g, epilogue, stride, threads);
  }
  return {y, y2};
}

std::vector<std::vector<int64_t>> Bf16ConvShape(const std::vector<int64_t>& x,
                                                const std::vector<int64_t>& w,
                                                const paddle::optional<std::vector<int64_t>>&,
                                                const paddle::optional<std::vector<int64_t>>&,
                                                const paddle::optional<std::vector<int64_t>>& x2,
                                                int ph, int pw, int, float, int, int, int,
                                                int shuffle, int split, int stride) {
  return Bf16Shapes(Bf16Geometry(x, w, ph, pw, x2 ? &*x2 : nullptr, stride), shuffle, split);
}

std::vector<paddle::DataType> Bf16ConvDtype(const paddle::DataType& t, const paddle::DataType&,
                                            const paddle::optional<paddle::DataType>&,
                                            const paddle::optional<paddle::DataType>&,
                                            const paddle::optional<paddle::DataType>&) {
  return {t, t};
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
    .Inputs({"X", "Weight", paddle::Optional("Bias"), paddle::Optional("Residual"),
             paddle::Optional("X2")})
    .Outputs({"Out", "Out2"})
    .Attrs({"ph: int", "pw: int", "activate: int", "slope: float", "residual_first: int",
            "winograd: int", "threads: int", "shuffle: int", "split: int", "stride: int"})
    .SetKernelFn(PD_KERNEL(Bf16ConvOp))
    .SetInferShapeFn(PD_INFER_SHAPE(Bf16ConvShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(Bf16ConvDtype));

PD_BUILD_OP(edvr_bf16_probe)
    .Inputs({"X"})
    .Outputs({"Out"})
    .SetKernelFn(PD_KERNEL(Bf16ProbeOp))
    .SetInferShapeFn(PD_INFER_SHAPE(Bf16ProbeShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(Bf16ProbeDtype));
