# SPDX-License-Identifier: Apache-2.0
"""edvr: EDVR video super-resolution and deblurring on PaddlePaddle."""
__version__ = '0.1.0'
