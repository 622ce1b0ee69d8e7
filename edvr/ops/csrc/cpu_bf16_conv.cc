// SPDX-License-Identifier: Apache-2.0
//
// bfloat16 convolutions with float32 accumulation (AVX-512 BF16) beside the float32 kernels
// of fused_conv.h (same Geometry and Epilogue, same outputs up to bfloat16 rounding of the
// inputs and weights): the register tile over channel pairs and the direct kernel.
//
// `vdpbf16ps` multiplies pairs of bfloat16 and adds both products to a float32 lane: one
// instruction does twice the multiply-adds of a float32 FMA. The register tile is that of
// the float32 kernels (kPixels pixels or Winograd tiles by kBlock output channels), with
// the sum running over pairs of input channels: the weights are loaded as vectors of
// (channel 2i, channel 2i+1) pairs per output channel, and each pixel's pair of input
// values is broadcast as one 32-bit word. Inputs and weights are rounded to bfloat16
// (nearest even); sums, the Winograd transforms and the epilogue stay float32.
//
//   DirectConvBf16: the direct kernel on an input converted once per call into bfloat16
//     channel pairs, zero-padded ([n][c/2][h + 2ph][w + 2pw] words), so no tile needs a
//     border copy; StridedConvBf16 (bf16_conv.h) the same with stride 1 or 2.
//   Bf16WinogradConv (cpu_bf16_winograd.cc) runs its products per Winograd position
//     (tiles x c @ c x c_out) on `ProductsBf16`; NarrowConvBf16 is in cpu_bf16_narrow.cc.
#include <algorithm>
#include <cstring>
#include <vector>

#include "bf16_conv.h"

#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif

namespace edvr_ops {

#if defined(__AVX512BF16__)

bool Bf16Available() { return true; }

namespace {

template <int Pixels>
void ProductsBf16Of(const Bf16Pair* a, int64_t a_step, const Vec* b, int64_t pairs, Vec* out,
                    int64_t out_step) {
  __m512 acc[Pixels][kOutVecs];
  for (int p = 0; p < Pixels; ++p)
    for (int v = 0; v < kOutVecs; ++v) acc[p][v] = _mm512_setzero_ps();
  for (int64_t r = 0; r < pairs; ++r) {
    const Bf16Pair* column = a + r * a_step;
    __m512bh bv[kOutVecs];
    for (int v = 0; v < kOutVecs; ++v) bv[v] = (__m512bh)_mm512_load_si512(b + r * kOutVecs + v);
    for (int p = 0; p < Pixels; ++p) {
      const __m512bh value = (__m512bh)_mm512_set1_epi32(static_cast<int>(column[p]));
      for (int v = 0; v < kOutVecs; ++v) acc[p][v] = _mm512_dpbf16_ps(acc[p][v], value, bv[v]);
    }
  }
  for (int p = 0; p < Pixels; ++p)
    for (int v = 0; v < kOutVecs; ++v) out[p * out_step + v] = (Vec)acc[p][v];
}

template <int... P>
constexpr auto ProductsBf16Table(std::integer_sequence<int, P...>) {
  return std::array<void (*)(const Bf16Pair*, int64_t, const Vec*, int64_t, Vec*, int64_t),
                    sizeof...(P)>{&ProductsBf16Of<P + 1>...};
}

// The direct kernel's register tile over channel pairs and taps of one output row:
// acc[p][v] for kPixels pixels S apart from `src` (the padded pair rows at the tile's first
// input pixel), stored transposed into out[channel][pixel].
template <int S>
void TileBf16(const Bf16Pair* src, int64_t plane, int64_t row, const Vec* weights,
              int64_t pairs, int kh, int kw, float out[kBlock][kPixels]) {
  __m512 acc[kPixels][kOutVecs];
  for (int p = 0; p < kPixels; ++p)
    for (int v = 0; v < kOutVecs; ++v) acc[p][v] = _mm512_setzero_ps();
  for (int64_t cp = 0; cp < pairs; ++cp)
    for (int ky = 0; ky < kh; ++ky) {
      const Bf16Pair* line = src + cp * plane + ky * row;
      const Vec* wt = weights + (cp * kh + ky) * kw * kOutVecs;
      for (int kx = 0; kx < kw; ++kx) {
        __m512bh wv[kOutVecs];
        for (int v = 0; v < kOutVecs; ++v)
          wv[v] = (__m512bh)_mm512_load_si512(wt + kx * kOutVecs + v);
        for (int p = 0; p < kPixels; ++p) {
          const __m512bh value = (__m512bh)_mm512_set1_epi32(static_cast<int>(line[kx + S * p]));
          for (int v = 0; v < kOutVecs; ++v)
            acc[p][v] = _mm512_dpbf16_ps(acc[p][v], value, wv[v]);
        }
      }
    }
  for (int p = 0; p < kPixels; ++p)
    for (int v = 0; v < kOutVecs; ++v) {
      float lanes[kLanes];
      _mm512_storeu_ps(lanes, acc[p][v]);
      for (int i = 0; i < kLanes; ++i) out[v * kLanes + i][p] = lanes[i];
    }
}

}  // namespace

void ProductsBf16(const Bf16Pair* a, int64_t a_step, const Vec* b, int64_t pairs, Vec* out,
                  int64_t out_step, int count) {
  static constexpr auto table = ProductsBf16Table(std::make_integer_sequence<int, kPixels>{});
  table[count - 1](a, a_step, b, pairs, out, out_step);
}

std::vector<Vec> PackPairs(const float* w, int64_t groups, int64_t rows) {
  const int64_t pairs = (rows + 1) / 2;
  std::vector<Vec> packed(groups * pairs * kOutVecs, Vec{});
  Bf16Pair* dst = reinterpret_cast<Bf16Pair*>(packed.data());
  for (int64_t gi = 0; gi < groups; ++gi)
    for (int64_t r = 0; r < pairs; ++r)
      for (int64_t i = 0; i < kBlock; ++i) {
        const float* src = w + (gi * rows + 2 * r) * kBlock + i;
        dst[(gi * pairs + r) * kBlock + i] = PairOf(src[0], 2 * r + 1 < rows ? src[kBlock] : 0.f);
      }
  return packed;
}

void PairChannels(const float* v, int64_t groups, int64_t rows, int64_t width, Bf16Pair* out) {
  const int64_t pairs = (rows + 1) / 2;
  for (int64_t gi = 0; gi < groups; ++gi)
    for (int64_t r = 0; r < pairs; ++r) {
      const float* even = v + (gi * rows + 2 * r) * width;
      const float* odd = 2 * r + 1 < rows ? even + width : nullptr;
      Bf16Pair* dst = out + (gi * pairs + r) * width;
      int64_t i = 0;
      if (odd)
        for (; i + kLanes <= width; i += kLanes) PairRows(even + i, odd + i, dst + i);
      for (; i < width; ++i) dst[i] = PairOf(even[i], odd ? odd[i] : 0.f);
    }
}

// DirectConvBf16 with stride S (g.ho, g.wo the strided output's size).
template <int S>
void DirectBf16(const float* x, const float* w, float* y, const Geometry& g, const Epilogue& e,
                int threads) {
  const int64_t taps = static_cast<int64_t>(g.kh) * g.kw, pairs = (g.c + 1) / 2;
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, plane = hp * wp;
  // weights: [block][channel pair][ky][kx][kBlock] pairs, zero-filled
  const int64_t blocks = (g.c_out + kBlock - 1) / kBlock;
  std::vector<Vec> packed(blocks * pairs * taps * kOutVecs, Vec{});
  Bf16Pair* wd = reinterpret_cast<Bf16Pair*>(packed.data());
  for (int64_t o = 0; o < g.c_out; ++o)
    for (int64_t cp = 0; cp < pairs; ++cp)
      for (int64_t k = 0; k < taps; ++k) {
        const float* even = w + (o * g.c + 2 * cp) * taps + k;
        wd[(((o / kBlock) * pairs + cp) * taps + k) * kBlock + o % kBlock] =
            PairOf(even[0], 2 * cp + 1 < g.c ? even[taps] : 0.f);
      }
  // the input as zero-padded channel pairs, with slack for the last tile's reads
  std::vector<Bf16Pair> xb(g.b * pairs * plane + S * kPixels + g.kw, 0u);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < g.b * pairs * g.h; ++r) {
    const int64_t n = r / (pairs * g.h), cp = r / g.h % pairs, iy = r % g.h;
    const float* even = x + ((n * g.c + 2 * cp) * g.h + iy) * g.w;
    const bool has_odd = 2 * cp + 1 < g.c;
    Bf16Pair* dst = xb.data() + (n * pairs + cp) * plane + (iy + g.ph) * wp + g.pw;
    int64_t i = 0;
    if (has_odd)
      for (; i + kLanes <= g.w; i += kLanes) PairRows(even + i, even + g.h * g.w + i, dst + i);
    for (; i < g.w; ++i) dst[i] = PairOf(even[i], has_odd ? even[g.h * g.w + i] : 0.f);
  }
  const int64_t tiles_per_row = (g.wo + kPixels - 1) / kPixels, out_plane = g.ho * g.wo;
#pragma omp parallel num_threads(threads)
  {
    alignas(64) float tile[kBlock][kPixels];
#pragma omp for schedule(static)
    for (int64_t r = 0; r < g.b * g.ho; ++r) {
      const int64_t n = r / g.ho, oy = r % g.ho;
      for (int64_t t = 0; t < tiles_per_row; ++t) {
        const int64_t ox0 = t * kPixels;
        const int pixels = static_cast<int>(std::min<int64_t>(kPixels, g.wo - ox0));
        const Bf16Pair* src = xb.data() + n * pairs * plane + oy * S * wp + ox0 * S;
        for (int64_t blk = 0; blk < blocks; ++blk) {
          TileBf16<S>(src, plane, wp, packed.data() + blk * pairs * taps * kOutVecs, pairs, g.kh,
                   g.kw, tile);
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

void DirectConvBf16(const float* x, const float* w, float* y, const Geometry& g,
                    const Epilogue& e, int threads) {
  DirectBf16<1>(x, w, y, g, e, threads);
}

void StridedConvBf16(const float* x, const float* w, float* y, const Geometry& g,
                     const Epilogue& e, int stride, int threads) {
  if (stride == 1) DirectBf16<1>(x, w, y, g, e, threads);
  if (stride == 2) DirectBf16<2>(x, w, y, g, e, threads);
}


#else  // no AVX-512 BF16: the callers check Bf16Available() first

bool Bf16Available() { return false; }
void ProductsBf16(const Bf16Pair*, int64_t, const Vec*, int64_t, Vec*, int64_t, int) {}
std::vector<Vec> PackPairs(const float*, int64_t, int64_t) { return {}; }
void PairChannels(const float*, int64_t, int64_t, int64_t, Bf16Pair*) {}
void DirectConvBf16(const float*, const float*, float*, const Geometry&, const Epilogue&, int) {}
void StridedConvBf16(const float*, const float*, float*, const Geometry&, const Epilogue&, int,
                     int) {}

#endif

}  // namespace edvr_ops
