// SPDX-License-Identifier: Apache-2.0
//
// Winograd F(4x4, 3x3) with bfloat16 products and float32 sums (AVX-512 BF16), the kernel of
// edvr_conv_bf16 for 3x3 convolutions (bf16_conv.h: Bf16WinogradConv; the Geometry,
// Epilogue, Inputs and Outputs of WinogradConv in cpu_winograd_conv.cc):
//
//   Y = AT [ sum over input channels of bf16(G g GT) .* bf16(BT d B) ] A
//
// Work unit: one row of tiles of one sample, in chunks of kChunk tiles:
//   1. per pair of input channels (of x, then of x2: their concatenation read in place):
//      BT d B of both channels in float32 (into a small buffer that stays in L1), then
//      rounded to bfloat16 and interleaved into channel pairs V[xi][pair][t] (no separate
//      pass over the whole chunk);
//   2. per output-channel block and xi: (tiles x pairs) @ (pairs x kBlock) on `ProductsBf16`
//      (two multiply-adds per lane and instruction, sums in float32);
//   3. AT on both sides in float32, bias and activation, then stored by winograd_store.h
//      (the float32 kernel's stores: plain with the residual, pixel-shuffled, or split into
//      offsets and a sigmoid mask).
// The transforms run in float32; only the products' operands are rounded, which is where
// the rounding error (~2.5e-2 of a layer's RMS output for random data) comes from.
#include <algorithm>
#include <cstring>
#include <vector>

#include "bf16_conv.h"
#include "winograd_store.h"

#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif

namespace edvr_ops {

#if defined(__AVX512BF16__)
namespace {

constexpr int kM = 4, kT = 6, kXi = 36;
constexpr int64_t kChunk = 2 * kPixels;    // tiles per chunk (24)
constexpr int64_t kPadded = kChunk;        // tiles per V row
constexpr int64_t kWidth = (kChunk * kM + 2 + kLanes - 1) / kLanes * kLanes;
constexpr int64_t kAhead = 2;              // input channels read ahead (software prefetch)

constexpr float kBT[6][6] = {{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                             {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
constexpr double kG[6][3] = {{1. / 4, 0, 0},           {-1. / 6, -1. / 6, -1. / 6},
                             {-1. / 6, 1. / 6, -1. / 6}, {1. / 24, 1. / 12, 1. / 6},
                             {1. / 24, -1. / 12, 1. / 6}, {0, 0, 1}};
constexpr float kAT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0},
                             {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

// out[r * out_step] = sum over k of a[r][k] * in[k * in_step] (zero terms drop out).
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

// BT along x of the chunk's tiles (tile t starts at row[4t], the row kWidth floats long);
// out[j * kPadded + t]. The first 16 tiles at once: value j of tile i is row[j + 4i], so each
// j is picked out of two loaded vectors for tiles 0..7 and two for 8..15 (permutes and a
// blend); the last 8 with one permute each.
inline void AlongX(const float* row, float* out) {
  static_assert(kChunk == 24, "16 tiles, then 8");
  typedef float Vec8 __attribute__((vector_size(32)));
  {
    const __m512i base = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
    const __m512 a[4] = {_mm512_loadu_ps(row), _mm512_loadu_ps(row + 16), _mm512_loadu_ps(row + 32),
                         _mm512_loadu_ps(row + 48)};
    const __m512 b[4] = {_mm512_loadu_ps(row + 4), _mm512_loadu_ps(row + 20),
                         _mm512_loadu_ps(row + 36), _mm512_loadu_ps(row + 52)};
    Vec d[kT], r[kT];
    for (int j = 0; j < kT; ++j) {
      const __m512* src = j < 4 ? a : b;
      const __m512i index = _mm512_add_epi32(base, _mm512_set1_epi32(j < 4 ? j : j - 4));
      const __m512 lo = _mm512_permutex2var_ps(src[0], index, src[1]);
      const __m512 hi = _mm512_permutex2var_ps(src[2], index, src[3]);
      d[j] = (Vec)_mm512_mask_blend_ps(0xFF00, lo, hi);
    }
    Apply(kBT, d, 1, r, 1);
    for (int j = 0; j < kT; ++j) _mm512_storeu_ps(out + j * kPadded, (__m512)r[j]);
  }
  const __m512i pick[2] = {_mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0),
                           _mm512_setr_epi32(1, 5, 9, 13, 17, 21, 25, 29, 0, 0, 0, 0, 0, 0, 0, 0)};
  const float* at = row + 16 * kM;
  const __m512 a0 = _mm512_loadu_ps(at), a1 = _mm512_loadu_ps(at + 16);
  const __m512 b0 = _mm512_loadu_ps(at + 4), b1 = _mm512_loadu_ps(at + 20);
  Vec8 d[kT], r[kT];
  for (int j = 0; j < kT; ++j) {
    const __m512i index = _mm512_add_epi32(pick[j % 2], _mm512_set1_epi32(j < 4 ? j / 2 * 2 : 0));
    const __m512 picked = j < 4 ? _mm512_permutex2var_ps(a0, index, a1)
                                : _mm512_permutex2var_ps(b0, index, b1);
    d[j] = reinterpret_cast<Vec8>(_mm512_castps512_ps256(picked));
  }
  Apply(kBT, d, 1, r, 1);
  for (int j = 0; j < kT; ++j) std::memcpy(out + j * kPadded + 16, &r[j], sizeof(Vec8));
}

// The chunk's 24 values of two channels -> 24 bfloat16 pairs (even channel in the low half):
// 16 in 512-bit vectors, then 8 in 256-bit ones.
inline void PairVectors(const float* even, const float* odd, Bf16Pair* out) {
  alignas(64) static const uint16_t order[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,
                                                  21, 6, 22, 7, 23, 8,  24, 9,  25, 10, 26,
                                                  11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  alignas(32) static const uint16_t order8[16] = {0, 8, 1, 9, 2, 10, 3, 11,
                                                  4, 12, 5, 13, 6, 14, 7, 15};
  static_assert(kChunk == 24, "16 pairs, then 8");
  const __m512bh both = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(odd), _mm512_loadu_ps(even));
  _mm512_storeu_si512(out, _mm512_permutexvar_epi16(_mm512_load_si512(order), (__m512i)both));
  const __m256bh rest = _mm256_cvtne2ps_pbh(_mm256_loadu_ps(odd + 16), _mm256_loadu_ps(even + 16));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16),
                      _mm256_permutexvar_epi16(
                          _mm256_load_si256(reinterpret_cast<const __m256i*>(order8)),
                          (__m256i)rest));
}

// G g GT of every (o, ci) as bfloat16 pairs of input channels:
// [block of kBlock output channels][xi][pair][kBlock].
std::vector<Vec> TransformWeights(const float* w, const Geometry& g, int threads) {
  const int64_t blocks = (g.c_out + kBlock - 1) / kBlock;
  std::vector<float> u(blocks * kXi * g.c * kBlock, 0.f);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t o = 0; o < g.c_out; ++o)
    for (int64_t ci = 0; ci < g.c; ++ci) {
      const float* k = w + (o * g.c + ci) * 9;
      double gk[kT][3];
      for (int i = 0; i < kT; ++i)
        for (int j = 0; j < 3; ++j)
          gk[i][j] = kG[i][0] * k[j] + kG[i][1] * k[3 + j] + kG[i][2] * k[6 + j];
      for (int i = 0; i < kT; ++i)
        for (int j = 0; j < kT; ++j)
          u[(((o / kBlock) * kXi + i * kT + j) * g.c + ci) * kBlock + o % kBlock] =
              static_cast<float>(gk[i][0] * kG[j][0] + gk[i][1] * kG[j][1] + gk[i][2] * kG[j][2]);
    }
  return PackPairs(u.data(), blocks * kXi, g.c);
}

}  // namespace

void Bf16WinogradConv(const Inputs& in, const float* w, const Outputs& dst, const Geometry& g,
                      const Epilogue& e, int threads) {
  const std::vector<Vec> u = TransformWeights(w, g, threads);
  const int64_t blocks = (g.c_out + kBlock - 1) / kBlock, pairs = (g.c + 1) / 2;
  std::vector<Vec> bias(blocks * kOutVecs, Vec{});
  if (e.bias) std::memcpy(bias.data(), e.bias, sizeof(float) * g.c_out);
  const int64_t tile_rows = (g.ho + kM - 1) / kM, tile_cols = (g.wo + kM - 1) / kM;
  const bool act_now = e.activate && !(e.residual && e.residual_first);
#pragma omp parallel num_threads(threads)
  {
    std::vector<Vec> across(kT * kWidth / kLanes);
    std::vector<float> two(2 * kXi * kPadded, 0.f);   // one channel pair, float32
    std::vector<Bf16Pair> v(kXi * pairs * kPadded, 0u);
    std::vector<Vec> m(kChunk * kXi * kOutVecs);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < g.b * tile_rows; ++r) {
      const int64_t n = r / tile_rows, oy0 = r % tile_rows * kM, iy0 = oy0 - g.ph;
      const int64_t plane = g.h * g.w, c2 = g.c - in.c1;
      const float* xn = in.x + n * in.c1 * plane;
      const float* x2n = in.x2 ? in.x2 + n * c2 * plane : nullptr;
      auto channel = [&](int64_t ci) {   // concat([x, x2], 1)'s channel ci of sample n
        return ci < in.c1 ? xn + ci * plane : x2n + (ci - in.c1) * plane;
      };
      for (int64_t t0 = 0; t0 < tile_cols; t0 += kChunk) {
        const int64_t ox0 = t0 * kM, ix0 = ox0 - g.pw;
        const int64_t lo = std::max<int64_t>(0, -ix0);
        const int64_t hi = std::min<int64_t>(kChunk * kM + 2, g.w - ix0);
        // 1. input transform, a pair of channels at a time, into bfloat16 pairs. Columns
        // [lo, hi) of the chunk's kWidth lie inside the input: vector k of a row loads its
        // lanes there and zeros elsewhere (masked lanes are never read).
        __mmask16 masks[kWidth / kLanes];
        for (int64_t k = 0; k < kWidth / kLanes; ++k) {
          uint32_t bits = 0;
          for (int j = 0; j < kLanes; ++j)
            if (k * kLanes + j >= lo && k * kLanes + j < hi) bits |= 1u << j;
          masks[k] = static_cast<__mmask16>(bits);
        }
        for (int64_t cp = 0; cp < pairs; ++cp) {
          for (int half = 0; half < 2; ++half) {
            const int64_t ci = 2 * cp + half;
            float* out = two.data() + half * kXi * kPadded;
            if (ci >= g.c) {
              std::fill(out, out + kXi * kPadded, 0.f);
              continue;
            }
            if (ci + kAhead < g.c && lo < hi)   // the rows of a channel further on, into cache
              for (int i = 0; i < kT; ++i) {
                const int64_t iy = iy0 + i;
                if (iy < 0 || iy >= g.h) continue;
                const char* line =
                    reinterpret_cast<const char*>(channel(ci + kAhead) + iy * g.w + ix0 + lo);
                for (int64_t b = 0; b < static_cast<int64_t>(sizeof(float)) * (hi - lo); b += 64)
                  _mm_prefetch(line + b, _MM_HINT_T0);
              }
            const float* xc = channel(ci);   // BT along y straight from the input rows
            const float* src[kT];
            for (int i = 0; i < kT; ++i) {
              const int64_t iy = iy0 + i;
              src[i] = iy >= 0 && iy < g.h ? xc + iy * g.w + ix0 : nullptr;
            }
            for (int64_t k = 0; k < kWidth / kLanes; ++k) {
              Vec d[kT];
              for (int i = 0; i < kT; ++i)
                d[i] = src[i] && masks[k]
                           ? (Vec)_mm512_maskz_loadu_ps(masks[k], src[i] + k * kLanes)
                           : Vec{};
              Apply(kBT, d, 1, across.data() + k, kWidth / kLanes);
            }
            const float* af = reinterpret_cast<const float*>(across.data());
            for (int i = 0; i < kT; ++i) AlongX(af + i * kWidth, out + i * kT * kPadded);
          }
          for (int xi = 0; xi < kXi; ++xi)
            PairVectors(two.data() + xi * kPadded, two.data() + (kXi + xi) * kPadded,
                        v.data() + (xi * pairs + cp) * kPadded);
        }
        // 2. products per output-channel block, then 3. output transform and store
        const int64_t tiles = std::min<int64_t>(kChunk, tile_cols - t0);
        for (int64_t blk = 0; blk < blocks; ++blk) {
          const Vec* ub = u.data() + blk * kXi * pairs * kOutVecs;
          for (int xi = 0; xi < kXi; ++xi)
            for (int64_t p0 = 0; p0 < tiles; p0 += kPixels)
              ProductsBf16(v.data() + xi * pairs * kPadded + p0, kPadded,
                           ub + xi * pairs * kOutVecs, pairs,
                           m.data() + (p0 * kXi + xi) * kOutVecs, kXi * kOutVecs,
                           static_cast<int>(std::min<int64_t>(kPixels, tiles - p0)));
          const int64_t channels = std::min<int64_t>(kBlock, g.c_out - blk * kBlock);
          for (int64_t t = 0; t < tiles; ++t)
            for (int vec = 0; vec < kOutVecs && vec * kLanes < channels; ++vec) {
              Vec half[kM * kT], out[kM * kM];
              const Vec* mt = m.data() + t * kXi * kOutVecs + vec;
              for (int j = 0; j < kT; ++j)
                Apply(kAT, mt + j * kOutVecs, kT * kOutVecs, half + j, kT);
              for (int i = 0; i < kM; ++i) Apply(kAT, half + i * kT, 1, out + i * kM, 1);
              const Vec b = bias[blk * kOutVecs + vec];
              for (int k = 0; k < kM * kM; ++k) {
                out[k] += b;
                if (act_now) out[k] = out[k] < 0 ? out[k] * e.slope : out[k];
              }
              const int64_t ox = ox0 + t * kM;
              const int rows_out = static_cast<int>(std::min<int64_t>(kM, g.ho - oy0));
              const int cols_out = static_cast<int>(std::min<int64_t>(kM, g.wo - ox));
              StoreWinogradTile<kM>(out, dst, g, e, n, blk * kBlock + vec * kLanes,
                                    std::min<int64_t>(kLanes, channels - vec * kLanes), oy0,
                                    ox, rows_out, cols_out);
            }
        }
      }
    }
  }
}

#endif

void Bf16WinogradConv(const float* x, const float* w, float* y, const Geometry& g,
                      const Epilogue& e, int threads) {
  Bf16WinogradConv(Inputs{x, nullptr, g.c}, w, Outputs{y, false, nullptr, g.c_out}, g, e, threads);
}

#if !defined(__AVX512BF16__)  // no AVX-512 BF16: the op checks Bf16Available() first

void Bf16WinogradConv(const Inputs&, const float*, const Outputs&, const Geometry&,
                      const Epilogue&, int) {}

#endif

}  // namespace edvr_ops
