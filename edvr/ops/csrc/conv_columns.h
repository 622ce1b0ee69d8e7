// SPDX-License-Identifier: Apache-2.0
//
// The geometry shared by the column kernels of plain (cpu_conv_columns.cc) and modulated
// deformable (cpu_dcn_columns.cc) convolutions. Both compute a convolution as
//   out = weight (c_out, c*K) @ cols (c*K, ho*wo)  per sample,
// K = kh*kw taps, row c*K + k of `cols` holding input channel c read at tap k (the
// weight's own (c, ky, kx) order); the matrix products run in Paddle (MKL).
#pragma once

#include <cstdint>
#include <vector>

#include "paddle/extension.h"

namespace edvr_ops {

// A convolution of x (b, c, h, w) into (ho, wo) positions: kernel, stride, padding, dilation.
struct ConvShape {
  int64_t b, c, h, w, ho, wo;
  int kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t taps() const { return static_cast<int64_t>(kh) * kw; }
  int64_t positions() const { return ho * wo; }
};

inline int64_t OutSize(int64_t in, int k, int s, int p, int d) {
  return (in + 2 * p - (static_cast<int64_t>(d) * (k - 1) + 1)) / s + 1;
}

// The convolution of x; fails the op unless x is 4-D and the output is not empty.
inline ConvShape ShapeOf(const paddle::Tensor& x, int kh, int kw, int sh, int sw, int ph,
                         int pw, int dh, int dw) {
  auto d = x.shape();
  PD_CHECK(d.size() == 4, "x must be 4-D (b, c, h, w)");
  ConvShape s{d[0], d[1], d[2], d[3], OutSize(d[2], kh, sh, ph, dh),
              OutSize(d[3], kw, sw, pw, dw), kh, kw, sh, sw, ph, pw, dh, dw};
  PD_CHECK(s.ho > 0 && s.wo > 0, "convolution output would be empty");
  return s;
}

// The shape of `cols`, (b, c*K, ho*wo), for x of shape `x` (-1 where unknown), for the
// shape functions (only used when a static graph is built).
inline std::vector<int64_t> ColumnsShape(const std::vector<int64_t>& x, int kh, int kw, int sh,
                                         int sw, int ph, int pw, int dh, int dw) {
  auto out = [](int64_t in, int k, int s, int p, int d) {
    return in < 0 ? -1 : OutSize(in, k, s, p, d);
  };
  return {x[0], x[1] * kh * kw, out(x[2], kh, sh, ph, dh) * out(x[3], kw, sw, pw, dw)};
}

}  // namespace edvr_ops

// The attributes every column op takes after its own.
#define EDVR_CONV_ATTRS "kh: int", "kw: int", "sh: int", "sw: int", "ph: int", "pw: int", \
                        "dh: int", "dw: int"
