// SPDX-License-Identifier: Apache-2.0
//
// The bfloat16 convolution kernels (edvr/ops/csrc/cpu_bf16_conv.cc: the direct kernel;
// cpu_bf16_winograd.cc: the bfloat16 mode's Winograd) against the float32 kernels on EDVR's
// dominant 3x3 shapes, and the machine's register-only peaks.
// Built and run by bench_bf16_conv.py (or by hand, from the repository root):
//
//   g++ -O3 -march=native -std=c++17 -fopenmp -Iedvr/ops/csrc benchmarks/bench_bf16_conv.cc \
//       edvr/ops/csrc/cpu_{direct,winograd,bf16}_conv.cc edvr/ops/csrc/cpu_bf16_winograd.cc \
//       -o /tmp/bench_bf16_conv
//   /tmp/bench_bf16_conv [threads=2] [rounds=3] [first shapes=all]
//
// Each shape runs every kernel in turn for `rounds` rounds (median wall and CPU ms; with one
// thread, CPU time is the robust figure on a shared machine). The error is that of
// 4096 random outputs against a double-precision direct sum, as the largest absolute error
// over the largest absolute value of those outputs, and as RMS error over RMS value.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

#include "bf16_conv.h"

using edvr_ops::Epilogue;
using edvr_ops::Geometry;

namespace {

struct Shape {
  const char* name;
  int64_t b, c, h, w, c_out;
};

// EDVR-M at LR 180x320: the shapes of the largest float32 shares of the profile.
const Shape kShapes[] = {
    {"front blocks, PCD offset convs 64->64, 5x180x320", 5, 64, 180, 320, 64},
    {"DCN offset/mask convs 64->216, 5x180x320", 5, 64, 180, 320, 216},
    {"reconstruction 64->64, 1x180x320", 1, 64, 180, 320, 64},
    {"upconv2 64->256, 1x360x640", 1, 64, 360, 640, 256},
    {"HRconv 64->64, 1x720x1280", 1, 64, 720, 1280, 64},
};

typedef void (*Kernel)(const float*, const float*, float*, const Geometry&, const Epilogue&,
                       int);
struct Named {
  const char* name;
  Kernel fn;
};
const Named kKernels[] = {{"fp32 direct", edvr_ops::DirectConv},
                          {"fp32 Winograd", edvr_ops::WinogradConv},
                          {"bf16 direct", edvr_ops::DirectConvBf16},
                          {"bf16 Winograd (the mode's)", edvr_ops::Bf16WinogradConv}};
constexpr int kNumKernels = sizeof(kKernels) / sizeof(kKernels[0]);

double Seconds(const std::chrono::steady_clock::time_point& start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU seconds of this process (all threads): with one thread, the time the kernel itself
// took, whatever else the machine runs.
double CpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

// GFLOP per second of `threads` threads each running 16 independent accumulator chains (per
// wall second, or with `cpu`, per CPU second of the process: one thread's rate whatever else
// runs).
template <bool Bf16>
double Peak(int threads, bool cpu = false) {
  const long iters = 20000000;
  double flops = 0, seconds = 0;
#pragma omp parallel num_threads(threads) reduction(+ : flops)
  {
    volatile float seed = 1e-9f;
    __m512 acc[16];
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(seed * i);
    const __m512 a = _mm512_set1_ps(seed), b = _mm512_set1_ps(seed);
#pragma omp barrier
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = CpuSeconds();
    for (long it = 0; it < iters; ++it)
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) {
        if (Bf16)
          acc[i] = _mm512_dpbf16_ps(acc[i], (__m512bh)_mm512_castps_si512(a),
                                    (__m512bh)_mm512_castps_si512(b));
        else
          acc[i] = _mm512_fmadd_ps(acc[i], a, b);
      }
    const double s = cpu ? CpuSeconds() - cpu_start : Seconds(start);
    float sink[16];
    __m512 total = acc[0];
    for (int i = 1; i < 16; ++i) total = _mm512_add_ps(total, acc[i]);
    _mm512_storeu_ps(sink, total);
    if (sink[0] == 12345.f) std::printf("#");
    flops = 16.0 * iters * (Bf16 ? 64 : 32);
#pragma omp critical
    seconds = std::max(seconds, s);
  }
  return flops / seconds / 1e9;
}

struct Errors {
  double max_rel, rms_rel;
};

Errors Compare(const float* x, const float* w, const float* bias, const float* y,
               const Geometry& g, float slope) {
  std::mt19937_64 rng(7);
  double max_err = 0, max_ref = 0, sum_err = 0, sum_ref = 0;
  for (int s = 0; s < 4096; ++s) {
    const int64_t n = rng() % g.b, o = rng() % g.c_out, oy = rng() % g.ho, ox = rng() % g.wo;
    double ref = bias[o];
    for (int64_t ci = 0; ci < g.c; ++ci)
      for (int ky = 0; ky < g.kh; ++ky)
        for (int kx = 0; kx < g.kw; ++kx) {
          const int64_t iy = oy + ky - g.ph, ix = ox + kx - g.pw;
          if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
          ref += static_cast<double>(x[((n * g.c + ci) * g.h + iy) * g.w + ix]) *
                 w[((o * g.c + ci) * g.kh + ky) * g.kw + kx];
        }
    if (ref < 0) ref *= slope;
    const double err = std::abs(y[((n * g.c_out + o) * g.ho + oy) * g.wo + ox] - ref);
    max_err = std::max(max_err, err);
    max_ref = std::max(max_ref, std::abs(ref));
    sum_err += err * err;
    sum_ref += ref * ref;
  }
  return {max_err / max_ref, std::sqrt(sum_err / sum_ref)};
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int rounds = std::max(argc > 2 ? std::atoi(argv[2]) : 3, 1);
  if (!edvr_ops::Bf16Available()) {
    std::printf("this build has no AVX-512 BF16 (compile with -march=native on a CPU that has it)\n");
    return 1;
  }
  std::printf("register-only peaks (16 accumulators), GFLOP per CPU second of one thread: "
              "fp32 FMA %.0f, bf16 dot %.0f; GFLOP/s of %d threads: fp32 %.0f, bf16 %.0f\n",
              Peak<false>(1, true), Peak<true>(1, true), threads, Peak<false>(threads),
              Peak<true>(threads));
  std::printf("\n%d threads, median of %d rounds, kernels in turns; bias and leaky ReLU "
              "applied; GFLOP/s of the nominal 2*c*c_out*9*ho*wo\n\n", threads, rounds);
  std::printf("| shape | kernel | wall ms | GFLOP/s | CPU ms | GFLOP per CPU s | "
              "vs fp32 Winograd (CPU time) | max error (rel) | RMS error (rel) |\n"
              "|---|---|---|---|---|---|---|---|---|\n");
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.f, 1.f);
  const int shapes = argc > 3 ? std::atoi(argv[3]) : sizeof(kShapes) / sizeof(kShapes[0]);
  for (int si = 0; si < shapes; ++si) {
    const Shape& s = kShapes[si];
    Geometry g{s.b, s.c, s.h, s.w, s.c_out, s.h, s.w, 3, 3, 1, 1};
    std::vector<float> x(s.b * s.c * s.h * s.w), w(s.c_out * s.c * 9), bias(s.c_out);
    std::vector<float> y(s.b * s.c_out * s.h * s.w);
    for (float& v : x) v = normal(rng);
    const float std_w = std::sqrt(2.f / (s.c * 9));
    for (float& v : w) v = normal(rng) * std_w;
    for (float& v : bias) v = 0.1f * normal(rng);
    const Epilogue e{bias.data(), nullptr, true, 0.1f, false};
    std::vector<double> times[kNumKernels], cpu[kNumKernels];
    Errors errors[kNumKernels];
    for (int k = 0; k < kNumKernels; ++k) {  // warm up, and the errors
      kKernels[k].fn(x.data(), w.data(), y.data(), g, e, threads);
      errors[k] = Compare(x.data(), w.data(), bias.data(), y.data(), g, 0.1f);
    }
    for (int r = 0; r < rounds; ++r)
      for (int k = 0; k < kNumKernels; ++k) {
        const auto start = std::chrono::steady_clock::now();
        const double cpu_start = CpuSeconds();
        kKernels[k].fn(x.data(), w.data(), y.data(), g, e, threads);
        times[k].push_back(Seconds(start));
        cpu[k].push_back(CpuSeconds() - cpu_start);
      }
    const double gflop = 2.0 * s.b * s.c * s.c_out * 9 * s.h * s.w / 1e9;
    double median[kNumKernels], cpu_median[kNumKernels];
    for (int k = 0; k < kNumKernels; ++k) {
      std::sort(times[k].begin(), times[k].end());
      std::sort(cpu[k].begin(), cpu[k].end());
      median[k] = times[k][times[k].size() / 2];
      cpu_median[k] = cpu[k][cpu[k].size() / 2];
    }
    for (int k = 0; k < kNumKernels; ++k)
      std::printf("| %s | %s | %.1f | %.0f | %.1f | %.0f | %.2fx | %.1e | %.1e |\n", s.name,
                  kKernels[k].name, median[k] * 1e3, gflop / median[k], cpu_median[k] * 1e3,
                  gflop / cpu_median[k], cpu_median[1] / cpu_median[k], errors[k].max_rel,
                  errors[k].rms_rel);
    std::fflush(stdout);
  }
  return 0;
}
