// SPDX-License-Identifier: Apache-2.0
// The deformable convolution's bilinear sampling into column blocks (SampleBlock), the store
// of a block's products (StoreBlock) and its op's checks and shapes, shared by the float32
// (cpu_dcn_forward.cc) and bfloat16 (cpu_bf16_dcn.cc) kernels: the same samples, bit for bit. The backward (cpu_dcn_backward.cc) checks its inputs with
// `MakeGeometry` too.
// Included inside each file's unnamed namespace, after its `using edvr_ops::...` lines.
#ifndef EDVR_OPS_DCN_SAMPLING_H_
#define EDVR_OPS_DCN_SAMPLING_H_

constexpr int64_t kPositions = 8 * kPixels;

struct DcnGeometry {
  int64_t b, c, h, w, c_out, ho, wo, groups;
  int kh, kw, sh, sw, ph, pw, dh, dw;
};

// Bilinear weights (times the mask; zero for corners outside) and flat corner indices of
// tap k of group g for positions [p0, p0 + count) of sample n, whose unshifted sample
// points (output position times stride minus padding) are base_y, base_x.
struct Samples {
  float w[4][kPositions];
  int32_t at[4][kPositions];

  void Locate(const float* offset, const float* mask, const DcnGeometry& s, int64_t n,
              int64_t g, int k, int64_t p0, int64_t count, const float* base_y,
              const float* base_x) {
    const int64_t taps = static_cast<int64_t>(s.kh) * s.kw, npos = s.ho * s.wo;
    const float tap_y = static_cast<float>((k / s.kw) * s.dh);
    const float tap_x = static_cast<float>((k % s.kw) * s.dw);
    const float* off_y = offset + ((n * s.groups + g) * taps + k) * 2 * npos + p0;
    const float* off_x = off_y + npos;
    const float* msk = mask + ((n * s.groups + g) * taps + k) * npos + p0;
    const float h = static_cast<float>(s.h), w_ = static_cast<float>(s.w);
    for (int64_t i = 0; i < kPositions; ++i) {
      for (int corner = 0; corner < 4; ++corner) w[corner][i] = 0.f, at[corner][i] = 0;
      if (i >= count) continue;
      const float y = base_y[i] + tap_y + off_y[i], x = base_x[i] + tap_x + off_x[i];
      if (!(y > -1.f && x > -1.f && y < h && x < w_)) continue;  // also catches NaN
      const float fy = std::floor(y), fx = std::floor(x);
      const int64_t y0 = static_cast<int64_t>(fy), x0 = static_cast<int64_t>(fx);
      const float ly = y - fy, lx = x - fx, m = msk[i];
      const float wy[2] = {y0 >= 0 ? (1.f - ly) * m : 0.f, y0 + 1 < s.h ? ly * m : 0.f};
      const float wx[2] = {x0 >= 0 ? 1.f - lx : 0.f, x0 + 1 < s.w ? lx : 0.f};
      const int64_t row0 = std::max<int64_t>(y0, 0) * s.w, row1 = std::min(y0 + 1, s.h - 1) * s.w;
      const int64_t col0 = std::max<int64_t>(x0, 0), col1 = std::min(x0 + 1, s.w - 1);
      w[0][i] = wy[0] * wx[0], at[0][i] = static_cast<int32_t>(row0 + col0);
      w[1][i] = wy[0] * wx[1], at[1][i] = static_cast<int32_t>(row0 + col1);
      w[2][i] = wy[1] * wx[0], at[2][i] = static_cast<int32_t>(row1 + col0);
      w[3][i] = wy[1] * wx[1], at[3][i] = static_cast<int32_t>(row1 + col1);
    }
  }
};

#if defined(EDVR_DCN_OCTETS)
constexpr int64_t kOctet = 8;  // channels per group on the vectorised path

// x (b, c, h, w) -> [b][c / 8][h * w][8]: each group's 8 channels side by side per pixel.
std::vector<float> ChannelOctets(const float* x, const DcnGeometry& s, int threads) {
  const int64_t plane = s.h * s.w, octets = s.b * s.c / kOctet;
  std::vector<float> out(octets * plane * kOctet);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t task = 0; task < octets * ((plane + 255) / 256); ++task) {
    const int64_t o = task / ((plane + 255) / 256), p0 = task % ((plane + 255) / 256) * 256;
    const int64_t p1 = std::min(plane, p0 + 256);
    const float* src = x + o * kOctet * plane;
    float* dst = out.data() + o * plane * kOctet;
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t ci = 0; ci < kOctet; ++ci) dst[p * kOctet + ci] = src[ci * plane + p];
  }
  return out;
}

// Rows (first + ci)*K + k (ci < 8) of the column block for tap k, from the octet of channels
// that starts at channel `first` (`xg`): for each position, the four corners' 8-channel
// vectors weighted and summed, 8 positions transposed at a time.
inline void SampleOctet(const float* xg, const Samples& samples, float* cols, int64_t taps,
                        int k, int64_t first) {
  float* rows = cols + (first * taps + k) * kPositions;  // channel ci at + ci*taps*kPositions
  for (int64_t i0 = 0; i0 < kPositions; i0 += 8) {
    __m256 r[8];
    for (int j = 0; j < 8; ++j) {
      const int64_t i = i0 + j;
      __m256 acc = _mm256_mul_ps(_mm256_set1_ps(samples.w[0][i]),
                                 _mm256_loadu_ps(xg + samples.at[0][i] * kOctet));
      for (int corner = 1; corner < 4; ++corner)
        acc = _mm256_fmadd_ps(_mm256_set1_ps(samples.w[corner][i]),
                              _mm256_loadu_ps(xg + samples.at[corner][i] * kOctet), acc);
      r[j] = acc;
    }
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 q[8] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                         _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE),
                         _mm256_shuffle_ps(t4, t6, 0x44), _mm256_shuffle_ps(t4, t6, 0xEE),
                         _mm256_shuffle_ps(t5, t7, 0x44), _mm256_shuffle_ps(t5, t7, 0xEE)};
    for (int ci = 0; ci < 4; ++ci) {  // channel ci: positions 0-3 in q[ci], 4-7 in q[ci + 4]
      _mm256_storeu_ps(rows + ci * taps * kPositions + i0,
                       _mm256_permute2f128_ps(q[ci], q[ci + 4], 0x20));
      _mm256_storeu_ps(rows + (ci + 4) * taps * kPositions + i0,
                       _mm256_permute2f128_ps(q[ci], q[ci + 4], 0x31));
    }
  }
}
#endif

// The input as ChannelOctets where the octet path applies (a multiple of kOctet channels
// per group, built with AVX2), else empty (the per-channel path).
std::vector<float> OctetsFor(const float* x, const DcnGeometry& s, int threads) {
#if defined(EDVR_DCN_OCTETS)
  if ((s.c / s.groups) % kOctet == 0) return ChannelOctets(x, s, threads);
#endif
  return {};
}

// The column block of sample n's positions [p0, p0 + count): row c * K + k holds input
// channel c sampled bilinearly at tap k, times the mask (kPositions floats a row; positions
// past count read zero). `octets` is OctetsFor(x) (empty: channel by channel).
void SampleBlock(const float* x, const std::vector<float>& octets, const float* offset,
                 const float* mask, const DcnGeometry& s, int64_t n, int64_t p0, int64_t count,
                 Samples& samples, float* cols) {
  const int64_t taps = static_cast<int64_t>(s.kh) * s.kw, cg = s.c / s.groups;
  float base_y[kPositions], base_x[kPositions];
  for (int64_t i = 0; i < count; ++i) {
    base_y[i] = static_cast<float>((p0 + i) / s.wo * s.sh - s.ph);
    base_x[i] = static_cast<float>((p0 + i) % s.wo * s.sw - s.pw);
  }
  for (int64_t g = 0; g < s.groups; ++g)
    for (int k = 0; k < taps; ++k) {
      samples.Locate(offset, mask, s, n, g, k, p0, count, base_y, base_x);
#if defined(EDVR_DCN_OCTETS)
      if (!octets.empty()) {
        for (int64_t first = g * cg; first < (g + 1) * cg; first += kOctet)
          SampleOctet(octets.data() + (n * s.c + first) * s.h * s.w, samples, cols, taps, k,
                      first);
        continue;
      }
#endif
      for (int64_t ci = 0; ci < cg; ++ci) {
        const int64_t c = g * cg + ci;
        const float* in = x + (n * s.c + c) * s.h * s.w;
        float* row = cols + (c * taps + k) * kPositions;
        for (int64_t i = 0; i < kPositions; ++i)
          row[i] = samples.w[0][i] * in[samples.at[0][i]] +
                   samples.w[1][i] * in[samples.at[1][i]] +
                   samples.w[2][i] * in[samples.at[2][i]] +
                   samples.w[3][i] * in[samples.at[3][i]];
      }
    }
}

// The products of output-channel block blk for positions [p0, p0 + count) of sample n,
// values[i * kBlock + j] for position i and channel blk * kBlock + j, plus the bias, into
// y (b, c_out, ho, wo).
void StoreBlock(const float* values, const float* bias, float* y, const DcnGeometry& s,
                int64_t n, int64_t blk, int64_t p0, int64_t count) {
  const int64_t npos = s.ho * s.wo;
  for (int64_t j = 0; j < std::min<int64_t>(kBlock, s.c_out - blk * kBlock); ++j) {
    const int64_t o = blk * kBlock + j;
    const float b = bias ? bias[o] : 0.f;
    float* dst = y + (n * s.c_out + o) * npos + p0;
    for (int64_t i = 0; i < count; ++i) dst[i] = values[i * kBlock + j] + b;
  }
}

DcnGeometry MakeGeometry(const std::vector<int64_t>& x, const std::vector<int64_t>& offset,
                         const std::vector<int64_t>& mask, const std::vector<int64_t>& w,
                         int sh, int sw, int ph, int pw, int dh, int dw, int groups) {
  PD_CHECK(x.size() == 4 && w.size() == 4, "x and weight must be 4-D");
  PD_CHECK(x[1] == w[1], "weight has ", w[1], " input channels, x has ", x[1]);
  PD_CHECK(groups > 0 && x[1] % groups == 0, "channels must be divisible by groups");
  DcnGeometry s{x[0], x[1], x[2], x[3], w[0], 0, 0, groups, static_cast<int>(w[2]),
                static_cast<int>(w[3]), sh, sw, ph, pw, dh, dw};
  s.ho = (s.h + 2 * ph - (static_cast<int64_t>(dh) * (s.kh - 1) + 1)) / sh + 1;
  s.wo = (s.w + 2 * pw - (static_cast<int64_t>(dw) * (s.kw - 1) + 1)) / sw + 1;
  const int64_t taps = static_cast<int64_t>(s.kh) * s.kw;
  PD_CHECK(s.ho > 0 && s.wo > 0, "input smaller than the kernel");
  PD_CHECK(offset == std::vector<int64_t>({s.b, 2 * groups * taps, s.ho, s.wo}),
           "offset must be (b, 2*G*K, ho, wo)");
  PD_CHECK(mask == std::vector<int64_t>({s.b, groups * taps, s.ho, s.wo}),
           "mask must be (b, G*K, ho, wo)");
  PD_CHECK(s.h * s.w < (int64_t{1} << 31), "input plane too large");
  return s;
}

// The op around a DCN kernel (`DcnForward`, `DcnBf16`): inputs checked, output allocated.
template <typename Kernel>
std::vector<paddle::Tensor> RunDcnOp(Kernel kernel, const paddle::Tensor& x,
                                     const paddle::Tensor& offset, const paddle::Tensor& mask,
                                     const paddle::Tensor& weight,
                                     const paddle::optional<paddle::Tensor>& bias, int sh, int sw,
                                     int ph, int pw, int dh, int dw, int groups, int threads) {
  for (auto [t, name] : {std::pair{&x, "x"}, {&offset, "offset"}, {&mask, "mask"},
                         {&weight, "weight"}})
    CheckFloat(*t, name);
  const DcnGeometry s = MakeGeometry(x.shape(), offset.shape(), mask.shape(), weight.shape(),
                                     sh, sw, ph, pw, dh, dw, groups);
  const float* b = nullptr;
  if (bias) {
    CheckFloat(*bias, "bias");
    PD_CHECK(bias->numel() == s.c_out, "bias must have ", s.c_out, " values");
    b = bias->data<float>();
  }
  auto y = paddle::empty({s.b, s.c_out, s.ho, s.wo}, paddle::DataType::FLOAT32,
                         paddle::CPUPlace());
  kernel(x.data<float>(), offset.data<float>(), mask.data<float>(), weight.data<float>(), b,
         y.data<float>(), s, threads);
  return {y};
}

std::vector<std::vector<int64_t>> DcnShape(
    const std::vector<int64_t>& x, const std::vector<int64_t>& offset,
    const std::vector<int64_t>& mask, const std::vector<int64_t>& w,
    const paddle::optional<std::vector<int64_t>>&, int sh, int sw, int ph, int pw, int dh,
    int dw, int groups, int) {
  const DcnGeometry s = MakeGeometry(x, offset, mask, w, sh, sw, ph, pw, dh, dw, groups);
  return {{s.b, s.c_out, s.ho, s.wo}};
}

std::vector<paddle::DataType> DcnDtype(const paddle::DataType& t, const paddle::DataType&,
                                       const paddle::DataType&, const paddle::DataType&,
                                       const paddle::optional<paddle::DataType>&) {
  return {t};
}

#endif  // EDVR_OPS_DCN_SAMPLING_H_
