// SPDX-License-Identifier: Apache-2.0
//
// Argument checks shared by the Paddle ops of this folder.
#pragma once

#include "paddle/extension.h"

namespace edvr_ops {

// Fails the op unless `t` is a float32 tensor on the CPU; `name` names it in the message.
inline void CheckFloat(const paddle::Tensor& t, const char* name) {
  PD_CHECK(t.place() == paddle::CPUPlace(), name, " must be on the CPU");
  PD_CHECK(t.dtype() == paddle::DataType::FLOAT32, name, " must be float32");
}

}  // namespace edvr_ops
