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
//      (a chunk narrower than kChunk, the last of a row, transforms only its own tiles);
//   2. per output-channel block and xi: the products -> M[t][xi][kBlock];
//   3. AT on both sides, then bias, activation and residual, stored into y (NCHW).
// Rows of tiles are split over threads with OpenMP.
#include <algorithm>
#include <cstring>
#include <vector>

#include "fused_conv.h"
#include "winograd_store.h"
#include "winograd_transform.h"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace edvr_ops {
namespace {

template <int M>
void Winograd(const Inputs& in, const float* w, const Outputs& dst, const Geometry& g,
              const Epilogue& e, int threads) {
  constexpr int T = M + 2, XI = T * T;
  constexpr int64_t kChunk = 2 * kPixels;                     // tiles per chunk
  constexpr int64_t kWidth = (kChunk * M + 2 + kLanes - 1) / kLanes * kLanes;
  using Mat = Matrices<M>;
  const std::vector<Vec> u = TransformWeights<M>(w, g, threads);
  const int64_t blocks = (g.c_out + kBlock - 1) / kBlock;
  std::vector<Vec> bias(blocks * kOutVecs, Vec{});  // zero-padded to whole blocks
  if (e.bias) std::memcpy(bias.data(), e.bias, sizeof(float) * g.c_out);
  const int64_t tile_rows = (g.ho + M - 1) / M, tile_cols = (g.wo + M - 1) / M;
#pragma omp parallel num_threads(threads)
  {
    std::vector<Vec> rows(T * kWidth / kLanes), across(T * kWidth / kLanes);
    std::vector<float> v(XI * g.c * kChunk);
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
        // The chunk's tiles, those transformed along x (whole groups of 8, see
        // TransformAlongX) and the vectors of each row that transform reads (up to 4 floats
        // past its last tile's).
        const int64_t tiles = std::min<int64_t>(kChunk, tile_cols - t0);
        const int64_t tiles_x = std::min<int64_t>(kChunk, (tiles + 7) / 8 * 8);
        const int64_t vecs =
            std::min<int64_t>(kWidth / kLanes, (tiles_x * M + 4 + kLanes - 1) / kLanes);
        // 1. input transform of every channel: V[xi][ci][t]
#if defined(__AVX512F__)
        const ChunkColumns<kWidth / kLanes> columns(lo, hi);
#endif
        for (int64_t ci = 0; ci < g.c; ++ci) {
          const float* xc = ci < in.c1 ? xn + ci * plane : x2n + (ci - in.c1) * plane;
#if defined(__AVX512F__)
          TransformAlongY(xc, g.h, g.w, iy0, ix0, columns, vecs, across.data());
#else
          float* rf = reinterpret_cast<float*>(rows.data());
          std::fill(rf, rf + T * kWidth, 0.f);
          for (int i = 0; i < T; ++i) {
            const int64_t iy = iy0 + i;
            if (iy >= 0 && iy < g.h && lo < hi)
              std::memcpy(rf + i * kWidth + lo, xc + iy * g.w + ix0 + lo,
                          sizeof(float) * (hi - lo));
          }
          for (int64_t k = 0; k < vecs; ++k)  // BT along y, kLanes columns at once
            Mat::Input(rows.data() + k, kWidth / kLanes, across.data() + k, kWidth / kLanes);
#endif
          const float* af = reinterpret_cast<const float*>(across.data());
          for (int i = 0; i < T; ++i)
            TransformAlongX<M>(af + i * kWidth, tiles_x, v.data() + (i * T * g.c + ci) * kChunk,
                               g.c * kChunk);
        }
        // 2. products per output-channel block, then 3. output transform and store
        for (int64_t blk = 0; blk < blocks; ++blk) {
          const Vec* ub = u.data() + blk * XI * g.c * kOutVecs;
          for (int xi = 0; xi < XI; ++xi)
            for (int64_t p0 = 0; p0 < tiles; p0 += kPixels) {
              const int count = static_cast<int>(std::min<int64_t>(kPixels, tiles - p0));
              Products(v.data() + xi * g.c * kChunk + p0, kChunk, ub + xi * g.c * kOutVecs, g.c,
                       m.data() + (p0 * XI + xi) * kOutVecs, XI * kOutVecs, count);
            }
          const int64_t channels = std::min<int64_t>(kBlock, g.c_out - blk * kBlock);
          for (int64_t t = 0; t < tiles; ++t)
            for (int vec = 0; vec < kOutVecs && vec * kLanes < channels; ++vec) {
              Vec half[M * T], out[M * M];  // AT along y, then along x
              const Vec* mt = m.data() + t * XI * kOutVecs + vec;
              for (int j = 0; j < T; ++j)
                Mat::Output(mt + j * kOutVecs, T * kOutVecs, half + j, T);
              for (int i = 0; i < M; ++i)
                Mat::Output(half + i * T, 1, out + i * M, 1);
              const Vec b = bias[blk * kOutVecs + vec];
              const bool act_now = e.activate && !(e.residual && e.residual_first);
              for (int k = 0; k < M * M; ++k) {  // bias (and activation), lanes = channels
                out[k] += b;
                if (act_now) out[k] = out[k] < 0 ? out[k] * e.slope : out[k];
              }
              const int64_t ox = ox0 + t * M;
              const int rows_out = static_cast<int>(std::min<int64_t>(M, g.ho - oy0));
              const int cols_out = static_cast<int>(std::min<int64_t>(M, g.wo - ox));
              StoreWinogradTile<M>(out, dst, g, e, n, blk * kBlock + vec * kLanes,
                                   std::min<int64_t>(kLanes, channels - vec * kLanes), oy0, ox,
                                   rows_out, cols_out);
            }
        }
      }
    }
  }
}

}  // namespace

void WinogradConv(const float* x, const float* w, float* y, const Geometry& g, const Epilogue& e,
                  int threads) {
  Winograd<4>(Inputs{x, nullptr, g.c}, w, Outputs{y, false, nullptr, g.c_out}, g, e, threads);
}

void WinogradConv(const Inputs& in, const float* w, const Outputs& out, const Geometry& g,
                  const Epilogue& e, int threads) {
  Winograd<4>(in, w, out, g, e, threads);
}

}  // namespace edvr_ops
