# SPDX-License-Identifier: Apache-2.0
"""Convolution and DCNv2 layers with Paddle's parameters, on C++ CPU kernels where they
apply (see README.md in this folder for the contract)."""
from edvr.errors import ConfigError
from edvr.ops.conv import CONV_KERNELS, Conv2D, get_conv_kernel, set_conv_kernel
from edvr.ops.dcn import DCN_KERNELS, ModulatedDeformConv2D, get_dcn_kernel, set_dcn_kernel
from edvr.ops.upsample import upsample2x

__all__ = ['CONV_KERNELS', 'DCN_KERNELS', 'Conv2D', 'ModulatedDeformConv2D', 'get_conv_kernel',
           'get_dcn_kernel', 'pin_kernels', 'set_conv_kernel', 'set_dcn_kernel', 'upsample2x']


def pin_kernels(net, dcn_kernel=None, conv_kernel=None):
    """Pin the kernels of ``net``'s DCN and conv layers (None: the global choice).

    Args:
        net: a `paddle.nn.Layer`; its name starts the error message.
        dcn_kernel: one of `DCN_KERNELS` or None.
        conv_kernel: one of `CONV_KERNELS` or None.
    """
    for value, allowed, key in ((dcn_kernel, DCN_KERNELS, 'dcn_kernel'),
                                (conv_kernel, CONV_KERNELS, 'conv_kernel')):
        if value is not None and value not in allowed:
            raise ConfigError(f'{type(net).__name__}: {key}={value!r}; expected one of '
                              f'{", ".join(allowed)}')
    for layer in net.sublayers(include_self=True):
        if isinstance(layer, ModulatedDeformConv2D):
            layer.kernel = dcn_kernel
        elif isinstance(layer, Conv2D):
            layer.kernel = conv_kernel
