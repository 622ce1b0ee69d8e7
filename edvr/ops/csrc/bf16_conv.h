// SPDX-License-Identifier: Apache-2.0
//
// The bfloat16 inference mode's kernels beyond fused_conv.h's prototype declarations.
#pragma once

#include "fused_conv.h"

namespace edvr_ops {

// Winograd F(4x4, 3x3) with bfloat16 products and float32 sums (cpu_bf16_winograd.cc): the
// arguments and outputs of WinogradConv (Inputs read in place, Outputs stored by
// winograd_store.h, the float32 kernel's code). Needs Bf16Available(); without it, does
// nothing.
void Bf16WinogradConv(const Inputs& in, const float* w, const Outputs& out, const Geometry& g,
                      const Epilogue& e, int threads);
// The same with one input x and the plain output y (the arguments of WinogradConv's first form).
void Bf16WinogradConv(const float* x, const float* w, float* y, const Geometry& g,
                      const Epilogue& e, int threads);

// DirectConvBf16 with stride `stride` (1 or 2; others do nothing) in both directions, g.ho and
// g.wo the strided output's size: (h + 2 ph - kh) / stride + 1, and the same for w.
void StridedConvBf16(const float* x, const float* w, float* y, const Geometry& g,
                     const Epilogue& e, int stride, int threads);

// NarrowConv (fused_conv.h: at most kNarrow output channels, stride 1, kh up to 8) with
// bfloat16 inputs and weights, float32 sums.
void NarrowConvBf16(const float* x, const float* w, float* y, const Geometry& g,
                    const Epilogue& e, int threads);

}  // namespace edvr_ops
