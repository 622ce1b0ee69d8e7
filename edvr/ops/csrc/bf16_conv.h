// SPDX-License-Identifier: Apache-2.0
//
// The bfloat16 inference mode's kernels beyond those fused_conv.h declares (the bfloat16 register
// tile and direct kernel): Winograd, strided, narrow, and the bfloat16 conversions they share.
#pragma once

#include <cstdint>
#include <cstring>

#include "fused_conv.h"

#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif

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

#if defined(__AVX512BF16__)
// float32 -> bfloat16, round to nearest even (NaN stays NaN).
inline uint16_t ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline Bf16Pair PairOf(float even, float odd) {
  return static_cast<Bf16Pair>(ToBf16(even)) | (static_cast<Bf16Pair>(ToBf16(odd)) << 16);
}

// 16 pixels of two channel rows -> 16 pairs (even channel in the low half), one vector.
inline void PairRows(const float* even, const float* odd, Bf16Pair* out) {
  alignas(64) static const uint16_t order[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,
                                                  21, 6, 22, 7, 23, 8,  24, 9,  25, 10, 26,
                                                  11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i interleave = _mm512_load_si512(order);
  const __m512bh both = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(odd), _mm512_loadu_ps(even));
  _mm512_storeu_si512(out, _mm512_permutexvar_epi16(interleave, (__m512i)both));
}
#endif

}  // namespace edvr_ops
