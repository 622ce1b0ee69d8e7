// SPDX-License-Identifier: Apache-2.0
//
// Direct convolution (see fused_conv.h). No column buffer: a tile of kBlock output channels
// by kPixels neighbouring output pixels of one row is accumulated in vector registers. For
// every input channel and tap, the tile loads its weights as kOutVecs vectors (packed per call
// into [channel block][c][ky][kx][kBlock]) and broadcasts one input value per pixel, so the
// input is read in place (NCHW). Tiles that reach over the left or right border read from a
// small zero-padded copy of their window instead. Sums run over channels, then taps in
// (ky, kx) order. Output rows are split over threads with OpenMP.
//
// `NarrowConv`, for at most kNarrow output channels (EDVR's last conv, 64 -> 3), turns the
// tile around: kNarrowVecs vectors of neighbouring output pixels by each output channel,
// the input read as vectors and the weights broadcast, so no lane is wasted on absent
// channels (the kBlock tile would compute 32 channels to keep 3).
#include <algorithm>
#include <cstring>
#include <vector>

#include "fused_conv.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace edvr_ops {
namespace {

// Where one tile reads its input: the value for output pixel p at channel ci and tap (ky, kx)
// is src[ci * plane + (ky - ky0) * row + p + kx]; taps in rows outside [ky0, ky1) read zero.
struct Window {
  const float* src;
  int64_t plane, row;
  int ky0, ky1;
};

// acc[p][v] = sum over channels and taps for kPixels pixels and kBlock channels; stored
// transposed into out[channel][pixel].
void Tile(const Window& in, const Vec* weights, const Geometry& g,
          float out[kBlock][kPixels]) {
  Vec acc[kPixels][kOutVecs];
  for (int p = 0; p < kPixels; ++p)
    for (int v = 0; v < kOutVecs; ++v) acc[p][v] = Vec{};
  const int taps = g.kh * g.kw;
  for (int64_t ci = 0; ci < g.c; ++ci) {
    const float* plane = in.src + ci * in.plane;
    const Vec* wc = weights + ci * taps * kOutVecs;
    for (int ky = in.ky0; ky < in.ky1; ++ky) {
      const float* row = plane + (ky - in.ky0) * in.row;
      for (int kx = 0; kx < g.kw; ++kx) {
        const Vec* wt = wc + (ky * g.kw + kx) * kOutVecs;
        Vec wv[kOutVecs];
        for (int v = 0; v < kOutVecs; ++v) wv[v] = wt[v];
        for (int p = 0; p < kPixels; ++p) {
          const Vec value = row[kx + p] - Vec{};  // one broadcast load (see ProductsOf)
          for (int v = 0; v < kOutVecs; ++v) acc[p][v] += value * wv[v];
        }
      }
    }
  }
  for (int p = 0; p < kPixels; ++p)
    for (int v = 0; v < kOutVecs; ++v) {
      float lanes[kLanes];
      std::memcpy(lanes, &acc[p][v], sizeof(lanes));
      for (int i = 0; i < kLanes; ++i) out[v * kLanes + i][p] = lanes[i];
    }
}

constexpr int kNarrowVecs = 4;  // pixel vectors per narrow tile (NarrowTile unrolls 4)
constexpr int64_t kNarrowPixels = kNarrowVecs * kLanes;

inline Vec LoadVec(const float* p) {  // an unaligned vector load
  Vec v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline Vec Broadcast(float x) {
#if defined(__AVX512F__)
  return (Vec)_mm512_set1_ps(x);
#else
  return Vec{} + x;
#endif
}

// acc[o][v] for COut (<= kNarrow) channels and kNarrowPixels pixels of one output row,
// stored into out[o][pixel].
template <int COut>
void NarrowTile(const Window& in, const float* w, const Geometry& g,
                float out[kNarrow][kNarrowPixels]) {
  Vec acc[COut][kNarrowVecs];
#pragma GCC unroll 4
  for (int o = 0; o < COut; ++o)
#pragma GCC unroll 4
    for (int v = 0; v < kNarrowVecs; ++v) acc[o][v] = Vec{};
  const int taps = g.kh * g.kw;
  for (int64_t ci = 0; ci < g.c; ++ci) {
    const float* plane = in.src + ci * in.plane;
    for (int ky = in.ky0; ky < in.ky1; ++ky) {
      const float* row = plane + (ky - in.ky0) * in.row;
      const float* wk = w + ci * taps + ky * g.kw;
      for (int kx = 0; kx < g.kw; ++kx) {
        const Vec v0 = LoadVec(row + kx), v1 = LoadVec(row + kx + kLanes);
        const Vec v2 = LoadVec(row + kx + 2 * kLanes), v3 = LoadVec(row + kx + 3 * kLanes);
#pragma GCC unroll 4
        for (int o = 0; o < COut; ++o) {
          const Vec weight = Broadcast(wk[o * g.c * taps + kx]);
          acc[o][0] += v0 * weight;
          acc[o][1] += v1 * weight;
          acc[o][2] += v2 * weight;
          acc[o][3] += v3 * weight;
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int o = 0; o < COut; ++o)
#pragma GCC unroll 4
    for (int v = 0; v < kNarrowVecs; ++v) std::memcpy(out[o] + v * kLanes, &acc[o][v], sizeof(Vec));
}

}  // namespace

void NarrowConv(const float* x, const float* w, float* y, const Geometry& g, const Epilogue& e,
                int threads) {
  static constexpr void (*kTiles[])(const Window&, const float*, const Geometry&,
                                    float[kNarrow][kNarrowPixels]) = {
      &NarrowTile<1>, &NarrowTile<2>, &NarrowTile<3>, &NarrowTile<4>};
  static_assert(sizeof(kTiles) / sizeof(kTiles[0]) == kNarrow, "one tile per width");
  const auto tile_fn = kTiles[g.c_out - 1];
  const int64_t tiles_per_row = (g.wo + kNarrowPixels - 1) / kNarrowPixels;
  const int64_t window_w = kNarrowPixels + g.kw - 1, out_plane = g.ho * g.wo;
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> local(g.c * g.kh * window_w);
    alignas(64) float tile[kNarrow][kNarrowPixels];
#pragma omp for schedule(static)
    for (int64_t r = 0; r < g.b * g.ho; ++r) {
      const int64_t n = r / g.ho, oy = r % g.ho, iy0 = oy - g.ph;
      const float* xn = x + n * g.c * g.h * g.w;
      const int ky0 = static_cast<int>(std::max<int64_t>(0, -iy0));
      const int ky1 = static_cast<int>(std::min<int64_t>(g.kh, g.h - iy0));
      for (int64_t t = 0; t < tiles_per_row; ++t) {
        const int64_t ox0 = t * kNarrowPixels, ix0 = ox0 - g.pw;
        const int64_t pixels = std::min<int64_t>(kNarrowPixels, g.wo - ox0);
        Window win;
        if (ix0 >= 0 && ix0 + window_w <= g.w) {
          win = {xn + (iy0 + ky0) * g.w + ix0, g.h * g.w, g.w, ky0, ky1};
        } else {  // the window crosses the left or right border: copy it, zero-padded
          const int64_t rows = ky1 - ky0;
          std::fill(local.begin(), local.begin() + g.c * rows * window_w, 0.f);
          const int64_t lo = std::max<int64_t>(0, -ix0), hi = std::min(window_w, g.w - ix0);
          for (int64_t ci = 0; ci < g.c && lo < hi; ++ci)
            for (int64_t ky = 0; ky < rows; ++ky)
              std::memcpy(&local[(ci * rows + ky) * window_w + lo],
                          xn + (ci * g.h + iy0 + ky0 + ky) * g.w + ix0 + lo,
                          sizeof(float) * (hi - lo));
          win = {local.data(), rows * window_w, window_w, ky0, ky1};
        }
        tile_fn(win, w, g, tile);
        for (int64_t o = 0; o < g.c_out; ++o) {
          const int64_t at = (n * g.c_out + o) * out_plane + oy * g.wo + ox0;
          for (int64_t p = 0; p < pixels; ++p) y[at + p] = e.Apply(tile[o][p], o, at + p);
        }
      }
    }
  }
}

// Weights (c_out, rows) -> [ceil(c_out / kBlock)][rows][kBlock], zero-filled.
std::vector<Vec> PackWeights(const float* w, int64_t c_out, int64_t rows) {
  const int64_t blocks = (c_out + kBlock - 1) / kBlock;
  std::vector<Vec> packed(blocks * rows * kOutVecs, Vec{});
  float* dst = reinterpret_cast<float*>(packed.data());
  for (int64_t o = 0; o < c_out; ++o)
    for (int64_t r = 0; r < rows; ++r)
      dst[((o / kBlock) * rows + r) * kBlock + o % kBlock] = w[o * rows + r];
  return packed;
}

void DirectConv(const float* x, const float* w, float* y, const Geometry& g, const Epilogue& e,
                int threads) {
  const std::vector<Vec> packed = PackWeights(w, g.c_out, g.c * g.kh * g.kw);
  const int64_t taps = static_cast<int64_t>(g.kh) * g.kw;
  const int64_t blocks = (g.c_out + kBlock - 1) / kBlock;
  const int64_t tiles_per_row = (g.wo + kPixels - 1) / kPixels;
  const int64_t window_w = kPixels + g.kw - 1;
  const int64_t out_plane = g.ho * g.wo;
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> local(g.c * g.kh * window_w);
    alignas(64) float tile[kBlock][kPixels];
#pragma omp for schedule(static)
    for (int64_t r = 0; r < g.b * g.ho; ++r) {
      const int64_t n = r / g.ho, oy = r % g.ho, iy0 = oy - g.ph;
      const float* xn = x + n * g.c * g.h * g.w;
      const int ky0 = static_cast<int>(std::max<int64_t>(0, -iy0));
      const int ky1 = static_cast<int>(std::min<int64_t>(g.kh, g.h - iy0));
      for (int64_t t = 0; t < tiles_per_row; ++t) {
        const int64_t ox0 = t * kPixels, ix0 = ox0 - g.pw;
        const int pixels = static_cast<int>(std::min<int64_t>(kPixels, g.wo - ox0));
        Window win;
        if (ix0 >= 0 && ix0 + window_w <= g.w) {
          win = {xn + (iy0 + ky0) * g.w + ix0, g.h * g.w, g.w, ky0, ky1};
        } else {  // the window crosses the left or right border: copy it, zero-padded
          const int64_t rows = ky1 - ky0;
          std::fill(local.begin(), local.begin() + g.c * rows * window_w, 0.f);
          const int64_t lo = std::max<int64_t>(0, -ix0), hi = std::min(window_w, g.w - ix0);
          for (int64_t ci = 0; ci < g.c && lo < hi; ++ci)
            for (int64_t ky = 0; ky < rows; ++ky)
              std::memcpy(&local[(ci * rows + ky) * window_w + lo],
                          xn + (ci * g.h + iy0 + ky0 + ky) * g.w + ix0 + lo,
                          sizeof(float) * (hi - lo));
          win = {local.data(), rows * window_w, window_w, ky0, ky1};
        }
        for (int64_t blk = 0; blk < blocks; ++blk) {
          Tile(win, packed.data() + blk * g.c * taps * kOutVecs, g, tile);
          const int64_t channels = std::min<int64_t>(kBlock, g.c_out - blk * kBlock);
          for (int64_t i = 0; i < channels; ++i) {
            const int64_t o = blk * kBlock + i;
            const int64_t at = (n * g.c_out + o) * out_plane + oy * g.wo + ox0;
            for (int p = 0; p < pixels; ++p) y[at + p] = e.Apply(tile[i][p], o, at + p);
          }
        }
      }
    }
  }
}

}  // namespace edvr_ops
