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
#include "winograd_transform.h"

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

using Mat = Matrices<4>;

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
std::vector<Vec> TransformWeightPairs(const float* w, const Geometry& g, int threads) {
  const std::vector<Vec> u = TransformWeights<kM>(w, g, threads);
  return PackPairs(reinterpret_cast<const float*>(u.data()), (g.c_out + kBlock - 1) / kBlock * kXi,
                   g.c);
}

}  // namespace

void Bf16WinogradConv(const Inputs& in, const float* w, const Outputs& dst, const Geometry& g,
                      const Epilogue& e, int threads) {
  const std::vector<Vec> u = TransformWeightPairs(w, g, threads);
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
        // The chunk's tiles, those transformed along x (whole groups of 8, see
        // TransformAlongX) and the vectors of each row that transform reads (up to 4 floats
        // past its last tile's): the last chunk of a row transforms only its own tiles.
        const int64_t tiles = std::min<int64_t>(kChunk, tile_cols - t0);
        const int64_t tiles_x = std::min<int64_t>(kChunk, (tiles + 7) / 8 * 8);
        const int64_t vecs =
            std::min<int64_t>(kWidth / kLanes, (tiles_x * kM + 4 + kLanes - 1) / kLanes);
        // 1. input transform, a pair of channels at a time, into bfloat16 pairs (the input
        // rows read with masked loads: ChunkColumns)
        const ChunkColumns<kWidth / kLanes> columns(lo, hi);
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
            TransformAlongY(channel(ci), g.h, g.w, iy0, ix0, columns, vecs, across.data());
            const float* af = reinterpret_cast<const float*>(across.data());
            for (int i = 0; i < kT; ++i)
              TransformAlongX<kM>(af + i * kWidth, tiles_x, out + i * kT * kPadded, kPadded);
          }
          for (int xi = 0; xi < kXi; ++xi)
            PairVectors(two.data() + xi * kPadded, two.data() + (kXi + xi) * kPadded,
                        v.data() + (xi * pairs + cp) * kPadded);
        }
        // 2. products per output-channel block, then 3. output transform and store
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
                Mat::Output(mt + j * kOutVecs, kT * kOutVecs, half + j, kT);
              for (int i = 0; i < kM; ++i) Mat::Output(half + i * kT, 1, out + i * kM, 1);
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
