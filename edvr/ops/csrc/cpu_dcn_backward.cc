// SPDX-License-Identifier: Apache-2.0
//
// Backward pass of the modulated deformable convolution (DCNv2) without a whole column
// buffer, for a multiple of 8 channels per deformable group (EDVR-M and EDVR-L):
//
//   edvr_dcn_backward  x (b, c, h, w), offset (b, 2*G*K, ho, wo), mask (b, G*K, ho, wo),
//                      weight (c_out, c, kh, kw), grad_out (b, c_out, ho, wo)
//                      -> grad_x, grad_offset, grad_mask, grad_weight (shapes of the inputs)
//
// The sampling is that of cpu_dcn_forward.cc and cpu_dcn_columns.cc (offset channel
// (g*K + k)*2 holds dy, +1 dx; corners outside the image read zero, points with y <= -1,
// y >= h, x <= -1 or x >= w read zero and take no offset or mask gradient). Work unit: one
// deformable group g of one sample, in blocks of kPositions output positions. Per block:
//   1. the column gradient of the group, gcols[p][k*cg + ci] = sum_o grad_out[o][p] *
//      weight[o][g*cg + ci][k], on the fused kernels' register tile (fused_conv.h);
//   2. per position and tap, the four corners of the sample point, 8 channels per load from
//      a channels-last copy of x: the masked sample goes into the block's columns, the
//      offset and mask gradients are summed from the column gradient, and the column
//      gradient times the corner weights is added to a channels-last input gradient;
//   3. the weight gradient of the group, grad_w[k*cg + ci][o] += sum_p cols[p][k*cg + ci] *
//      grad_out[o][p], on the same register tile.
// Groups own disjoint input channels, so the (sample, group) units run on threads without
// sharing an input gradient; each thread sums its own weight gradient, and the threads' sums
// are added in a fixed order (the result does not depend on timing).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "fused_conv.h"
#include "op_checks.h"
#include "paddle/extension.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

using edvr_ops::CheckFloat;

using edvr_ops::kBlock;
using edvr_ops::kLanes;
using edvr_ops::kOutVecs;
using edvr_ops::kPixels;
using edvr_ops::Vec;

#include "dcn_sampling.h"  // NOLINT: inside the unnamed namespace on purpose (the geometry)

constexpr int64_t kOctet = 8;
typedef float V8 __attribute__((vector_size(kOctet * sizeof(float))));  // one octet of channels

inline V8 Load(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof(V8));
  return v;
}

inline void Store(float* p, V8 v) { std::memcpy(p, &v, sizeof(V8)); }

int64_t RoundUp(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

// x (b, c, h, w) <-> [b][c / 8][h * w][8]; to_octets false copies back (octets -> x).
void Octets(float* x, float* octets, const DcnGeometry& s, bool to_octets, int threads) {
  const int64_t plane = s.h * s.w, count = s.b * s.c / kOctet, parts = (plane + 255) / 256;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t task = 0; task < count * parts; ++task) {
    const int64_t o = task / parts, p0 = task % parts * 256, p1 = std::min(plane, p0 + 256);
    float* planar = x + o * kOctet * plane;
    float* packed = octets + o * plane * kOctet;
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t ci = 0; ci < kOctet; ++ci) {
        if (to_octets)
          packed[p * kOctet + ci] = planar[ci * plane + p];
        else
          planar[ci * plane + p] = packed[p * kOctet + ci];
      }
  }
}

inline float HorizontalSum(V8 v) {
  return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}

// The sample points of one tap for a block of positions: fractional parts, the mask, and per
// corner its validity (1 or 0) and octet offset (clamped into the plane, so that an invalid
// corner reads and writes a real address, with weight zero). Points with y <= -1, y >= h,
// x <= -1 or x >= w (or NaN) have every corner invalid.
struct Corners {
  float ly[kPositions], lx[kPositions], m[kPositions], valid[4][kPositions];
  int32_t at[4][kPositions];

  // (Without floating-point traps to respect, GCC runs this loop on vectors; the values
  // are the same.)
  __attribute__((noinline, optimize("no-trapping-math"))) void Locate(
      const float* __restrict off_y, const float* __restrict off_x,
      const float* __restrict mask, const float* __restrict base_y,
      const float* __restrict base_x, float tap_y, float tap_x, int64_t count, const DcnGeometry& s) {
    const float h = static_cast<float>(s.h), w = static_cast<float>(s.w);
    const int32_t hi_y = static_cast<int32_t>(s.h) - 1, hi_x = static_cast<int32_t>(s.w) - 1;
    const int32_t width = static_cast<int32_t>(s.w);
    for (int64_t i = 0; i < count; ++i) {  // branch-free, so that it runs on vectors
      const float y = base_y[i] + tap_y + off_y[i], x = base_x[i] + tap_x + off_x[i];
      const int inside = (y > -1.f) & (x > -1.f) & (y < h) & (x < w);  // 0 for NaN
      const float yc = inside ? y : -2.f, xc = inside ? x : -2.f;
      const float fy = __builtin_floorf(yc), fx = __builtin_floorf(xc);
      const int32_t y0 = static_cast<int32_t>(fy), x0 = static_cast<int32_t>(fx);
      ly[i] = yc - fy;
      lx[i] = xc - fx;
      m[i] = mask[i];
      const int ok_y0 = y0 >= 0, ok_y1 = (y0 >= -1) & (y0 + 1 <= hi_y);
      const int ok_x0 = x0 >= 0, ok_x1 = (x0 >= -1) & (x0 + 1 <= hi_x);
      const int32_t r0 = std::max(y0, 0) * width;
      const int32_t r1 = std::max(std::min(y0 + 1, hi_y), 0) * width;
      const int32_t c0 = std::max(x0, 0), c1 = std::max(std::min(x0 + 1, hi_x), 0);
      valid[0][i] = static_cast<float>(ok_y0 & ok_x0);
      valid[1][i] = static_cast<float>(ok_y0 & ok_x1);
      valid[2][i] = static_cast<float>(ok_y1 & ok_x0);
      valid[3][i] = static_cast<float>(ok_y1 & ok_x1);
      at[0][i] = (r0 + c0) * static_cast<int32_t>(kOctet);
      at[1][i] = (r0 + c1) * static_cast<int32_t>(kOctet);
      at[2][i] = (r1 + c0) * static_cast<int32_t>(kOctet);
      at[3][i] = (r1 + c1) * static_cast<int32_t>(kOctet);
    }
  }
};

void DcnBackward(const float* x, const float* offset, const float* mask, const float* weight,
                 const float* grad_out, float* gx, float* goffset, float* gmask, float* gw,
                 const DcnGeometry& s, int threads) {
  const int64_t taps = static_cast<int64_t>(s.kh) * s.kw, cg = s.c / s.groups;
  const int64_t rows = taps * cg;  // rows per group
  const int64_t padded = RoundUp(rows, kBlock), npos = s.ho * s.wo, plane = s.h * s.w;
  const int64_t out_blocks = (s.c_out + kBlock - 1) / kBlock, c_out_padded = out_blocks * kBlock;
  const int64_t position_blocks = (npos + kPositions - 1) / kPositions;
  // Per group, weight^T (rows k*cg + ci, by output channel) packed for `Products`.
  std::vector<std::vector<Vec>> packed(s.groups);
  for (int64_t g = 0; g < s.groups; ++g) {
    std::vector<float> wt(rows * s.c_out);
    for (int64_t o = 0; o < s.c_out; ++o)
      for (int64_t ci = 0; ci < cg; ++ci)
        for (int64_t k = 0; k < taps; ++k)
          wt[(k * cg + ci) * s.c_out + o] = weight[(o * s.c + g * cg + ci) * taps + k];
    packed[g] = edvr_ops::PackWeights(wt.data(), rows, s.c_out);
  }
  std::unique_ptr<float[]> xo(new float[s.b * s.c * plane]);
  std::unique_ptr<float[]> gxo(new float[s.b * s.c * plane]);
  Octets(const_cast<float*>(x), xo.get(), s, true, threads);
  int used = 1;
  std::vector<std::vector<float>> gw_of(threads);
#pragma omp parallel num_threads(threads)
  {
    int id = 0;
#if defined(_OPENMP)
    id = omp_get_thread_num();
#pragma omp single
    used = omp_get_num_threads();
#endif
    std::vector<float>& acc = gw_of[id];
    acc.assign(s.groups * rows * c_out_padded, 0.f);
    std::vector<Vec> gcols(kPositions * padded / kLanes);      // [p][padded]
    std::vector<float> cols(kPositions * padded);               // [p][padded]
    std::vector<Vec> gyt(out_blocks * kPositions * kOutVecs);   // [block][p][kBlock]
    Vec tile[kPixels * kOutVecs];
    Corners corners;
    float base_y[kPositions], base_x[kPositions];
#pragma omp for schedule(static)
    for (int64_t task = 0; task < s.b * s.groups; ++task) {
      const int64_t n = task / s.groups, g = task % s.groups;
      float* gxg = gxo.get() + (n * s.c + g * cg) * plane;
      std::memset(gxg, 0, sizeof(float) * cg * plane);
      const float* xg = xo.get() + (n * s.c + g * cg) * plane;
      const float* dy = grad_out + n * s.c_out * npos;
      for (int64_t pb = 0; pb < position_blocks; ++pb) {
        const int64_t p0 = pb * kPositions, count = std::min(kPositions, npos - p0);
        // 1. column gradient
        for (int64_t blk = 0; blk < padded / kBlock; ++blk)
          for (int64_t i = 0; i < count; i += kPixels)
            edvr_ops::Products(dy + p0 + i, npos, packed[g].data() + blk * s.c_out * kOutVecs,
                               s.c_out, gcols.data() + (i * padded + blk * kBlock) / kLanes,
                               padded / kLanes,
                               static_cast<int>(std::min<int64_t>(kPixels, count - i)));
        const float* gc_rows = reinterpret_cast<const float*>(gcols.data());
        // 2. sampling, offset and mask gradients, input gradient
        for (int64_t i = 0; i < count; ++i) {
          base_y[i] = static_cast<float>((p0 + i) / s.wo * s.sh - s.ph);
          base_x[i] = static_cast<float>((p0 + i) % s.wo * s.sw - s.pw);
        }
        for (int64_t k = 0; k < taps; ++k) {
          const int64_t at = (n * s.groups + g) * taps + k;
          const float* off_y = offset + at * 2 * npos + p0;
          const float* msk = mask + at * npos + p0;
          corners.Locate(off_y, off_y + npos, msk, base_y, base_x,
                         static_cast<float>((k / s.kw) * s.dh),
                         static_cast<float>((k % s.kw) * s.dw), count, s);
          float* gm_out = gmask + at * npos + p0;
          float* go_y = goffset + at * 2 * npos + p0;
          float* go_x = go_y + npos;
          for (int64_t i = 0; i < count; ++i) {
            const Corners& cr = corners;
            float* col = cols.data() + i * padded + k * cg;
            const float* gc = gc_rows + i * padded + k * cg;
            const float ly = cr.ly[i], lx = cr.lx[i], hy = 1.f - ly, hx = 1.f - lx, m = cr.m[i];
            const float wc[4] = {hy * hx, hy * lx, ly * hx, ly * lx};
            V8 sum_m = V8{}, sum_y = V8{}, sum_x = V8{};
            for (int64_t q = 0; q < cg; q += kOctet) {
              const float* xq = xg + q * plane;
              float* gq = gxg + q * plane;
              V8 a[4];
              for (int j = 0; j < 4; ++j) a[j] = cr.valid[j][i] * Load(xq + cr.at[j][i]);
              const V8 value = wc[0] * a[0] + wc[1] * a[1] + wc[2] * a[2] + wc[3] * a[3];
              Store(col + q, m * value);
              const V8 g8 = Load(gc + q);
              sum_m += g8 * value;
              sum_y += g8 * (hx * (a[2] - a[0]) + lx * (a[3] - a[1]));
              sum_x += g8 * (hy * (a[1] - a[0]) + ly * (a[3] - a[2]));
              const V8 gm8 = m * g8;
              for (int j = 0; j < 4; ++j) {  // invalid corners add zero at a valid address
                float* dst = gq + cr.at[j][i];
                Store(dst, Load(dst) + (cr.valid[j][i] * wc[j]) * gm8);
              }
            }
            gm_out[i] = HorizontalSum(sum_m);
            go_y[i] = HorizontalSum(sum_y) * m;
            go_x[i] = HorizontalSum(sum_x) * m;
          }
        }
        // 3. weight gradient: acc[g][r][o] += sum_p cols[p][r] * grad_out[o][p]
        float* dst = reinterpret_cast<float*>(gyt.data());
        for (int64_t o = 0; o < c_out_padded; ++o) {  // [o / kBlock][i][o % kBlock]
          float* to = dst + o / kBlock * kPositions * kBlock + o % kBlock;
          const float* from = dy + o * npos + p0;
          for (int64_t i = 0; i < count; ++i) to[i * kBlock] = o < s.c_out ? from[i] : 0.f;
        }
        for (int64_t r0 = 0; r0 < rows; r0 += kPixels) {
          const int width = static_cast<int>(std::min<int64_t>(kPixels, rows - r0));
          for (int64_t ob = 0; ob < out_blocks; ++ob) {
            edvr_ops::Products(cols.data() + r0, padded,
                               gyt.data() + ob * kPositions * kOutVecs, count, tile, kOutVecs,
                               width);
            const float* t = reinterpret_cast<const float*>(tile);
            float* a = acc.data() + (g * rows + r0) * c_out_padded + ob * kBlock;
            for (int r = 0; r < width; ++r)
              for (int64_t l = 0; l < kBlock; ++l) a[r * c_out_padded + l] += t[r * kBlock + l];
          }
        }
      }
    }
  }
  Octets(gx, gxo.get(), s, false, threads);
  // grad_weight[o][g*cg + ci][k] = the threads' sums of acc[g][k*cg + ci][o], in order
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t o = 0; o < s.c_out; ++o)
    for (int64_t g = 0; g < s.groups; ++g)
      for (int64_t ci = 0; ci < cg; ++ci)
        for (int64_t k = 0; k < taps; ++k) {
          float sum = 0.f;
          for (int id = 0; id < used; ++id)
            sum += gw_of[id][(g * rows + k * cg + ci) * c_out_padded + o];
          gw[(o * s.c + g * cg + ci) * taps + k] = sum;
        }
}

std::vector<paddle::Tensor> DcnBackwardOp(const paddle::Tensor& x, const paddle::Tensor& offset,
                                          const paddle::Tensor& mask,
                                          const paddle::Tensor& weight,
                                          const paddle::Tensor& grad_out, int sh, int sw, int ph,
                                          int pw, int dh, int dw, int groups, int threads) {
  for (auto [t, name] : {std::pair{&x, "x"}, {&offset, "offset"}, {&mask, "mask"},
                         {&weight, "weight"}, {&grad_out, "grad_out"}})
    CheckFloat(*t, name);
  const DcnGeometry s = MakeGeometry(x.shape(), offset.shape(), mask.shape(), weight.shape(),
                                     sh, sw, ph, pw, dh, dw, groups);
  PD_CHECK(s.c % (8 * groups) == 0, "edvr_dcn_backward needs a multiple of 8 channels per group");
  PD_CHECK(grad_out.shape() == std::vector<int64_t>({s.b, s.c_out, s.ho, s.wo}),
           "grad_out must be (b, c_out, ho, wo)");
  auto gx = paddle::empty(x.shape(), paddle::DataType::FLOAT32, paddle::CPUPlace());
  auto goffset = paddle::empty(offset.shape(), paddle::DataType::FLOAT32, paddle::CPUPlace());
  auto gmask = paddle::empty(mask.shape(), paddle::DataType::FLOAT32, paddle::CPUPlace());
  auto gw = paddle::empty(weight.shape(), paddle::DataType::FLOAT32, paddle::CPUPlace());
  DcnBackward(x.data<float>(), offset.data<float>(), mask.data<float>(), weight.data<float>(),
              grad_out.data<float>(), gx.data<float>(), goffset.data<float>(),
              gmask.data<float>(), gw.data<float>(), s, std::max(1, threads));
  return {gx, goffset, gmask, gw};
}

std::vector<std::vector<int64_t>> DcnBackwardShape(
    const std::vector<int64_t>& x, const std::vector<int64_t>& offset,
    const std::vector<int64_t>& mask, const std::vector<int64_t>& weight,
    const std::vector<int64_t>&) {
  return {x, offset, mask, weight};
}

std::vector<paddle::DataType> DcnBackwardDtype(const paddle::DataType& t,
                                               const paddle::DataType&,
                                               const paddle::DataType&,
                                               const paddle::DataType&,
                                               const paddle::DataType&) {
  return {t, t, t, t};
}

}  // namespace

PD_BUILD_OP(edvr_dcn_backward)
    .Inputs({"X", "Offset", "Mask", "Weight", "GradOut"})
    .Outputs({"GradX", "GradOffset", "GradMask", "GradWeight"})
    .Attrs({"sh: int", "sw: int", "ph: int", "pw: int", "dh: int", "dw: int", "groups: int",
            "threads: int"})
    .SetKernelFn(PD_KERNEL(DcnBackwardOp))
    .SetInferShapeFn(PD_INFER_SHAPE(DcnBackwardShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(DcnBackwardDtype));
