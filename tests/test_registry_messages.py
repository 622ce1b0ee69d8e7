# SPDX-License-Identifier: Apache-2.0
"""Registry lookups and component building: each way of registering, and every refusal
matched on its whole line (close matches, the full list, the failing constructor)."""
import re

import pytest

from edvr.errors import ConfigError
from edvr.registry import Registry, build_from_config


def exactly(message):
    return rf'^{re.escape(message)}$'


class Conv:
    def __init__(self, channels, kernel=3, stride=1, padding=0, dilation=1):
        if kernel % 2 == 0:
            raise ValueError(f'kernel {kernel} is even')
        self.channels, self.kernel = channels, kernel


class Anything:
    def __init__(self, size, **options):
        self.size, self.options = size, options


def registry():
    reg = Registry('layer')
    reg.register(Conv)

    @reg.register()
    class Conv2(Conv):
        pass

    @reg.register(name='Conv3')
    class Other(Conv):
        pass

    reg.register(Conv, name='Conv4')
    reg.register(Anything)
    return reg


def test_every_way_of_registering():
    reg = registry()
    assert reg.names() == ['Anything', 'Conv', 'Conv2', 'Conv3', 'Conv4']
    assert 'Conv3' in reg and 'Other' not in reg
    assert reg.get('Conv4') is Conv
    with pytest.raises(ValueError, match=exactly("layer 'Conv2' is already registered")):
        reg.register(Anything, name='Conv2')


def test_unknown_names():
    reg = registry()
    with pytest.raises(ConfigError, match=exactly(
            "unknown layer 'Con'; did you mean Conv, Conv4, Conv3?")):   # at most three
        reg.get('Con')
    with pytest.raises(ConfigError, match=exactly(               # 'Cnxx' is a 0.5 match of Conv
            "unknown layer 'Cnxx'; did you mean Conv?")):
        reg.get('Cnxx')
    with pytest.raises(ConfigError, match=exactly(
            "unknown layer 'Pool'; known: Anything, Conv, Conv2, Conv3, Conv4")):
        reg.get('Pool')


def test_refusals_of_build_from_config():
    reg = registry()
    with pytest.raises(ConfigError, match=exactly(
            "layer.name: unknown layer 'Pool'; known: Anything, Conv, Conv2, Conv3, Conv4")):
        build_from_config({'name': 'Pool'}, reg)
    with pytest.raises(ConfigError, match=exactly(
            'net.conv1.kernal: unknown argument of Conv; did you mean kernel?')):
        build_from_config({'name': 'Conv', 'channels': 8, 'kernal': 3}, reg, 'net.conv1')
    with pytest.raises(ConfigError, match=exactly(
            'net.conv1.dil: unknown argument of Conv; did you mean dilation?')):  # a 0.5 match
        build_from_config({'name': 'Conv', 'channels': 8, 'dil': 3}, reg, 'net.conv1')
    with pytest.raises(ConfigError, match=exactly(
            'net.conv1.zz: unknown argument of Conv; accepted: channels, kernel, stride, '
            'padding, dilation')):
        build_from_config({'name': 'Conv', 'channels': 8, 'zz': 3}, reg, 'net.conv1')
    with pytest.raises(ConfigError, match=exactly(
            'net.conv1: Conv needs argument(s) channels')):
        build_from_config({'name': 'Conv', 'kernel': 3}, reg, 'net.conv1')
    with pytest.raises(ConfigError, match=exactly(
            "net.conv1: building Conv with keys ['channels', 'kernel'] failed: kernel 4 is even")):
        build_from_config({'name': 'Conv', 'channels': 8, 'kernel': 4}, reg, 'net.conv1')
    with pytest.raises(ConfigError, match=exactly(
            'layer: Anything needs argument(s) size')):
        build_from_config({'name': 'Anything'}, reg)


def test_too_many_close_arguments_show_three_and_every_missing_one_is_named():
    class Many:
        def __init__(self, top, left, pad1=0, pad2=0, pad3=0, pad4=0):
            pass
    reg = Registry('op')
    reg.register(Many)
    with pytest.raises(ConfigError, match=exactly(
            'op.pad: unknown argument of Many; did you mean pad4, pad3, pad2?')):
        build_from_config({'name': 'Many', 'pad': 1}, reg)
    with pytest.raises(ConfigError, match=exactly('op: Many needs argument(s) top, left')):
        build_from_config({'name': 'Many'}, reg)


def test_a_constructor_taking_any_keyword_gets_every_key():
    built = build_from_config({'name': 'Anything', 'size': 2, 'colour': 'red'}, registry())
    assert (built.size, built.options) == (2, {'colour': 'red'})
