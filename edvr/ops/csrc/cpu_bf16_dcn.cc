// SPDX-License-Identifier: Apache-2.0
//
// The modulated deformable convolution (DCNv2) without gradients with bfloat16 products and
// float32 sums (AVX-512 BF16), the DCN of the bfloat16 inference mode:
//
//   edvr_dcn_bf16  the arguments and result of edvr_dcn_forward (cpu_dcn_forward.cc)
//
// The same blocks of output positions and the same float32 sampling as edvr_dcn_forward
// (the sampling helpers below are that file's, unchanged); each column block is then rounded
// into bfloat16 pairs of rows (PairChannels) and contracted with the weights, paired the same
// way, on ProductsBf16. Fails on a build without AVX-512 BF16 (the caller checks the probe).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "bf16_conv.h"
#include "op_checks.h"
#include "paddle/extension.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define EDVR_DCN_OCTETS 1
#endif

namespace {

using edvr_ops::Bf16Pair;
using edvr_ops::CheckFloat;
using edvr_ops::kBlock;
using edvr_ops::kOutVecs;
using edvr_ops::kPixels;
using edvr_ops::Vec;

#include "dcn_sampling.h"  // NOLINT: inside the unnamed namespace on purpose

void DcnBf16(const float* x, const float* offset, const float* mask, const float* weight,
             const float* bias, float* y, const DcnGeometry& s, int threads) {
  const int64_t taps = static_cast<int64_t>(s.kh) * s.kw, rows = s.c * taps;
  const int64_t pairs = (rows + 1) / 2, npos = s.ho * s.wo;
  const int64_t blocks = (s.c_out + kBlock - 1) / kBlock;
  const int64_t position_blocks = (npos + kPositions - 1) / kPositions;
  const std::vector<Vec> packed = edvr_ops::PackWeights(weight, s.c_out, rows);
  const std::vector<Vec> packed_pairs =
      edvr_ops::PackPairs(reinterpret_cast<const float*>(packed.data()), blocks, rows);
  const std::vector<float> octets = OctetsFor(x, s, threads);
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> cols(rows * kPositions);
    std::vector<Bf16Pair> col_pairs(pairs * kPositions);
    std::vector<Vec> out(kPositions * kOutVecs);
    Samples samples;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < s.b * position_blocks; ++task) {
      const int64_t n = task / position_blocks, p0 = task % position_blocks * kPositions;
      const int64_t count = std::min(kPositions, npos - p0);
      SampleBlock(x, octets, offset, mask, s, n, p0, count, samples, cols.data());
      edvr_ops::PairChannels(cols.data(), 1, rows, kPositions, col_pairs.data());
      for (int64_t blk = 0; blk < blocks; ++blk) {
        for (int64_t i = 0; i < count; i += kPixels)
          edvr_ops::ProductsBf16(col_pairs.data() + i, kPositions,
                                 packed_pairs.data() + blk * pairs * kOutVecs, pairs,
                                 out.data() + i * kOutVecs, kOutVecs,
                                 static_cast<int>(std::min<int64_t>(kPixels, count - i)));
        const float* values = reinterpret_cast<const float*>(out.data());  // [i][kBlock]
        StoreBlock(values, bias, y, s, n, blk, p0, count);
      }
    }
  }
}

std::vector<paddle::Tensor> DcnBf16Op(const paddle::Tensor& x, const paddle::Tensor& offset,
                                      const paddle::Tensor& mask, const paddle::Tensor& weight,
                                      const paddle::optional<paddle::Tensor>& bias, int sh,
                                      int sw, int ph, int pw, int dh, int dw, int groups,
                                      int threads) {
  PD_CHECK(edvr_ops::Bf16Available(), "this build has no AVX-512 BF16");
  return RunDcnOp(DcnBf16, x, offset, mask, weight, bias, sh, sw, ph, pw, dh, dw, groups,
                  threads);
}

}  // namespace

PD_BUILD_OP(edvr_dcn_bf16)
    .Inputs({"X", "Offset", "Mask", "Weight", paddle::Optional("Bias")})
    .Outputs({"Out"})
    .Attrs({"sh: int", "sw: int", "ph: int", "pw: int", "dh: int", "dw: int", "groups: int",
            "threads: int"})
    .SetKernelFn(PD_KERNEL(DcnBf16Op))
    .SetInferShapeFn(PD_INFER_SHAPE(DcnShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(DcnDtype));
