# SPDX-License-Identifier: Apache-2.0
"""CPU kernels in C++ (built on first use) and the convolutions written with them."""
