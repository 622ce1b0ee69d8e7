// SPDX-License-Identifier: Apache-2.0
//
// NarrowConvBf16 (bf16_conv.h): the narrow float32 kernel's job (at most kNarrow output
// channels, stride 1: EDVR's last conv, 64 -> 3) with bfloat16 inputs and weights and
// float32 sums (AVX-512 BF16). Input rows are converted once into zero-padded channel pairs
// and kept in a ring of kh rows per thread; the register tile is 4 vectors of 16 output
// pixels by each output channel.
#include <algorithm>
#include <vector>

#include "bf16_conv.h"

namespace edvr_ops {

#if defined(__AVX512BF16__)

namespace {

constexpr int64_t kNarrowPixelsBf16 = 4 * kLanes;   // 4 vectors of neighbouring pixels

// acc[o][v] for COut (<= kNarrow) channels and 64 pixels of one output row from the kh
// converted pair rows `rows[ky]` (at the tile's first padded input column), weights
// wp[(o * pairs + cp) * taps + tap]; stored into out[o][pixel].
template <int COut>
void NarrowTileBf16(const Bf16Pair* const* rows, int64_t pair_step, const Bf16Pair* wp,
                    int64_t pairs, int kh, int kw, float out[kNarrow][kNarrowPixelsBf16]) {
  __m512 acc[COut][4];
  for (int o = 0; o < COut; ++o)
    for (int v = 0; v < 4; ++v) acc[o][v] = _mm512_setzero_ps();
  const int taps = kh * kw;
  for (int64_t cp = 0; cp < pairs; ++cp)
    for (int ky = 0; ky < kh; ++ky) {
      const Bf16Pair* line = rows[ky] + cp * pair_step;
      for (int kx = 0; kx < kw; ++kx) {
        __m512bh in[4];
        for (int v = 0; v < 4; ++v)
          in[v] = (__m512bh)_mm512_loadu_si512(line + kx + v * kLanes);
        for (int o = 0; o < COut; ++o) {
          const __m512bh weight = (__m512bh)_mm512_set1_epi32(
              static_cast<int>(wp[(o * pairs + cp) * taps + ky * kw + kx]));
          for (int v = 0; v < 4; ++v) acc[o][v] = _mm512_dpbf16_ps(acc[o][v], in[v], weight);
        }
      }
    }
  for (int o = 0; o < COut; ++o)
    for (int v = 0; v < 4; ++v) _mm512_storeu_ps(out[o] + v * kLanes, acc[o][v]);
}

}  // namespace

// NarrowConv (at most kNarrow output channels, stride 1) with bfloat16 products: each input
// row, converted once into channel pairs (zero-padded), serves the kh output rows that read
// it (a ring of kh rows per thread); 4 vectors of 16 output pixels by each output channel.
void NarrowConvBf16(const float* x, const float* w, float* y, const Geometry& g,
                    const Epilogue& e, int threads) {
  static constexpr void (*kTiles[])(const Bf16Pair* const*, int64_t, const Bf16Pair*, int64_t,
                                    int, int, float[kNarrow][kNarrowPixelsBf16]) = {
      &NarrowTileBf16<1>, &NarrowTileBf16<2>, &NarrowTileBf16<3>, &NarrowTileBf16<4>};
  if (g.c_out < 1 || g.c_out > kNarrow) return;
  const auto tile_fn = kTiles[g.c_out - 1];
  const int64_t taps = static_cast<int64_t>(g.kh) * g.kw, pairs = (g.c + 1) / 2;
  const int64_t tiles_per_row = (g.wo + kNarrowPixelsBf16 - 1) / kNarrowPixelsBf16;
  const int64_t pair_step = (tiles_per_row * kNarrowPixelsBf16 + g.kw - 1 + kLanes - 1) /
                            kLanes * kLanes;   // >= w + 2 pw, and every tile's reads
  std::vector<Bf16Pair> wp(g.c_out * pairs * taps);
  for (int64_t o = 0; o < g.c_out; ++o)
    for (int64_t cp = 0; cp < pairs; ++cp)
      for (int64_t k = 0; k < taps; ++k) {
        const float* even = w + (o * g.c + 2 * cp) * taps + k;
        wp[(o * pairs + cp) * taps + k] = PairOf(even[0], 2 * cp + 1 < g.c ? even[taps] : 0.f);
      }
  const int64_t out_plane = g.ho * g.wo, padded_h = g.h + 2 * g.ph;
#pragma omp parallel num_threads(threads)
  {
    std::vector<Bf16Pair> ring(g.kh * pairs * pair_step);
    std::vector<int64_t> held(g.kh, -1);   // the padded input row each slot holds
    alignas(64) float tile[kNarrow][kNarrowPixelsBf16];
#pragma omp for schedule(static)
    for (int64_t r = 0; r < g.b * g.ho; ++r) {
      const int64_t n = r / g.ho, oy = r % g.ho;
      const Bf16Pair* rows[8];
      for (int ky = 0; ky < g.kh; ++ky) {
        const int64_t key = n * padded_h + oy + ky, slot = key % g.kh;
        Bf16Pair* dst = ring.data() + slot * pairs * pair_step;
        rows[ky] = dst;
        if (held[slot] == key) continue;
        held[slot] = key;
        const int64_t iy = oy + ky - g.ph;
        for (int64_t cp = 0; cp < pairs; ++cp) {
          Bf16Pair* line = dst + cp * pair_step;
          if (iy < 0 || iy >= g.h) {
            std::fill(line, line + pair_step, 0u);
            continue;
          }
          const float* even = x + ((n * g.c + 2 * cp) * g.h + iy) * g.w;
          const bool has_odd = 2 * cp + 1 < g.c;
          std::fill(line, line + g.pw, 0u);
          int64_t i = 0;
          if (has_odd)
            for (; i + kLanes <= g.w; i += kLanes)
              PairRows(even + i, even + g.h * g.w + i, line + g.pw + i);
          for (; i < g.w; ++i) line[g.pw + i] = PairOf(even[i], has_odd ? even[g.h * g.w + i] : 0.f);
          std::fill(line + g.pw + g.w, line + pair_step, 0u);
        }
      }
      for (int64_t t = 0; t < tiles_per_row; ++t) {
        const int64_t ox0 = t * kNarrowPixelsBf16;
        const int64_t pixels = std::min<int64_t>(kNarrowPixelsBf16, g.wo - ox0);
        const Bf16Pair* at_x[8];
        for (int ky = 0; ky < g.kh; ++ky) at_x[ky] = rows[ky] + ox0;
        tile_fn(at_x, pair_step, wp.data(), pairs, g.kh, g.kw, tile);
        for (int64_t o = 0; o < g.c_out; ++o) {
          const int64_t at = (n * g.c_out + o) * out_plane + oy * g.wo + ox0;
          for (int64_t p = 0; p < pixels; ++p) y[at + p] = e.Apply(tile[o][p], o, at + p);
        }
      }
    }
  }
}

#else  // no AVX-512 BF16: the callers check Bf16Available() first

void NarrowConvBf16(const float*, const float*, float*, const Geometry&, const Epilogue&, int) {}

#endif

}  // namespace edvr_ops
