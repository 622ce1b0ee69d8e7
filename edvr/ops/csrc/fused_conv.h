// SPDX-License-Identifier: Apache-2.0
//
// Shared declarations of the fused CPU convolutions (stride 1, dilation 1, one group):
//   y = act(conv(x, weight) + bias) + residual,  act(v) = v < 0 ? slope * v : v (or none),
//   or, with residual_first, y = act(conv(x, weight) + bias + residual)
// x (b, c, h, w), weight (c_out, c, kh, kw), bias (c_out) or null, residual and y
// (b, c_out, ho, wo); float32, contiguous. `DirectConv` takes any kernel size with padding
// below it; `WinogradConv` takes 3x3 kernels with padding 0, 1 or 2. The register tile
// (`Products`, `PackWeights`) also serves the no-gradient DCN (cpu_dcn_forward.cc).
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace edvr_ops {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
constexpr int kPixels = 12;   // pixels (or Winograd tiles) per register tile
#else
constexpr int kLanes = 8;
constexpr int kPixels = 6;
#endif
constexpr int kOutVecs = 2;                 // output-channel vectors per register tile
constexpr int kBlock = kOutVecs * kLanes;   // output channels per register tile

typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

struct Geometry {
  int64_t b, c, h, w, c_out, ho, wo;
  int kh, kw, ph, pw;
};

// What happens to each sum on its way out.
struct Epilogue {
  const float* bias;       // (c_out) or null
  const float* residual;   // like y, or null
  bool activate;
  float slope;
  bool residual_first;     // add the residual before the activation

  // The value stored at y[at] for output channel o, given the convolution sum.
  float Apply(float sum, int64_t o, int64_t at) const {
    float v = bias ? sum + bias[o] : sum;
    if (residual && residual_first) v += residual[at];
    if (activate && v < 0.f) v *= slope;
    return residual && !residual_first ? v + residual[at] : v;
  }
};

// Weights (c_out, rows) -> [ceil(c_out / kBlock)][rows][kBlock], zero-filled: the `b` of
// `Products`, one block of output channels after another.
std::vector<Vec> PackWeights(const float* w, int64_t c_out, int64_t rows);

// A register tile of a matrix product: out[p * out_step + v] = sum over r < rows of
// a[r * a_step + p] * b[r * kOutVecs + v], for Pixels columns p of `a` and the kBlock
// channels of b (vector v holds channels v*kLanes ...).
template <int Pixels>
void ProductsOf(const float* a, int64_t a_step, const Vec* b, int64_t rows, Vec* out,
                int64_t out_step) {
  Vec acc[Pixels][kOutVecs];
  for (int p = 0; p < Pixels; ++p)
    for (int v = 0; v < kOutVecs; ++v) acc[p][v] = Vec{};
  for (int64_t r = 0; r < rows; ++r) {
    const float* column = a + r * a_step;
    Vec bv[kOutVecs];
    for (int v = 0; v < kOutVecs; ++v) bv[v] = b[r * kOutVecs + v];
    for (int p = 0; p < Pixels; ++p) {
      const Vec value = column[p] - Vec{};  // a broadcast (x - 0 is x; Vec{} + x is not: -0)
      for (int v = 0; v < kOutVecs; ++v) acc[p][v] += value * bv[v];
    }
  }
  for (int p = 0; p < Pixels; ++p)
    for (int v = 0; v < kOutVecs; ++v) out[p * out_step + v] = acc[p][v];
}

template <int... P>
constexpr auto ProductsTable(std::integer_sequence<int, P...>) {
  return std::array<void (*)(const float*, int64_t, const Vec*, int64_t, Vec*, int64_t),
                    sizeof...(P)>{&ProductsOf<P + 1>...};
}

// `ProductsOf` for the first `count` (1..kPixels) columns of `a`.
inline void Products(const float* a, int64_t a_step, const Vec* b, int64_t rows, Vec* out,
                     int64_t out_step, int count = kPixels) {
  static constexpr auto table = ProductsTable(std::make_integer_sequence<int, kPixels>{});
  table[count - 1](a, a_step, b, rows, out, out_step);
}

void DirectConv(const float* x, const float* w, float* y, const Geometry& g, const Epilogue& e,
                int threads);

// The direct sum for at most kNarrow output channels, vectors along the output row.
constexpr int kNarrow = 4;
void NarrowConv(const float* x, const float* w, float* y, const Geometry& g, const Epilogue& e,
                int threads);

// Winograd F(4x4, 3x3): 4x fewer multiplications than the direct sum; its float32 rounding
// differs from the direct sum's by ~1e-6 of the output's scale.
void WinogradConv(const float* x, const float* w, float* y, const Geometry& g, const Epilogue& e,
                  int threads);

// The input as two tensors: channels [0, c1) from x (b, c1, h, w), the other g.c - c1 from
// x2 (b, g.c - c1, h, w) (null when c1 == g.c): the convolution of their concatenation.
struct Inputs {
  const float* x;
  const float* x2;
  int64_t c1;
};
// Where WinogradConv stores its output (no residual with `shuffle` or `y2`):
//   y alone: (b, c_out, ho, wo);
//   shuffle: y is the output pixel-shuffled by 2, (b, c_out / 4, 2 ho, 2 wo), channel o's
//     pixel (oy, ox) at channel o / 4, pixel (2 oy + o % 4 / 2, 2 ox + o % 2);
//   y2: channels [0, split) go to y (b, split, ho, wo), the others through a sigmoid to
//     y2 (b, c_out - split, ho, wo) (split a multiple of kLanes): DCN offsets and mask.
struct Outputs {
  float* y;
  bool shuffle;
  float* y2;
  int64_t split;
};
void WinogradConv(const Inputs& in, const float* w, const Outputs& out, const Geometry& g,
                  const Epilogue& e, int threads);

// 1 / (1 + exp(-x)) per lane (exp to about 1 ulp, Cephes' polynomial).
inline Vec Sigmoid(Vec x) {
  typedef int32_t IVec __attribute__((vector_size(kLanes * sizeof(int32_t))));
  Vec t = -x;
  t = t > 88.3762626647949f ? Vec{} + 88.3762626647949f : t;
  t = t < -88.3762626647949f ? Vec{} - 88.3762626647949f : t;
  const Vec k = (t * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round(t / ln 2)
  const Vec r = (t - k * 0.693359375f) - k * -2.12194440e-4f;
  Vec p = Vec{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const IVec bits = (__builtin_convertvector(k, IVec) + 127) << 23;  // 2^k
  return 1.f / (1.f + p * (Vec)bits);   // the bits of 2^k, as floats
}

// bfloat16 products with float32 sums (AVX-512 BF16, cpu_bf16_conv.cc): the same convolutions
// with the inputs and weights (for Winograd: their transforms) rounded to bfloat16. Without
// AVX-512 BF16, Bf16Available() is false and these functions do nothing.
typedef uint32_t Bf16Pair;  // two bfloat16 of consecutive rows, the even row in the low half
bool Bf16Available();
// [groups][rows][kBlock] floats -> [groups][ceil(rows / 2)][kBlock] pairs: the `b` of
// ProductsBf16.
std::vector<Vec> PackPairs(const float* w, int64_t groups, int64_t rows);
// [groups][rows][width] floats -> out [groups][ceil(rows / 2)][width] pairs.
void PairChannels(const float* v, int64_t groups, int64_t rows, int64_t width, Bf16Pair* out);
// `Products` over pairs of rows: a[r * a_step + p] holds rows 2r and 2r + 1 of column p.
void ProductsBf16(const Bf16Pair* a, int64_t a_step, const Vec* b, int64_t pairs, Vec* out,
                  int64_t out_step, int count = kPixels);
void DirectConvBf16(const float* x, const float* w, float* y, const Geometry& g,
                    const Epilogue& e, int threads);

}  // namespace edvr_ops
