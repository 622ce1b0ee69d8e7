# SPDX-License-Identifier: Apache-2.0
import pytest

from edvr.errors import ConfigError
from edvr.registry import Registry, build_from_config


class Widget:
    def __init__(self, size, colour='red'):
        self.size, self.colour = size, colour


def make_registry():
    reg = Registry('widget')
    reg.register(Widget)
    reg.register(Widget, name='Gadget')
    return reg


def test_build_copies_config_and_applies_defaults():
    reg = make_registry()
    cfg = {'name': 'Widget', 'size': 3}
    obj = build_from_config(cfg, reg, colour='blue')
    assert (obj.size, obj.colour) == (3, 'blue')
    assert cfg == {'name': 'Widget', 'size': 3}
    assert build_from_config({'name': 'Gadget', 'size': 1, 'colour': 'x'}, reg).colour == 'x'


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ConfigError, match=r"unknown widget 'Widgte'; did you mean Widget"):
        build_from_config({'name': 'Widgte', 'size': 1}, make_registry())


def test_unknown_and_missing_arguments_are_named():
    reg = make_registry()
    with pytest.raises(ConfigError, match=r'model\.gen\.sise: unknown argument of Widget; did you mean size'):
        build_from_config({'name': 'Widget', 'sise': 1}, reg, where='model.gen')
    with pytest.raises(ConfigError, match=r'model\.gen: Widget needs argument\(s\) size'):
        build_from_config({'name': 'Widget'}, reg, where='model.gen')
    with pytest.raises(ConfigError, match='expected a mapping with a "name" key'):
        build_from_config({'size': 1}, reg)


def test_duplicate_registration_is_refused():
    reg = make_registry()

    class Widget:  # noqa: F811  (a different class with the same name)
        pass
    with pytest.raises(ValueError, match='already registered'):
        reg.register(Widget)
