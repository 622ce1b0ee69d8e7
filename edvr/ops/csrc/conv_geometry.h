// SPDX-License-Identifier: Apache-2.0
//
// The checked Geometry and Epilogue of a fused convolution op's call (edvr_conv_fused,
// edvr_conv_split_sigmoid, edvr_conv_bf16).
#pragma once

#include <cstdint>
#include <vector>

#include "fused_conv.h"
#include "op_checks.h"
#include "paddle/extension.h"

namespace edvr_ops {

// x (b, c1, h, w) and, when given, x2 (b, c - c1, h, w) read as one input of c channels;
// weight (c_out, c, kh, kw); padding below the kernel size; the output (ho, wo) of `stride`.
// Fails the op with a message naming what does not fit.
inline Geometry ConvGeometry(const std::vector<int64_t>& x, const std::vector<int64_t>& w,
                             int ph, int pw, const std::vector<int64_t>* x2 = nullptr,
                             int stride = 1) {
  PD_CHECK(x.size() == 4 && w.size() == 4, "x and weight must be 4-D");
  int64_t c = x[1];
  if (x2) {
    PD_CHECK(x2->size() == 4 && (*x2)[0] == x[0] && (*x2)[2] == x[2] && (*x2)[3] == x[3],
             "x2 must be 4-D with x's batch, height and width");
    c += (*x2)[1];
  }
  PD_CHECK(c == w[1], "weight has ", w[1], " input channels, x (and x2) ", c);
  Geometry g{x[0], c, x[2], x[3], w[0], 0, 0, static_cast<int>(w[2]),
             static_cast<int>(w[3]), ph, pw};
  PD_CHECK(ph >= 0 && ph < g.kh && pw >= 0 && pw < g.kw,
           "padding must be below the kernel size");
  g.ho = (g.h + 2 * ph - g.kh) / stride + 1;
  g.wo = (g.w + 2 * pw - g.kw) / stride + 1;
  PD_CHECK(g.ho > 0 && g.wo > 0, "input smaller than the kernel");
  return g;
}

// The Epilogue of a call with geometry g: bias (c_out) and residual (g's output shape), each
// float32 on the CPU or absent. Fails the op with a message naming what does not fit.
inline Epilogue ConvEpilogue(const Geometry& g, const paddle::optional<paddle::Tensor>& bias,
                             const paddle::optional<paddle::Tensor>& residual, bool activate,
                             float slope, bool residual_first) {
  Epilogue epilogue{nullptr, nullptr, activate, slope, residual_first};
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
  return epilogue;
}

}  // namespace edvr_ops
