// SPDX-License-Identifier: Apache-2.0
//
// How a Winograd kernel stores an output tile, one code for both precisions: the float32
// kernel (cpu_winograd_conv.cc) and the bfloat16 one (cpu_bf16_winograd.cc) hand over the
// same tile, M x M positions of up to kLanes output channels (tile[i * M + j], lanes =
// channels), after their output transform, bias and activation, and it goes where
// fused_conv.h's Outputs says: plain (with the Epilogue's residual), pixel-shuffled by 2, or
// split into DCN offsets and a sigmoid mask.
#pragma once

#include <algorithm>
#include <cstring>

#include "fused_conv.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace edvr_ops {

#if defined(__AVX512F__)
// One 4x4 output tile of kLanes channels: tile[i * 4 + j] holds position (i, j) of every
// channel (lanes = channels). Stored into y (channel l's row i at y[l * plane + i * row]) four
// pixels at a time: each row's four vectors are transposed in 128-bit lanes, so that lane q of
// `quad[c]` holds channel 4q + c. The residual (at the same offsets from e.residual + at) and,
// with residual_first, the activation are applied here, as the scalar path does.
inline void StoreTile4x4(const Vec* tile, float* y, int64_t plane, int64_t row,
                         const Epilogue& e, int64_t at) {
  const float* residual = e.residual ? e.residual + at : nullptr;
  const __m128 slope = _mm_set1_ps(e.slope);
  for (int i = 0; i < 4; ++i) {
    const __m512 r0 = (__m512)tile[i * 4], r1 = (__m512)tile[i * 4 + 1];
    const __m512 r2 = (__m512)tile[i * 4 + 2], r3 = (__m512)tile[i * 4 + 3];
    const __m512 lo01 = _mm512_unpacklo_ps(r0, r1), hi01 = _mm512_unpackhi_ps(r0, r1);
    const __m512 lo23 = _mm512_unpacklo_ps(r2, r3), hi23 = _mm512_unpackhi_ps(r2, r3);
    const __m512 quad[4] = {_mm512_shuffle_ps(lo01, lo23, 0x44), _mm512_shuffle_ps(lo01, lo23, 0xEE),
                            _mm512_shuffle_ps(hi01, hi23, 0x44), _mm512_shuffle_ps(hi01, hi23, 0xEE)};
    for (int c = 0; c < 4; ++c) {
      alignas(64) float lanes[16];
      _mm512_store_ps(lanes, quad[c]);
      for (int q = 0; q < 4; ++q) {
        const int64_t offset = (4 * q + c) * plane + i * row;
        __m128 v = _mm_load_ps(lanes + 4 * q);
        if (residual) {
          v = _mm_add_ps(v, _mm_loadu_ps(residual + offset));
          if (e.residual_first && e.activate)
            v = _mm_blendv_ps(v, _mm_mul_ps(v, slope), _mm_cmplt_ps(v, _mm_setzero_ps()));
        }
        _mm_storeu_ps(y + offset, v);
      }
    }
  }
}
#endif

// An M x M output tile of `count` channels from `first` (tile[i * M + j], lanes = channels),
// stored pixel-shuffled by 2: channel o's pixel (oy, ox) goes to channel o / 4, pixel
// (2 oy + o % 4 / 2, 2 ox + o % 2) of y (b, c_out / 4, 2 ho, 2 wo). With AVX-512 a whole 4x4
// tile of 16 channels is stored 8 pixels at a time: channels 2p and 2p + 1 of the four
// pixels of a tile row, read as 64-bit pairs, are one output row's 8 values.
template <int M>
inline void StoreShuffled(const Vec* tile, float* y, const Geometry& g, int64_t n,
                          int64_t first, int64_t count, int64_t oy0, int64_t ox0, int rows_out,
                          int cols_out) {
  const int64_t c4 = g.c_out / 4, row = 2 * g.wo;
  auto at = [&](int64_t o, int64_t oy, int64_t ox) {
    return ((n * c4 + o / 4) * 2 * g.ho + 2 * oy + o % 4 / 2) * row + 2 * ox + o % 2;
  };
#if defined(__AVX512F__)
  if (M == 4 && rows_out == M && cols_out == M && count == kLanes) {
    const __m512i even = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    const __m512i odd = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    for (int i = 0; i < M; ++i) {
      const __m512d a = (__m512d)tile[i * M], b = (__m512d)tile[i * M + 1];
      const __m512d c = (__m512d)tile[i * M + 2], d = (__m512d)tile[i * M + 3];
      const __m512d lo_ab = _mm512_unpacklo_pd(a, b), hi_ab = _mm512_unpackhi_pd(a, b);
      const __m512d lo_cd = _mm512_unpacklo_pd(c, d), hi_cd = _mm512_unpackhi_pd(c, d);
      // pairs p = 0, 2 | 4, 6 | 1, 3 | 5, 7: the low and high 256 bits of each
      const __m512d rows4[4] = {_mm512_permutex2var_pd(lo_ab, even, lo_cd),
                                _mm512_permutex2var_pd(lo_ab, odd, lo_cd),
                                _mm512_permutex2var_pd(hi_ab, even, hi_cd),
                                _mm512_permutex2var_pd(hi_ab, odd, hi_cd)};
      const int pairs[4][2] = {{0, 2}, {4, 6}, {1, 3}, {5, 7}};
      for (int k = 0; k < 4; ++k) {
        const __m512 v = _mm512_castpd_ps(rows4[k]);
        _mm256_storeu_ps(y + at(first + 2 * pairs[k][0], oy0 + i, ox0), _mm512_castps512_ps256(v));
        _mm256_storeu_ps(y + at(first + 2 * pairs[k][1], oy0 + i, ox0),
                         _mm512_extractf32x8_ps(v, 1));
      }
    }
    return;
  }
#endif
  float lanes[M * M][kLanes];
  std::memcpy(lanes, tile, sizeof(lanes));
  for (int64_t lane = 0; lane < count; ++lane)
    for (int i = 0; i < rows_out; ++i)
      for (int j = 0; j < cols_out; ++j)
        y[at(first + lane, oy0 + i, ox0 + j)] = lanes[i * M + j][lane];
}

// Lanes [0, count) of the M x M tile `out` (channels first .. first + count - 1, bias and
// activation applied), of which rows_out x cols_out lie inside the output at (oy0, ox) of
// sample n, stored as `dst` says: pixel-shuffled into dst.y; or, with dst.y2, channels below
// dst.split into dst.y and the others through a sigmoid (computed in `out`) into dst.y2;
// or plain into dst.y, with e's residual and, with e.residual_first, e's activation applied
// here. Whole 4x4 tiles of kLanes channels take the vector stores above.
template <int M>
inline void StoreWinogradTile(Vec* out, const Outputs& dst, const Geometry& g,
                              const Epilogue& e, int64_t n, int64_t first, int64_t count,
                              int64_t oy0, int64_t ox, int rows_out, int cols_out) {
  if (dst.shuffle) {
    StoreShuffled<M>(out, dst.y, g, n, first, count, oy0, ox, rows_out, cols_out);
    return;
  }
  float* y = dst.y;
  int64_t c_out = dst.y2 ? dst.split : g.c_out;
  if (dst.y2 && first >= dst.split) {  // the second output: sigmoid
    y = dst.y2;
    first -= dst.split;
    c_out = g.c_out - dst.split;
    for (int k = 0; k < M * M; ++k) out[k] = Sigmoid(out[k]);
  }
  const int64_t at = ((n * c_out + first) * g.ho + oy0) * g.wo + ox;
#if defined(__AVX512F__)
  if (M == 4 && rows_out == M && cols_out == M && count >= kLanes) {
    StoreTile4x4(out, y + at, g.ho * g.wo, g.wo, e, at);
    return;
  }
#endif
  float lanes[M * M][kLanes];
  std::memcpy(lanes, out, sizeof(lanes));
  for (int64_t lane = 0; lane < count; ++lane) {
    for (int i = 0; i < rows_out; ++i) {
      const int64_t row = at + lane * g.ho * g.wo + i * g.wo;
      if (e.residual && e.residual_first) {
        for (int j = 0; j < cols_out; ++j) {
          const float v = lanes[i * M + j][lane] + e.residual[row + j];
          y[row + j] = e.activate && v < 0.f ? v * e.slope : v;
        }
      } else if (e.residual) {
        for (int j = 0; j < cols_out; ++j)
          y[row + j] = lanes[i * M + j][lane] + e.residual[row + j];
      } else {
        for (int j = 0; j < cols_out; ++j) y[row + j] = lanes[i * M + j][lane];
      }
    }
  }
}

}  // namespace edvr_ops
