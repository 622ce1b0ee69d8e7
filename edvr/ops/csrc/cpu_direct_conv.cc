// SPDX-License-Identifier: Apache-2.0
//
// Direct convolution for the CPU (stride 1, dilation 1, one group), with the bias, a
// leaky ReLU and a residual applied as each result is stored:
//
//   edvr_conv_direct  x (b, c, h, w), weight (c_out, c, kh, kw), bias (c_out) or none,
//                     residual (b, c_out, ho, wo) or none
//                     -> y = act(conv(x, weight) + bias) + residual,  act(v) = v < 0 ? slope*v : v
//                        (no activation when `activate` is 0)
//
// No column buffer: a tile of kOutVecs*kLanes output channels by kPixels neighbouring output
// pixels of one row is accumulated in vector registers. For every input channel and tap, the
// tile loads its weights as kOutVecs vectors (packed per call into
// [channel block][c][ky][kx][kOutVecs*kLanes]) and broadcasts one input value per pixel, so
// the input is read in place (NCHW). Tiles that reach over the image border read from a small
// zero-padded copy of their window instead. Sums run over channels, then taps in (ky, kx)
// order. Rows of the output are split over threads with OpenMP. Everything is float32 and
// contiguous. The lane count follows the compiler target: 16 with AVX-512, else 8.
#include <algorithm>
#include <cstring>
#include <vector>

#include "paddle/extension.h"

namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
constexpr int kPixels = 12;
#else
constexpr int kLanes = 8;
constexpr int kPixels = 6;
#endif
constexpr int kOutVecs = 2;
constexpr int kBlock = kOutVecs * kLanes;  // output channels per tile

typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

struct Geometry {
  int64_t b, c, h, w, c_out, ho, wo;
  int kh, kw, ph, pw;
};

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
          const Vec value = Vec{} + row[kx + p];
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

// Weights (c_out, c, kh, kw) -> [ceil(c_out / kBlock)][c][kh*kw][kBlock], zero-filled.
std::vector<Vec> PackWeights(const float* w, const Geometry& g) {
  const int64_t taps = static_cast<int64_t>(g.kh) * g.kw;
  const int64_t blocks = (g.c_out + kBlock - 1) / kBlock;
  std::vector<Vec> packed(blocks * g.c * taps * kOutVecs, Vec{});
  float* dst = reinterpret_cast<float*>(packed.data());
  for (int64_t o = 0; o < g.c_out; ++o)
    for (int64_t ci = 0; ci < g.c; ++ci)
      for (int64_t t = 0; t < taps; ++t)
        dst[(((o / kBlock) * g.c + ci) * taps + t) * kBlock + o % kBlock] =
            w[(o * g.c + ci) * taps + t];
  return packed;
}

void DirectConv(const float* x, const float* w, const float* bias, const float* residual,
                float* y, const Geometry& g, bool activate, float slope, int threads) {
  const std::vector<Vec> packed = PackWeights(w, g);
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
            const float b = bias ? bias[o] : 0.f;
            for (int p = 0; p < pixels; ++p) {
              float v = tile[i][p] + b;
              if (activate && v < 0.f) v *= slope;
              y[at + p] = residual ? v + residual[at + p] : v;
            }
          }
        }
      }
    }
  }
}

void CheckFloat(const paddle::Tensor& t, const char* name) {
  PD_CHECK(t.place() == paddle::CPUPlace(), name, " must be on the CPU");
  PD_CHECK(t.dtype() == paddle::DataType::FLOAT32, name, " must be float32");
}

Geometry MakeGeometry(const std::vector<int64_t>& x, const std::vector<int64_t>& w, int ph,
                      int pw) {
  PD_CHECK(x.size() == 4 && w.size() == 4, "x and weight must be 4-D");
  PD_CHECK(x[1] == w[1], "weight has ", w[1], " input channels, x has ", x[1]);
  Geometry g{x[0], x[1], x[2], x[3], w[0], 0, 0, static_cast<int>(w[2]),
             static_cast<int>(w[3]), ph, pw};
  g.ho = g.h + 2 * ph - g.kh + 1;
  g.wo = g.w + 2 * pw - g.kw + 1;
  PD_CHECK(g.ho > 0 && g.wo > 0, "input smaller than the kernel");
  return g;
}

std::vector<paddle::Tensor> DirectConvOp(const paddle::Tensor& x, const paddle::Tensor& weight,
                                         const paddle::optional<paddle::Tensor>& bias,
                                         const paddle::optional<paddle::Tensor>& residual,
                                         int ph, int pw, int activate, float slope,
                                         int threads) {
  CheckFloat(x, "x");
  CheckFloat(weight, "weight");
  const Geometry g = MakeGeometry(x.shape(), weight.shape(), ph, pw);
  const float* b = nullptr;
  if (bias) {
    CheckFloat(*bias, "bias");
    PD_CHECK(bias->numel() == g.c_out, "bias must have ", g.c_out, " values");
    b = bias->data<float>();
  }
  const float* res = nullptr;
  if (residual) {
    CheckFloat(*residual, "residual");
    PD_CHECK(residual->shape() == std::vector<int64_t>({g.b, g.c_out, g.ho, g.wo}),
             "residual must have the output's shape");
    res = residual->data<float>();
  }
  auto y = paddle::empty({g.b, g.c_out, g.ho, g.wo}, paddle::DataType::FLOAT32,
                         paddle::CPUPlace());
  DirectConv(x.data<float>(), weight.data<float>(), b, res, y.data<float>(), g, activate != 0,
             slope, threads);
  return {y};
}

std::vector<std::vector<int64_t>> DirectConvShape(const std::vector<int64_t>& x,
                                                  const std::vector<int64_t>& w,
                                                  const paddle::optional<std::vector<int64_t>>&,
                                                  const paddle::optional<std::vector<int64_t>>&,
                                                  int ph, int pw, int, float, int) {
  const Geometry g = MakeGeometry(x, w, ph, pw);
  return {{g.b, g.c_out, g.ho, g.wo}};
}

std::vector<paddle::DataType> DirectConvDtype(const paddle::DataType& t, const paddle::DataType&,
                                              const paddle::optional<paddle::DataType>&,
                                              const paddle::optional<paddle::DataType>&) {
  return {t};
}

}  // namespace

PD_BUILD_OP(edvr_conv_direct)
    .Inputs({"X", "Weight", paddle::Optional("Bias"), paddle::Optional("Residual")})
    .Outputs({"Out"})
    .Attrs({"ph: int", "pw: int", "activate: int", "slope: float", "threads: int"})
    .SetKernelFn(PD_KERNEL(DirectConvOp))
    .SetInferShapeFn(PD_INFER_SHAPE(DirectConvShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(DirectConvDtype));
