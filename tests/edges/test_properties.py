# SPDX-License-Identifier: Apache-2.0
"""Properties of config parsing, ``-o`` overrides and the settings schema, over generated input.

Whatever the bytes of a config file, whatever an ``-o`` item says, whatever value a
declared setting holds: the result is a config or one `ConfigError` naming the file or
key, never another exception.
"""
import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from edvr.config import apply_override, dump_config, load_config, to_plain
from edvr.errors import ConfigError
from edvr.settings import SETTINGS, check_settings

QUICK = hsettings(max_examples=60, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])
DEMO = load_config('edvr_demo')

keys = st.text(st.characters(whitelist_categories=('Ll', 'Lu', 'Nd'), whitelist_characters='_'),
               min_size=1, max_size=8).filter(lambda k: not k.isdigit())
scalars = st.one_of(st.integers(-10 ** 6, 10 ** 6), st.booleans(), st.none(),
                    st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.text(st.characters(blacklist_categories=('Cs', 'Cc')), max_size=12))
documents = st.dictionaries(keys, st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)), max_leaves=10),
    min_size=1, max_size=6)


@QUICK
@given(data=st.binary(max_size=200))
def test_any_bytes_are_a_config_or_one_config_error(tmp_path, data):
    path = tmp_path / 'c.yaml'
    path.write_bytes(data)
    try:
        cfg = load_config(str(path))
    except ConfigError as exc:
        assert '\n' not in str(exc) and str(path) in str(exc)
    else:
        assert isinstance(cfg, dict)


@QUICK
@given(doc=documents)
def test_dump_then_load_gives_the_same_config(tmp_path, doc):
    first = tmp_path / 'a.yaml'
    first.write_text(yaml.safe_dump(doc))
    cfg = load_config(str(first))
    dump_config(cfg, str(tmp_path / 'b.yaml'))
    assert to_plain(load_config(str(tmp_path / 'b.yaml'))) == to_plain(cfg)


def _leaf_paths(node, prefix=()):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaf_paths(value, prefix + (str(key),))
    elif isinstance(node, list) and node:
        for i, value in enumerate(node):
            yield from _leaf_paths(value, prefix + (str(i),))
    else:
        yield prefix


LEAVES = sorted(_leaf_paths(DEMO))


@QUICK
@given(path=st.sampled_from(LEAVES), value=st.one_of(st.integers(-99, 99), st.booleans(),
                                                     st.sampled_from(['abc', 'x y', '1e-3'])))
def test_override_sets_that_key_and_nothing_else(path, value):
    cfg = copy.deepcopy(DEMO)
    text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()
    apply_override(cfg, f'{".".join(path)}={text}')
    node = cfg
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = int(path[-1]) if isinstance(node, list) else path[-1]
    assert node[last] == (1e-3 if value == '1e-3' else value)
    node[last] = _get(DEMO, path)
    assert to_plain(cfg) == to_plain(DEMO)


def _get(cfg, path):
    for part in path:
        cfg = cfg[int(part)] if isinstance(cfg, list) else cfg[part]
    return cfg


@QUICK
@given(item=st.text(max_size=40))
def test_any_override_text_sets_a_value_or_is_one_config_error(item):
    cfg = copy.deepcopy(DEMO)
    try:
        apply_override(cfg, item)
    except ConfigError as exc:
        assert '\n' not in str(exc) and str(exc).startswith('-o ')


TOP_LEVEL = [p for p in SETTINGS if '*' not in p and SETTINGS[p].kind not in ('section', 'open')]


@QUICK
@given(path=st.sampled_from(TOP_LEVEL), value=st.one_of(scalars, st.lists(scalars, max_size=3),
                                                       st.dictionaries(keys, scalars, max_size=2)))
def test_any_value_of_a_setting_is_accepted_or_one_error_naming_it(path, value):
    cfg = copy.deepcopy(DEMO)
    node = cfg
    parts = path.split('.')
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    try:
        check_settings(cfg)
    except ConfigError as exc:
        assert '\n' not in str(exc)
        assert parts[-1] in str(exc) or path.split('.')[0] in str(exc), (path, value, str(exc))


@pytest.mark.parametrize('path', [p for p in TOP_LEVEL if SETTINGS[p].low is not None])
def test_values_below_the_range_name_the_key(path):
    cfg = copy.deepcopy(DEMO)
    node = cfg
    parts = path.split('.')
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = SETTINGS[path].low - 1
    with pytest.raises(ConfigError, match=rf'^{path}: expected .*, got {SETTINGS[path].low - 1}'):
        check_settings(cfg)
