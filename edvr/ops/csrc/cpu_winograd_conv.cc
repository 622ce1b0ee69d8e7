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
#include "winograd_transform.h"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace edvr_ops {
namespace {

#if defined(__AVX512F__)
// One 4x4 output tile of kLanes channels: tile[i * 4 + j] holds position (i, j) of every
// channel (lanes = channels). Stored into y (channel l's row i at y[l * plane + i * row]) four
// pixels at a time: each row's four vectors are transposed in 128-bit lanes, so that lane q of
// `quad[c]` holds channel 4q + c. The residual (at the same offsets from e.residual + at) and,
// with residual_first, the activation are applied here, as the scalar path does.
inline void StoreTile4x4(const Vec* tile, float* y, int64_t plane, int64_t row,
                         const Epilogue& e, int64_t at) {
  const float* residual = e.residual ? e.residual + at : nullptr;
  const __m128 slope = _mm_set1_ps(e.slope);
  for (int i = 0; i < 4; ++i) {
    const __m512 r0 = (__m512)tile[i * 4], r1 = (__m512)tile[i * 4 + 1];
    const __m512 r2 = (__m512)tile[i * 4 + 2], r3 = (__m512)tile[i * 4 + 3];
    const __m512 lo01 = _mm512_unpacklo_ps(r0, r1), hi01 = _mm512_unpackhi_ps(r0, r1);
    const __m512 lo23 = _mm512_unpacklo_ps(r2, r3), hi23 = _mm512_unpackhi_ps(r2, r3);
    const __m512 quad[4] = {_mm512_shuffle_ps(lo01, lo23, 0x44), _mm512_shuffle_ps(lo01, lo23, 0xEE),
                            _mm512_shuffle_ps(hi01, hi23, 0x44), _mm512_shuffle_ps(hi01, hi23, 0xEE)};
    for (int c = 0; c < 4; ++c) {
      alignas(64) float lanes[16];
      _mm512_store_ps(lanes, quad[c]);
      for (int q = 0; q < 4; ++q) {
        const int64_t offset = (4 * q + c) * plane + i * row;
        __m128 v = _mm_load_ps(lanes + 4 * q);
        if (residual) {
          v = _mm_add_ps(v, _mm_loadu_ps(residual + offset));
          if (e.residual_first && e.activate)
            v = _mm_blendv_ps(v, _mm_mul_ps(v, slope), _mm_cmplt_ps(v, _mm_setzero_ps()));
        }
        _mm_storeu_ps(y + offset, v);
      }
    }
  }
}
#endif

// An M x M output tile of `count` channels from `first` (tile[i * M + j], lanes = channels),
// stored pixel-shuffled by 2: channel o's pixel (oy, ox) goes to channel o / 4, pixel
// (2 oy + o % 4 / 2, 2 ox + o % 2) of y (b, c_out / 4, 2 ho, 2 wo). With AVX-512 a whole 4x4
// tile of 16 channels is stored 8 pixels at a time: channels 2p and 2p + 1 of the four
// pixels of a tile row, read as 64-bit pairs, are one output row's 8 values.
template <int M>
inline void StoreShuffled(const Vec* tile, float* y, const Geometry& g, int64_t n,
                          int64_t first, int64_t count, int64_t oy0, int64_t ox0, int rows_out,
                          int cols_out) {
  const int64_t c4 = g.c_out / 4, row = 2 * g.wo;
  auto at = [&](int64_t o, int64_t oy, int64_t ox) {
    return ((n * c4 + o / 4) * 2 * g.ho + 2 * oy + o % 4 / 2) * row + 2 * ox + o % 2;
  };
#if defined(__AVX512F__)
  if (M == 4 && rows_out == M && cols_out == M && count == kLanes) {
    const __m512i even = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    const __m512i odd = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    for (int i = 0; i < M; ++i) {
      const __m512d a = (__m512d)tile[i * M], b = (__m512d)tile[i * M + 1];
      const __m512d c = (__m512d)tile[i * M + 2], d = (__m512d)tile[i * M + 3];
      const __m512d lo_ab = _mm512_unpacklo_pd(a, b), hi_ab = _mm512_unpackhi_pd(a, b);
      const __m512d lo_cd = _mm512_unpacklo_pd(c, d), hi_cd = _mm512_unpackhi_pd(c, d);
      // pairs p = 0, 2 | 4, 6 | 1, 3 | 5, 7: the low and high 256 bits of each
      const __m512d rows4[4] = {_mm512_permutex2var_pd(lo_ab, even, lo_cd),
                                _mm512_permutex2var_pd(lo_ab, odd, lo_cd),
                                _mm512_permutex2var_pd(hi_ab, even, hi_cd),
                                _mm512_permutex2var_pd(hi_ab, odd, hi_cd)};
      const int pairs[4][2] = {{0, 2}, {4, 6}, {1, 3}, {5, 7}};
      for (int k = 0; k < 4; ++k) {
        const __m512 v = _mm512_castpd_ps(rows4[k]);
        _mm256_storeu_ps(y + at(first + 2 * pairs[k][0], oy0 + i, ox0), _mm512_castps512_ps256(v));
        _mm256_storeu_ps(y + at(first + 2 * pairs[k][1], oy0 + i, ox0),
                         _mm512_extractf32x8_ps(v, 1));
      }
    }
    return;
  }
#endif
  float lanes[M * M][kLanes];
  std::memcpy(lanes, tile, sizeof(lanes));
  for (int64_t lane = 0; lane < count; ++lane)
    for (int i = 0; i < rows_out; ++i)
      for (int j = 0; j < cols_out; ++j)
        y[at(first + lane, oy0 + i, ox0 + j)] = lanes[i * M + j][lane];
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
          for (int64_t k = 0; k < vecs; ++k) {
            Vec d[T];
            for (int i = 0; i < T; ++i)
              d[i] = src[i] && masks[k] ? (Vec)_mm512_maskz_loadu_ps(masks[k], src[i] + k * kLanes)
                                        : Vec{};
            Mat::Input(d, 1, across.data() + k, kWidth / kLanes);
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
  Winograd<4>(Inputs{x, nullptr, g.c}, w, Outputs{y, false, nullptr, g.c_out}, g, e, threads);
}

void WinogradConv(const Inputs& in, const float* w, const Outputs& out, const Geometry& g,
                  const Epilogue& e, int threads) {
  Winograd<4>(in, w, out, g, e, threads);
}

}  // namespace edvr_ops
