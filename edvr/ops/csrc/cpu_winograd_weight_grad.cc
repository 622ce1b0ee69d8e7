// SPDX-License-Identifier: Apache-2.0
//
// The weight and bias gradients of the fused 3x3, stride-1 convolutions (training), by
// Winograd F(4x4, 3x3), without a column buffer:
//
//   edvr_conv_weight_winograd  x (b, c, h, w), grad_out (b, c_out, ho, wo), padding ph, pw (< 3)
//                              -> grad_weight (c_out, c, 3, 3), grad_bias (c_out)
//
// The forward computes each 4x4 output tile as  Y = AT [ sum_c U .* V ] A  with U = G g GT
// (the weights) and V = BT d B (the 6x6 input patch d), exact in real arithmetic. Its
// gradient with respect to the weights is therefore
//
//   dM = A dY AT  (6x6, per output channel and tile),
//   dU[xi][o][c] = sum over tiles of dM[xi][o] * V[xi][c]    (36 matrix products),
//   dg = GT dU G  (3x3, per channel pair),
//
// 36 products of (c_out x tiles) @ (tiles x c) instead of 9 of (c_out x 16 tiles) @ ...:
// 4x fewer multiplications than im2col and one matrix product. x and grad_out are first
// copied channels-last and zero-padded (x by the padding, both to whole tiles), so each
// transform runs on vectors of kLanes channels. Tiles (over samples and tile rows) go in
// chunks that stay in cache; each thread sums its own dU over its share of the tiles, and
// the threads' sums are added in a fixed order (the result does not depend on timing). The
// bias gradient, the sum of grad_out, is the sum over tiles of dM[1][1] (A's second row is
// all ones).
// The rounding differs from the direct sum's by ~1e-6 of the gradient's scale.
#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "fused_conv.h"
#include "op_checks.h"
#include "winograd_transform.h"
#include "paddle/extension.h"

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace {

using edvr_ops::CheckFloat;
using edvr_ops::kLanes;
using edvr_ops::Vec;

constexpr int kVecs = 2;                  // wide-side vectors per register tile
constexpr int kWide = kVecs * kLanes;     // wide-side channels per register tile
constexpr int kNarrow = 12;               // narrow-side channels per register tile
constexpr int64_t kChunk = 64;            // tiles transformed at a time

using Mat = edvr_ops::Matrices<4>;
using edvr_ops::Apply;

int64_t RoundUp(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

#if defined(__AVX512F__)
// out[j * out_step + i] = in[i * in_step + j] for i, j < 16, in registers.
inline void Transpose16(const float* in, int64_t in_step, float* out, int64_t out_step) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(in + i * in_step);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // u[4a + b], 128-bit lane l: column 4l + b of rows 4a .. 4a + 3
  for (int a = 0; a < 16; a += 4) {
    r[a] = _mm512_shuffle_ps(t[a], t[a + 2], 0x44);
    r[a + 1] = _mm512_shuffle_ps(t[a], t[a + 2], 0xEE);
    r[a + 2] = _mm512_shuffle_ps(t[a + 1], t[a + 3], 0x44);
    r[a + 3] = _mm512_shuffle_ps(t[a + 1], t[a + 3], 0xEE);
  }
  for (int b = 0; b < 4; ++b) {  // column 4l + b: lane l of u[b], u[4 + b], u[8 + b], u[12 + b]
    const __m512 x01 = _mm512_shuffle_f32x4(r[b], r[4 + b], 0x44);
    const __m512 y01 = _mm512_shuffle_f32x4(r[8 + b], r[12 + b], 0x44);
    const __m512 x23 = _mm512_shuffle_f32x4(r[b], r[4 + b], 0xEE);
    const __m512 y23 = _mm512_shuffle_f32x4(r[8 + b], r[12 + b], 0xEE);
    _mm512_storeu_ps(out + b * out_step, _mm512_shuffle_f32x4(x01, y01, 0x88));
    _mm512_storeu_ps(out + (4 + b) * out_step, _mm512_shuffle_f32x4(x01, y01, 0xDD));
    _mm512_storeu_ps(out + (8 + b) * out_step, _mm512_shuffle_f32x4(x23, y23, 0x88));
    _mm512_storeu_ps(out + (12 + b) * out_step, _mm512_shuffle_f32x4(x23, y23, 0xDD));
  }
}
#endif

// src (b, c, h, w) -> dst [b][hp][wp][cp], zero outside, (y, x) of src at (y + oy, x + ox).
void ChannelsLast(const float* src, int64_t b, int64_t c, int64_t h, int64_t w, float* dst,
                  int64_t hp, int64_t wp, int64_t cp, int64_t oy, int64_t ox, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < b * hp; ++r) {
    const int64_t n = r / hp, y = r % hp - oy;
    float* row = dst + r * wp * cp;
    std::memset(row, 0, sizeof(float) * wp * cp);
    if (y < 0 || y >= h) continue;
    for (int64_t c0 = 0; c0 < c; c0 += 16) {
      const int64_t cn = std::min<int64_t>(16, c - c0);
      const float* in = src + ((n * c + c0) * h + y) * w;
      int64_t x = 0;
#if defined(__AVX512F__)
      if (cn == 16)
        for (; x + 16 <= w; x += 16) Transpose16(in + x, h * w, row + (x + ox) * cp + c0, cp);
#endif
      for (; x < w; ++x) {
        float* out = row + (x + ox) * cp + c0;
        for (int64_t ci = 0; ci < cn; ++ci) out[ci] = in[ci * h * w + x];
      }
    }
  }
}

// The 36 values M t MT of one tile t, T x T values at `at` (rows `row` floats apart, pixels
// cp apart), for every channel: channel ci of value xi at out[xi * xi_step + ci]. With BT
// (T = 6) the input's V = BT d B, with A (T = 4) the output gradient's dM = A dY AT.
template <int T, const float (&M)[6][T]>
inline void Transform(const float* at, int64_t row, int64_t cp, float* out, int64_t xi_step) {
  for (int64_t c0 = 0; c0 < cp; c0 += kLanes) {
    Vec d[T * T], across[T * 6];
    for (int i = 0; i < T; ++i)
      for (int j = 0; j < T; ++j)
        std::memcpy(&d[i * T + j], at + i * row + j * cp + c0, sizeof(Vec));
    for (int i = 0; i < T; ++i) Apply(M, d + i * T, 1, across + i * 6, 1);   // along x
    Vec result[36];
    for (int j = 0; j < 6; ++j) Apply(M, across + j, 6, result + j, 6);     // along y
    for (int xi = 0; xi < 36; ++xi) std::memcpy(out + xi * xi_step + c0, &result[xi], sizeof(Vec));
  }
}

// du[p * du_step + l] += sum over t < tiles of narrow[t * n_step + p] * wide[t * w_step + l],
// for P narrow channels p and kWide wide channels l (a register tile).
template <int P>
void AccumulateOf(const float* narrow, int64_t n_step, const Vec* wide, int64_t w_step,
                  int64_t tiles, float* du, int64_t du_step) {
  Vec acc[P][kVecs];
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < kVecs; ++v) acc[p][v] = Vec{};
  for (int64_t t = 0; t < tiles; ++t) {
    Vec wv[kVecs];
    for (int v = 0; v < kVecs; ++v) wv[v] = wide[t * w_step + v];
    for (int p = 0; p < P; ++p) {
      const Vec value = narrow[t * n_step + p] - Vec{};  // one broadcast load (see ProductsOf)
      for (int v = 0; v < kVecs; ++v) acc[p][v] += value * wv[v];
    }
  }
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < kVecs; ++v) {
      Vec sum;
      std::memcpy(&sum, du + p * du_step + v * kLanes, sizeof(Vec));
      sum += acc[p][v];
      std::memcpy(du + p * du_step + v * kLanes, &sum, sizeof(Vec));
    }
}

template <int... P>
constexpr auto AccumulateTable(std::integer_sequence<int, P...>) {
  return std::array<void (*)(const float*, int64_t, const Vec*, int64_t, int64_t, float*,
                             int64_t),
                    sizeof...(P)>{&AccumulateOf<P + 1>...};
}

void Accumulate(const float* narrow, int64_t n_step, const Vec* wide, int64_t w_step,
                int64_t tiles, float* du, int64_t du_step, int count) {
  static constexpr auto table = AccumulateTable(std::make_integer_sequence<int, kNarrow>{});
  table[count - 1](narrow, n_step, wide, w_step, tiles, du, du_step);
}

void WeightGrad(const float* x, const float* dy, float* dw, float* db, int64_t b, int64_t c,
                int64_t h, int64_t w, int64_t c_out, int ph, int pw, int threads) {
  const int64_t ho = h + 2 * ph - 2, wo = w + 2 * pw - 2;
  const int64_t th = (ho + 3) / 4, tw = (wo + 3) / 4, tiles = b * th * tw;
  const int64_t hp = 4 * th + 2, wp = 4 * tw + 2;
  // The side with more channels is "wide" (vectors in the products), the other "narrow".
  const bool x_wide = c >= c_out;
  const int64_t cx = RoundUp(c, x_wide ? kWide : kLanes);
  const int64_t cy = RoundUp(c_out, x_wide ? kLanes : kWide);
  const int64_t n_wide = x_wide ? cx : cy, n_narrow = x_wide ? cy : cx;
  const int64_t narrow_real = x_wide ? c_out : c;
  std::unique_ptr<float[]> xs(new float[b * hp * wp * cx]);   // every value written below
  std::unique_ptr<float[]> ys(new float[b * 4 * th * 4 * tw * cy]);
  ChannelsLast(x, b, c, h, w, xs.get(), hp, wp, cx, ph, pw, threads);
  ChannelsLast(dy, b, c_out, ho, wo, ys.get(), 4 * th, 4 * tw, cy, 0, 0, threads);
  const int64_t chunk = kChunk;
  const int64_t du_size = 36 * n_narrow * n_wide;
  int used = 1;
  std::vector<std::vector<float>> du_of(threads);
  std::vector<std::vector<double>> bias_of(threads);
#pragma omp parallel num_threads(threads)
  {
    int id = 0, nt = 1;
#if defined(_OPENMP)
    id = omp_get_thread_num();
    nt = omp_get_num_threads();
#endif
#pragma omp single
    used = nt;
    std::vector<float>& du = du_of[id];
    du.assign(du_size, 0.f);
    std::vector<double>& bias = bias_of[id];
    bias.assign(c_out, 0.0);
    std::vector<Vec> vx(36 * chunk * cx / kLanes), vy(36 * chunk * cy / kLanes);
    float* fx = reinterpret_cast<float*>(vx.data());
    float* fy = reinterpret_cast<float*>(vy.data());
    const int64_t t_begin = tiles * id / nt, t_end = tiles * (id + 1) / nt;
    for (int64_t t0 = t_begin; t0 < t_end; t0 += chunk) {
      const int64_t count = std::min(chunk, t_end - t0);
      for (int64_t i = 0; i < count; ++i) {
        const int64_t t = t0 + i, n = t / (th * tw), ty = t / tw % th, tx = t % tw;
        Transform<6, Mat::BT>(xs.get() + ((n * hp + 4 * ty) * wp + 4 * tx) * cx, wp * cx, cx,
                          fx + i * cx, chunk * cx);
        Transform<4, Mat::A>(ys.get() + ((n * 4 * th + 4 * ty) * 4 * tw + 4 * tx) * cy, 4 * tw * cy,
                         cy, fy + i * cy, chunk * cy);
      }
      for (int64_t i = 0; i < count; ++i) {  // dM[1][1] of a tile: the sum of its grad_out
        const float* sums = fy + 7 * chunk * cy + i * cy;
        for (int64_t o = 0; o < c_out; ++o) bias[o] += sums[o];
      }
      const float* narrow = x_wide ? fy : fx;
      const Vec* wide = x_wide ? vx.data() : vy.data();
      for (int xi = 0; xi < 36; ++xi)
        for (int64_t p0 = 0; p0 < narrow_real; p0 += kNarrow)
          for (int64_t l0 = 0; l0 < n_wide; l0 += kWide)
            Accumulate(narrow + xi * chunk * n_narrow + p0, n_narrow,
                       wide + (xi * chunk * n_wide + l0) / kLanes, n_wide / kLanes, count,
                       du.data() + (xi * n_narrow + p0) * n_wide + l0, n_wide,
                       static_cast<int>(std::min<int64_t>(kNarrow, narrow_real - p0)));
    }
  }
  for (int64_t o = 0; o < c_out; ++o) {
    double sum = 0.0;
    for (int id = 0; id < used; ++id) sum += bias_of[id][o];
    db[o] = static_cast<float>(sum);
  }
  // dg = GT dU G per channel pair, the threads' dU added in thread order.
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t o = 0; o < c_out; ++o)
    for (int64_t ci = 0; ci < c; ++ci) {
      const int64_t p = x_wide ? o : ci, l = x_wide ? ci : o;
      double u[36];
      for (int xi = 0; xi < 36; ++xi) {
        double sum = 0.0;
        for (int id = 0; id < used; ++id) sum += du_of[id][(xi * n_narrow + p) * n_wide + l];
        u[xi] = sum;
      }
      double gu[3][6];  // GT dU
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 6; ++j) {
          double s = 0.0;
          for (int a = 0; a < 6; ++a) s += Mat::G[a][i] * u[a * 6 + j];
          gu[i][j] = s;
        }
      float* out = dw + (o * c + ci) * 9;
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
          double s = 0.0;
          for (int a = 0; a < 6; ++a) s += gu[i][a] * Mat::G[a][j];
          out[i * 3 + j] = static_cast<float>(s);
        }
    }
}

std::vector<paddle::Tensor> WeightGradOp(const paddle::Tensor& x, const paddle::Tensor& grad_out,
                                         int ph, int pw, int threads) {
  CheckFloat(x, "x");
  CheckFloat(grad_out, "grad_out");
  auto xd = x.shape(), gd = grad_out.shape();
  PD_CHECK(xd.size() == 4 && gd.size() == 4, "x and grad_out must be 4-D");
  PD_CHECK(ph >= 0 && ph < 3 && pw >= 0 && pw < 3, "padding must be 0, 1 or 2");
  PD_CHECK(gd[0] == xd[0] && gd[2] == xd[2] + 2 * ph - 2 && gd[3] == xd[3] + 2 * pw - 2 &&
               gd[2] > 0 && gd[3] > 0,
           "grad_out must be (b, c_out, h + 2 ph - 2, w + 2 pw - 2)");
  auto dw = paddle::empty({gd[1], xd[1], 3, 3}, paddle::DataType::FLOAT32, paddle::CPUPlace());
  auto db = paddle::empty({gd[1]}, paddle::DataType::FLOAT32, paddle::CPUPlace());
  WeightGrad(x.data<float>(), grad_out.data<float>(), dw.data<float>(), db.data<float>(), xd[0],
             xd[1], xd[2], xd[3], gd[1], ph, pw, std::max(1, threads));
  return {dw, db};
}

std::vector<std::vector<int64_t>> WeightGradShape(const std::vector<int64_t>& x,
                                                  const std::vector<int64_t>& g, int, int,
                                                  int) {
  return {{g[1], x[1], 3, 3}, {g[1]}};
}

std::vector<paddle::DataType> WeightGradDtype(const paddle::DataType& t,
                                              const paddle::DataType&) {
  return {t, t};
}

}  // namespace

PD_BUILD_OP(edvr_conv_weight_winograd)
    .Inputs({"X", "GradOut"})
    .Outputs({"GradWeight", "GradBias"})
    .Attrs({"ph: int", "pw: int", "threads: int"})
    .SetKernelFn(PD_KERNEL(WeightGradOp))
    .SetInferShapeFn(PD_INFER_SHAPE(WeightGradShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(WeightGradDtype));
