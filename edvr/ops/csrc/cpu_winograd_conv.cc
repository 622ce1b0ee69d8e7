// SPDX-License-Identifier: Apache-2.0
//
// Winograd convolution F(m x m, 3 x 3), here m = 4 (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", CVPR 2016); see fused_conv.h. An m x m output tile comes
// from the (m+2) x (m+2) input patch d under it:
//
//   Y = AT [ sum over input channels of (G g GT) .* (BT d B) ] A
//
// which takes (m+2)^2 products per channel pair instead of 9 m^2 (4x fewer for m = 4).
// For each of the (m+2)^2 positions xi the channel sum is a matrix product
// (tiles x c) @ (c x c_out), run on the direct kernel's register tile (kPixels tiles by
// kBlock output channels; tile values broadcast, transformed weights loaded as vectors).
// Work unit: one row of tiles of one sample, in chunks of kChunk tiles:
//   1. per input channel: BT along y (vectors along x), then BT along x per tile -> V[xi][c][t]
//   2. per output-channel block and xi: the products -> M[t][xi][kBlock] (in bfloat16 for
//      WinogradConvBf16: V and the transformed weights rounded, sums in float32)
//   3. AT on both sides, then bias, activation and residual, stored into y (NCHW).
// Rows of tiles are split over threads with OpenMP.
#include <algorithm>
#include <cstring>
#include <vector>

#include "fused_conv.h"
#include "winograd_store.h"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace edvr_ops {
namespace {

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
};

// out[r * out_step] = sum over k of A[r][k] * in[k * in_step]; zero terms drop out at
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
      Apply(Matrices<M>::BT, d, 1, r, 1);
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
    Apply(Matrices<M>::BT, d, 1, r, 1);
    for (int j = 0; j < T; ++j) std::memcpy(out + j * out_step + t0, &r[j], sizeof(Vec8));
  }
  const int64_t first = tiles / 8 * 8;
#else
  const int64_t first = 0;
#endif
  for (int64_t t = first; t < tiles; ++t) Apply(Matrices<M>::BT, row + t * M, 1, out + t, out_step);
}

// G g GT of every (o, ci) -> [block of kBlock output channels][xi][c][kBlock], zero-filled.
template <int M>
std::vector<Vec> TransformWeights(const float* w, const Geometry& g, int threads) {
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

template <int M, bool Bf16>
void Winograd(const Inputs& in, const float* w, const Outputs& dst, const Geometry& g,
              const Epilogue& e, int threads) {
  constexpr int T = M + 2, XI = T * T;
  constexpr int64_t kChunk = 2 * kPixels;                     // tiles per chunk
  constexpr int64_t kWidth = (kChunk * M + 2 + kLanes - 1) / kLanes * kLanes;
  using Mat = Matrices<M>;
  const std::vector<Vec> u = TransformWeights<M>(w, g, threads);
  const int64_t blocks = (g.c_out + kBlock - 1) / kBlock, pairs = (g.c + 1) / 2;
  const std::vector<Vec> u_pairs =
      Bf16 ? PackPairs(reinterpret_cast<const float*>(u.data()), blocks * XI, g.c)
           : std::vector<Vec>();
  std::vector<Vec> bias(blocks * kOutVecs, Vec{});  // zero-padded to whole blocks
  if (e.bias) std::memcpy(bias.data(), e.bias, sizeof(float) * g.c_out);
  const int64_t tile_rows = (g.ho + M - 1) / M, tile_cols = (g.wo + M - 1) / M;
#pragma omp parallel num_threads(threads)
  {
    std::vector<Vec> rows(T * kWidth / kLanes), across(T * kWidth / kLanes);
    std::vector<float> v(XI * g.c * kChunk);
    std::vector<Bf16Pair> v_pairs(Bf16 ? XI * pairs * kChunk : 0);
    std::vector<Vec> m(kChunk * XI * kOutVecs);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < g.b * tile_rows; ++r) {
      const int64_t n = r / tile_rows, oy0 = r % tile_rows * M, iy0 = oy0 - g.ph;
      const int64_t plane = g.h * g.w, c2 = g.c - in.c1;
      const float* xn = in.x + n * in.c1 * plane;
      const float* x2n = in.x2 ? in.x2 + n * c2 * plane : nullptr;
      for (int64_t t0 = 0; t0 < tile_cols; t0 += kChunk) {
        const int64_t ox0 = t0 * M, ix0 = ox0 - g.pw;
        const int64_t lo = std::max<int64_t>(0, -ix0);
        const int64_t hi = std::min<int64_t>(kChunk * M + 2, g.w - ix0);
        // 1. input transform of every channel: V[xi][ci][t]
#if defined(__AVX512F__)
        // Columns [lo, hi) of the chunk's kWidth lie inside the input: vector k of a row
        // loads its lanes there and zeros elsewhere (masked lanes are never read).
        __mmask16 masks[kWidth / kLanes];
        for (int64_t k = 0; k < kWidth / kLanes; ++k) {
          uint32_t bits = 0;
          for (int j = 0; j < kLanes; ++j)
            if (k * kLanes + j >= lo && k * kLanes + j < hi) bits |= 1u << j;
          masks[k] = static_cast<__mmask16>(bits);
        }
#endif
        for (int64_t ci = 0; ci < g.c; ++ci) {
          const float* xc = ci < in.c1 ? xn + ci * plane : x2n + (ci - in.c1) * plane;
#if defined(__AVX512F__)
          // BT along y straight from the input rows, kLanes columns at once
          const float* src[T];
          for (int i = 0; i < T; ++i) {
            const int64_t iy = iy0 + i;
            src[i] = iy >= 0 && iy < g.h ? xc + iy * g.w + ix0 : nullptr;
          }
          for (int64_t k = 0; k < kWidth / kLanes; ++k) {
            Vec d[T];
            for (int i = 0; i < T; ++i)
              d[i] = src[i] && masks[k] ? (Vec)_mm512_maskz_loadu_ps(masks[k], src[i] + k * kLanes)
                                        : Vec{};
            Apply(Mat::BT, d, 1, across.data() + k, kWidth / kLanes);
          }
#else
          float* rf = reinterpret_cast<float*>(rows.data());
          std::fill(rf, rf + T * kWidth, 0.f);
          for (int i = 0; i < T; ++i) {
            const int64_t iy = iy0 + i;
            if (iy >= 0 && iy < g.h && lo < hi)
              std::memcpy(rf + i * kWidth + lo, xc + iy * g.w + ix0 + lo,
                          sizeof(float) * (hi - lo));
          }
          for (int64_t k = 0; k < kWidth / kLanes; ++k)  // BT along y, kLanes columns at once
            Apply(Mat::BT, rows.data() + k, kWidth / kLanes, across.data() + k,
                  kWidth / kLanes);
#endif
          const float* af = reinterpret_cast<const float*>(across.data());
          for (int i = 0; i < T; ++i)
            TransformAlongX<M>(af + i * kWidth, kChunk, v.data() + (i * T * g.c + ci) * kChunk,
                               g.c * kChunk);
        }
        if (Bf16) PairChannels(v.data(), XI, g.c, kChunk, v_pairs.data());
        // 2. products per output-channel block, then 3. output transform and store
        const int64_t tiles = std::min<int64_t>(kChunk, tile_cols - t0);
        for (int64_t blk = 0; blk < blocks; ++blk) {
          const Vec* ub = u.data() + blk * XI * g.c * kOutVecs;
          const Vec* ub_pairs = u_pairs.data() + blk * XI * pairs * kOutVecs;
          for (int xi = 0; xi < XI; ++xi)
            for (int64_t p0 = 0; p0 < tiles; p0 += kPixels) {
              const int count = static_cast<int>(std::min<int64_t>(kPixels, tiles - p0));
              Vec* out = m.data() + (p0 * XI + xi) * kOutVecs;
              if (Bf16)
                ProductsBf16(v_pairs.data() + xi * pairs * kChunk + p0, kChunk,
                             ub_pairs + xi * pairs * kOutVecs, pairs, out, XI * kOutVecs, count);
              else
                Products(v.data() + xi * g.c * kChunk + p0, kChunk, ub + xi * g.c * kOutVecs,
                         g.c, out, XI * kOutVecs, count);
            }
          const int64_t channels = std::min<int64_t>(kBlock, g.c_out - blk * kBlock);
          for (int64_t t = 0; t < tiles; ++t)
            for (int vec = 0; vec < kOutVecs && vec * kLanes < channels; ++vec) {
              Vec half[M * T], out[M * M];  // AT along y, then along x
              const Vec* mt = m.data() + t * XI * kOutVecs + vec;
              for (int j = 0; j < T; ++j)
                Apply(Mat::AT, mt + j * kOutVecs, T * kOutVecs, half + j, T);
              for (int i = 0; i < M; ++i)
                Apply(Mat::AT, half + i * T, 1, out + i * M, 1);
              const Vec b = bias[blk * kOutVecs + vec];
              const bool act_now = e.activate && !(e.residual && e.residual_first);
              for (int k = 0; k < M * M; ++k) {  // bias (and activation), lanes = channels
                out[k] += b;
                if (act_now) out[k] = out[k] < 0 ? out[k] * e.slope : out[k];
              }
              const int64_t ox = ox0 + t * M;
              const int rows_out = static_cast<int>(std::min<int64_t>(M, g.ho - oy0));
              const int cols_out = static_cast<int>(std::min<int64_t>(M, g.wo - ox));
              int64_t first = blk * kBlock + vec * kLanes;  // the vector's first channel
              if (dst.shuffle) {
                StoreShuffled<M>(out, dst.y, g, n, first,
                                 std::min<int64_t>(kLanes, channels - vec * kLanes), oy0, ox,
                                 rows_out, cols_out);
                continue;
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
              if (M == 4 && rows_out == M && cols_out == M && channels - vec * kLanes >= kLanes) {
                StoreTile4x4(out, y + at, g.ho * g.wo, g.wo, e, at);
                continue;
              }
#endif
              float lanes[M * M][kLanes];
              std::memcpy(lanes, out, sizeof(lanes));
              for (int lane = 0; lane < kLanes && vec * kLanes + lane < channels; ++lane) {
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
        }
      }
    }
  }
}

}  // namespace

void WinogradConv(const float* x, const float* w, float* y, const Geometry& g, const Epilogue& e,
                  int threads) {
  Winograd<4, false>(Inputs{x, nullptr, g.c}, w, Outputs{y, false, nullptr, g.c_out}, g, e,
                     threads);
}

void WinogradConv(const Inputs& in, const float* w, const Outputs& out, const Geometry& g,
                  const Epilogue& e, int threads) {
  Winograd<4, false>(in, w, out, g, e, threads);
}

void WinogradConvBf16(const float* x, const float* w, float* y, const Geometry& g,
                      const Epilogue& e, int threads) {
  if (Bf16Available())
    Winograd<4, true>(Inputs{x, nullptr, g.c}, w, Outputs{y, false, nullptr, g.c_out}, g, e,
                      threads);
}

}  // namespace edvr_ops
