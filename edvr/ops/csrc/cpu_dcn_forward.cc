// SPDX-License-Identifier: Apache-2.0
//
// Modulated deformable convolution (DCNv2) forward without a whole column buffer, for
// passes without gradients:
//
//   edvr_dcn_forward  x (b, c, h, w), offset (b, 2*G*K, ho, wo), mask (b, G*K, ho, wo),
//                     weight (c_out, c, kh, kw), bias (c_out) or none  -> y (b, c_out, ho, wo)
//
// Output positions (row-major over ho*wo) go in blocks of kPositions. For each block, the
// bilinear samples times the mask fill a column block (c*K rows by kPositions, row c*K + k
// for channel c at tap k) that stays in cache, and the fused kernels' register tile
// (fused_conv.h) contracts it with the weights. The sampling is that of cpu_dcn_columns.cc:
// offset channel (g*K + k)*2 holds dy, +1 holds dx; corners outside the image read zero,
// and points with y <= -1, y >= h, x <= -1 or x >= w read zero. Blocks are split over
// threads with OpenMP.
//
// With a multiple of 8 channels per group (EDVR-M: 64 / 8, EDVR-L: 128 / 8) and AVX2, the
// input is first copied channels-last by octets of channels ([n][c / 8][h*w][8]): one corner
// of one sample point is then one 8-float load per octet, and 8 points' samples are
// transposed in registers into the column rows (the same sums in the same order as the
// scalar path).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "fused_conv.h"
#include "op_checks.h"
#include "paddle/extension.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define EDVR_DCN_OCTETS 1
#endif

namespace {

using edvr_ops::CheckFloat;

using edvr_ops::kBlock;
using edvr_ops::kOutVecs;
using edvr_ops::kPixels;
using edvr_ops::Vec;

#include "dcn_sampling.h"  // NOLINT: inside the unnamed namespace on purpose

void DcnForward(const float* x, const float* offset, const float* mask, const float* weight,
                const float* bias, float* y, const DcnGeometry& s, int threads) {
  const int64_t taps = static_cast<int64_t>(s.kh) * s.kw, rows = s.c * taps;
  const int64_t npos = s.ho * s.wo;
  const int64_t blocks = (s.c_out + kBlock - 1) / kBlock;
  const int64_t position_blocks = (npos + kPositions - 1) / kPositions;
  const std::vector<Vec> packed = edvr_ops::PackWeights(weight, s.c_out, rows);
  const std::vector<float> octets = OctetsFor(x, s, threads);
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> cols(rows * kPositions);
    std::vector<Vec> out(kPositions * kOutVecs);
    Samples samples;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < s.b * position_blocks; ++task) {
      const int64_t n = task / position_blocks, p0 = task % position_blocks * kPositions;
      const int64_t count = std::min(kPositions, npos - p0);
      SampleBlock(x, octets, offset, mask, s, n, p0, count, samples, cols.data());
      for (int64_t blk = 0; blk < blocks; ++blk) {
        for (int64_t i = 0; i < count; i += kPixels)
          edvr_ops::Products(cols.data() + i, kPositions, packed.data() + blk * rows * kOutVecs,
                             rows, out.data() + i * kOutVecs, kOutVecs,
                             static_cast<int>(std::min<int64_t>(kPixels, count - i)));
        const float* values = reinterpret_cast<const float*>(out.data());  // [i][kBlock]
        StoreBlock(values, bias, y, s, n, blk, p0, count);
      }
    }
  }
}

std::vector<paddle::Tensor> DcnForwardOp(const paddle::Tensor& x, const paddle::Tensor& offset,
                                         const paddle::Tensor& mask,
                                         const paddle::Tensor& weight,
                                         const paddle::optional<paddle::Tensor>& bias, int sh,
                                         int sw, int ph, int pw, int dh, int dw, int groups,
                                         int threads) {
  return RunDcnOp(DcnForward, x, offset, mask, weight, bias, sh, sw, ph, pw, dh, dw, groups,
                  threads);
}

}  // namespace

PD_BUILD_OP(edvr_dcn_forward)
    .Inputs({"X", "Offset", "Mask", "Weight", paddle::Optional("Bias")})
    .Outputs({"Out"})
    .Attrs({"sh: int", "sw: int", "ph: int", "pw: int", "dh: int", "dw: int", "groups: int",
            "threads: int"})
    .SetKernelFn(PD_KERNEL(DcnForwardOp))
    .SetInferShapeFn(PD_INFER_SHAPE(DcnShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(DcnDtype));
