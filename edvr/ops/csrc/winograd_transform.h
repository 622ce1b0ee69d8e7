// SPDX-License-Identifier: Apache-2.0
//
// The transforms of Winograd F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", CVPR 2016), shared by the float32 and bfloat16 forward kernels and the
// weight gradient: a 4x4 output tile Y from the 6x6 input patch d under it,
//
//   Y = AT [ sum over input channels of (G g GT) .* (BT d B) ] A,
//
// the matrices themselves (`Matrices<4>`), `Apply` (any of them, one vector per row),
// `Matrices<4>::Input` / `Output` (BT and AT with their shared terms computed once) and
// `TransformAlongY` / `TransformAlongX` (BT down the input rows with masked loads, then
// across a row of tiles, 16 or 8 tiles per vector) and
// `TransformWeights` (G g GT of every kernel, packed for the register tile).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "fused_conv.h"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace edvr_ops {

// out[r * out_step] = sum over k of a[r][k] * in[k * in_step]; zero terms drop out at
// compile time (the loops unroll over the constant matrix).
template <int R, int K, typename V>
inline void Apply(const float (&a)[R][K], const V* in, int64_t in_step, V* out,
                  int64_t out_step) {
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    V sum = V{};
#pragma GCC unroll 8
    for (int k = 0; k < K; ++k)
      if (a[r][k] != 0.f) sum += in[k * in_step] * a[r][k];
    out[r * out_step] = sum;
  }
}

template <int M>
struct Matrices;

template <>
struct Matrices<4> {  // interpolation points 0, 1, -1, 2, -2 and infinity
  static constexpr float BT[6][6] = {{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0},
                                     {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                     {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr double G[6][3] = {{1. / 4, 0, 0},           {-1. / 6, -1. / 6, -1. / 6},
                                     {-1. / 6, 1. / 6, -1. / 6}, {1. / 24, 1. / 12, 1. / 6},
                                     {1. / 24, -1. / 12, 1. / 6}, {0, 0, 1}};
  static constexpr float AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0},
                                     {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
  static constexpr float A[6][4] = {{1, 0, 0, 0}, {1, 1, 1, 1}, {1, -1, 1, -1},
                                    {1, 2, 4, 8}, {1, -2, 4, -8}, {0, 0, 0, 1}};  // AT transposed

  // out[r * out_step] = (BT d)[r], d[k] = in[k * in_step], with the terms that rows share
  // computed once: 12 operations instead of 22.
  template <typename V>
  static constexpr void Input(const V* in, int64_t in_step, V* out, int64_t out_step) {
    const V d0 = in[0], d1 = in[in_step], d2 = in[2 * in_step], d3 = in[3 * in_step];
    const V d4 = in[4 * in_step], d5 = in[5 * in_step];
    const V even = d2 * -4.f + d4, odd = d1 * -4.f + d3;  // rows 1, 2
    const V d42 = d4 - d2, d31 = d3 - d1;                 // rows 3, 4
    out[0] = d0 * 4.f + (d2 * -5.f + d4);
    out[out_step] = even + odd;
    out[2 * out_step] = even - odd;
    out[3 * out_step] = d31 * 2.f + d42;
    out[4 * out_step] = d31 * -2.f + d42;
    out[5 * out_step] = d1 * 4.f + (d3 * -5.f + d5);
  }

  // out[r * out_step] = (AT m)[r], m[k] = in[k * in_step]: 10 operations instead of 18.
  template <typename V>
  static constexpr void Output(const V* in, int64_t in_step, V* out, int64_t out_step) {
    const V m1 = in[in_step], m2 = in[2 * in_step], m3 = in[3 * in_step], m4 = in[4 * in_step];
    const V sum12 = m1 + m2, diff12 = m1 - m2, sum34 = m3 + m4, diff34 = m3 - m4;
    out[0] = (in[0] + sum12) + sum34;
    out[out_step] = diff34 * 2.f + diff12;
    out[2 * out_step] = sum34 * 4.f + sum12;
    out[3 * out_step] = diff34 * 8.f + (diff12 + in[5 * in_step]);
  }
};

// Input and Output multiply by BT and AT: each column of the matrices, from a unit vector.
template <int R, typename F>
constexpr bool Multiplies(const float (&a)[R][6], F transform) {
  for (int k = 0; k < 6; ++k) {
    float unit[6] = {}, out[R] = {};
    unit[k] = 1.f;
    transform(unit, out);
    for (int r = 0; r < R; ++r)
      if (out[r] != a[r][k]) return false;
  }
  return true;
}
static_assert(Multiplies(Matrices<4>::BT, [](const float* d, float* out) {
  Matrices<4>::Input(d, 1, out, 1);
}));
static_assert(Multiplies(Matrices<4>::AT, [](const float* m, float* out) {
  Matrices<4>::Output(m, 1, out, 1);
}));
constexpr bool Transposed(const float (&at)[4][6], const float (&a)[6][4]) {
  for (int r = 0; r < 4; ++r)
    for (int k = 0; k < 6; ++k)
      if (at[r][k] != a[k][r]) return false;
  return true;
}
static_assert(Transposed(Matrices<4>::AT, Matrices<4>::A));

// BT along x: row holds a transformed input row, tile t starting at row[t * M]; writes
// out[xi * out_step + t] for the first `tiles` tiles, 16 or 8 at a time where it can: with
// AVX-512 (M = 4) each of the 6 values of 8 tiles is picked out of two loaded vectors by one
// permute (reading up to 20 floats past the 8 tiles' own 34), those of 16 tiles by two
// permutes and a blend; with AVX2, gathered.
template <int M>
inline void TransformAlongX(const float* row, int64_t tiles, float* out, int64_t out_step) {
  constexpr int T = M + 2;
#if defined(__AVX2__)
  typedef float Vec8 __attribute__((vector_size(32)));
  const __m256i every_tile = _mm256_setr_epi32(0, M, 2 * M, 3 * M, 4 * M, 5 * M, 6 * M, 7 * M);
#if defined(__AVX512F__)
  const __m512i pick[2] = {_mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0),
                           _mm512_setr_epi32(1, 5, 9, 13, 17, 21, 25, 29, 0, 0, 0, 0, 0, 0, 0, 0)};
#endif
  int64_t t0 = 0;
#if defined(__AVX512F__)
  if constexpr (M == 4) {  // 16 tiles at a time: tiles 0..7 from at[0..35], 8..15 from at[32..67]
    const __m512i base = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
    for (; t0 + 16 <= tiles; t0 += 16) {
      const float* at = row + t0 * M;
      const __m512 a[4] = {_mm512_loadu_ps(at), _mm512_loadu_ps(at + 16), _mm512_loadu_ps(at + 32),
                           _mm512_loadu_ps(at + 48)};
      const __m512 b[4] = {_mm512_loadu_ps(at + 4), _mm512_loadu_ps(at + 20),
                           _mm512_loadu_ps(at + 36), _mm512_loadu_ps(at + 52)};
      Vec d[T], r[T];
      for (int j = 0; j < T; ++j) {
        const __m512* src = j < 4 ? a : b;
        const __m512i index = _mm512_add_epi32(base, _mm512_set1_epi32(j < 4 ? j : j - 4));
        const __m512 lo = _mm512_permutex2var_ps(src[0], index, src[1]);
        const __m512 hi = _mm512_permutex2var_ps(src[2], index, src[3]);
        d[j] = (Vec)_mm512_mask_blend_ps(0xFF00, lo, hi);
      }
      Matrices<M>::Input(d, 1, r, 1);
      for (int j = 0; j < T; ++j) std::memcpy(out + j * out_step + t0, &r[j], sizeof(Vec));
    }
  }
#endif
  for (; t0 + 8 <= tiles; t0 += 8) {
    Vec8 d[T], r[T];
    const float* at = row + t0 * M;
#if defined(__AVX512F__)
    if constexpr (M == 4) {  // value j of tile i is at[j + 4i]: j = 0..3 from at[0..31], 4, 5 from at[4..35]
      const __m512 a0 = _mm512_loadu_ps(at), a1 = _mm512_loadu_ps(at + 16);
      const __m512 b0 = _mm512_loadu_ps(at + 4), b1 = _mm512_loadu_ps(at + 20);
      for (int j = 0; j < T; ++j) {
        const __m512i index = _mm512_add_epi32(pick[j % 2], _mm512_set1_epi32(j < 4 ? j / 2 * 2 : 0));
        const __m512 picked = j < 4 ? _mm512_permutex2var_ps(a0, index, a1)
                                    : _mm512_permutex2var_ps(b0, index, b1);
        d[j] = reinterpret_cast<Vec8>(_mm512_castps512_ps256(picked));
      }
    } else
#endif
    {
      for (int j = 0; j < T; ++j)
        d[j] = reinterpret_cast<Vec8>(_mm256_i32gather_ps(at + j, every_tile, 4));
    }
    Matrices<M>::Input(d, 1, r, 1);
    for (int j = 0; j < T; ++j) std::memcpy(out + j * out_step + t0, &r[j], sizeof(Vec8));
  }
  const int64_t first = tiles / 8 * 8;
#else
  const int64_t first = 0;
#endif
  for (int64_t t = first; t < tiles; ++t) Matrices<M>::Input(row + t * M, 1, out + t, out_step);
}

#if defined(__AVX512F__)
// The masks of a chunk's input columns, kVecs vectors of kLanes: lane j of vector k is column
// k * kLanes + j of the chunk, read where it lies inside the input ([lo, hi)), else zero
// (masked lanes are never read).
template <int kVecs>
struct ChunkColumns {
  __mmask16 masks[kVecs];

  ChunkColumns(int64_t lo, int64_t hi) {
    for (int64_t k = 0; k < kVecs; ++k) {
      uint32_t bits = 0;
      for (int j = 0; j < kLanes; ++j)
        if (k * kLanes + j >= lo && k * kLanes + j < hi) bits |= 1u << j;
      masks[k] = static_cast<__mmask16>(bits);
    }
  }
};

// BT along y of the 6 input rows under a row of tiles of one channel, straight from the
// channel's plane xc (h x w; rows iy0 .. iy0 + 5, zeros outside, columns from ix0): the
// first `vecs` vectors of each transformed row into across[r * kVecs + k].
template <int kVecs>
inline void TransformAlongY(const float* xc, int64_t h, int64_t w, int64_t iy0, int64_t ix0,
                            const ChunkColumns<kVecs>& columns, int64_t vecs, Vec* across) {
  const float* src[6];
  for (int i = 0; i < 6; ++i) {
    const int64_t iy = iy0 + i;
    src[i] = iy >= 0 && iy < h ? xc + iy * w + ix0 : nullptr;
  }
  for (int64_t k = 0; k < vecs; ++k) {
    const __mmask16 mask = columns.masks[k];
    Vec d[6];
    for (int i = 0; i < 6; ++i)
      d[i] = src[i] && mask ? (Vec)_mm512_maskz_loadu_ps(mask, src[i] + k * kLanes) : Vec{};
    Matrices<4>::Input(d, 1, across + k, kVecs);
  }
}
#endif

// G g GT of every (o, ci) -> [block of kBlock output channels][xi][c][kBlock], zero-filled.
template <int M>
inline std::vector<Vec> TransformWeights(const float* w, const Geometry& g, int threads) {
  constexpr int T = M + 2;
  using Mat = Matrices<M>;
  const int64_t blocks = (g.c_out + kBlock - 1) / kBlock;
  std::vector<Vec> packed(blocks * T * T * g.c * kOutVecs, Vec{});
  float* dst = reinterpret_cast<float*>(packed.data());
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t o = 0; o < g.c_out; ++o)
    for (int64_t ci = 0; ci < g.c; ++ci) {
      const float* k = w + (o * g.c + ci) * 9;
      double gk[T][3];  // G g
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < 3; ++j)
          gk[i][j] = Mat::G[i][0] * k[j] + Mat::G[i][1] * k[3 + j] + Mat::G[i][2] * k[6 + j];
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j) {
          const double u = gk[i][0] * Mat::G[j][0] + gk[i][1] * Mat::G[j][1] +
                           gk[i][2] * Mat::G[j][2];
          dst[(((o / kBlock) * T * T + i * T + j) * g.c + ci) * kBlock + o % kBlock] =
              static_cast<float>(u);
        }
    }
  return packed;
}

}  // namespace edvr_ops
