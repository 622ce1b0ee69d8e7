# SPDX-License-Identifier: Apache-2.0
"""Config files and overrides at their edges: shipped names, YAML errors without a
position, values holding '=', empty values, indexes one past a list, whole-line refusals;
and, with hypothesis, dump/load and override round trips."""
import os
import re

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from edvr.config import (AttrDict, apply_override, dump_config, find_config, load_config,
                         shipped_configs)
from edvr.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, 'configs')) if f.endswith('.yaml'))


def exactly(message):
    return rf'^{re.escape(message)}$'


def write(tmp_path, text, name='c.yaml'):
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return str(path)


def test_shipped_configs_by_bare_name():
    assert shipped_configs() == {name: os.path.join(ROOT, 'configs', f'{name}.yaml')
                                 for name in SHIPPED}
    assert len(SHIPPED) == 12
    path = os.path.join(ROOT, 'configs', 'edvr_m_w_tsa.yaml')
    assert find_config('edvr_m_w_tsa') == path
    assert find_config('edvr_m_w_tsa.yaml') == path


def test_unknown_names_are_refused_with_the_close_ones_or_the_whole_list():
    with pytest.raises(ConfigError, match=exactly(
            'edvr_m_tsa: config file not found, nor a shipped config of that name; '
            'did you mean edvr_m_w_tsa, edvr_m_wo_tsa, edvr_l_w_tsa?')):
        find_config('edvr_m_tsa')
    with pytest.raises(ConfigError, match=exactly(          # 'dem' is 0.5 like edvr_demo
            'dem: config file not found, nor a shipped config of that name; '
            'did you mean edvr_demo?')):
        find_config('dem')
    with pytest.raises(ConfigError, match=exactly(
            'zzz.yaml: config file not found, nor a shipped config of that name; '
            f'shipped: {", ".join(SHIPPED)}')):
        find_config('zzz.yaml')
    with pytest.raises(ConfigError, match=exactly('configs/edvr_m_tsa.yaml: config file not found')):
        find_config('configs/edvr_m_tsa.yaml')


def test_a_folder_a_yml_name_and_a_file_that_is_not_text(tmp_path):
    with pytest.raises(ConfigError, match=exactly(
            f'{tmp_path}: is a folder, expected a YAML config file')):
        find_config(str(tmp_path))
    with pytest.raises(ConfigError, match=exactly(
            'edvr_demo.yml: config file not found, nor a shipped config of that name; '
            'did you mean edvr_demo, edvr_m_wo_tsa?')):
        find_config('edvr_demo.yml')
    with pytest.raises(ConfigError, match=exactly('edvr_demo.json: config file not found')):
        find_config('edvr_demo.json')
    path = tmp_path / 'binary.yaml'
    path.write_bytes(b'a: 1\n\xff\xfe')
    with pytest.raises(ConfigError, match=exactly(
            f'{path}: not UTF-8 text (byte 0xff at offset 5), expected a YAML config')):
        load_config(str(path))


@pytest.mark.parametrize('path, shown', [(5, '5'), ('  ', "'  '"), (None, 'None')])
def test_a_config_that_is_not_a_name(path, shown):
    with pytest.raises(ConfigError, match=exactly(
            f'config: expected a YAML file or a shipped config name, got {shown}')):
        find_config(path)


def test_a_device_is_not_a_config():
    with pytest.raises(ConfigError, match=exactly(
            '/dev/null: not a regular file (a device, pipe or socket), expected a YAML config '
            'file')):
        find_config('/dev/null')


def test_overrides_must_be_a_list(tmp_path):
    path = write(tmp_path, 'a: 1\n')
    assert load_config(path, None) == {'a': 1}
    assert load_config(path, ('a=2',)) == {'a': 2}
    for overrides in ('a=2', 5):
        with pytest.raises(ConfigError, match=exactly(
                f'overrides: expected a list of "key.path=value" strings, got {overrides!r}')):
            load_config(path, overrides)
    with pytest.raises(ConfigError, match=exactly(
            "-o 'a..b=1': expected key.path=value, the key path 'a..b' has an empty part")):
        load_config(path, ['a..b=1'])


def test_an_override_value_with_a_key_twice_or_nested_too_deep_is_refused():
    with pytest.raises(ConfigError, match=exactly(
            "-o x: key 'a' written twice (lines 1 and 1)")):
        apply_override(AttrDict(x=1), 'x={a: 1, a: 2}')
    with pytest.raises(ConfigError, match=exactly('-o x: nested more than 100 levels deep')):
        apply_override(AttrDict(x=1), 'x=' + '[' * 101 + ']' * 101)


def test_yaml_errors_name_the_file_and_position(tmp_path):
    path = write(tmp_path, 'a: 1\nb: [1, 2\nc: 3\n')
    with pytest.raises(ConfigError, match=exactly(
            f"{path}: YAML syntax error at line 3, column 2: expected ',' or ']', but got ':'")):
        load_config(path)
    # a reader error has neither a problem nor a mark: its first line is the message
    path = write(tmp_path, 'a: 1\nb: \x01\n', 'ctrl.yaml')
    with pytest.raises(ConfigError, match=exactly(
            f'{path}: YAML syntax error: unacceptable character #x0001: special characters '
            'are not allowed')):
        load_config(path)
    path = write(tmp_path, '- 1\n- 2\n', 'list.yaml')
    with pytest.raises(ConfigError, match=exactly(
            f'{path}: expected a mapping of keys at the top level')):
        load_config(path)


def test_attribute_access_names_the_missing_key():
    with pytest.raises(AttributeError, match=r'^nope$'):
        AttrDict(a=1).nope


def test_override_values_holding_equals_empty_and_unparsable():
    cfg = AttrDict(x=1, XY=0)
    apply_override(cfg, 'x=a=b')
    assert cfg.x == 'a=b'
    apply_override(cfg, 'x=')
    assert cfg.x == ''
    apply_override(cfg, 'x=[1, 2')          # not YAML: kept as the text
    assert cfg.x == '[1, 2'
    apply_override(cfg, 'XY=2')
    assert cfg.XY == 2
    apply_override(cfg, '+Xnew=3')
    assert cfg.Xnew == 3


@pytest.mark.parametrize('override, message', [
    ('a.b.1.c=1', '-o a.b.1.c: a.b.1 is not an index of a list of 1 items'),
    ('a.v.x=1', '-o a.v.x: a.v is a value, not a mapping'),
    ('zz=1', '-o zz: key zz does not exist (write +zz=... to add a new key)'),
    ('a.aa=1', '-o a.aa: key a.aa does not exist; did you mean aa4, aa3, aa2? '
               '(write +a.aa=... to add a new key)'),
    ('a.xy=1', '-o a.xy: key a.xy does not exist; did you mean xyzuvw? '  # a 0.5 match
               '(write +a.xy=... to add a new key)'),
    ('novalue', "-o 'novalue': expected key.path=value"),
])
def test_bad_overrides_are_refused_on_one_whole_line(override, message):
    cfg = AttrDict(a=AttrDict(b=[AttrDict(c=1)], v=3, aa1=1, aa2=2, aa3=3, aa4=4, xyzuvw=5))
    with pytest.raises(ConfigError, match=exactly(message)):
        apply_override(cfg, override)


def test_dump_keeps_key_order_and_unicode(tmp_path):
    path = tmp_path / 'out.yaml'
    dump_config(AttrDict(z=1, a='é', m=(0., 1.)), str(path))
    assert path.read_text(encoding='utf-8') == 'z: 1\na: é\nm:\n- 0.0\n- 1.0\n'


# Text the loader keeps as text: letters only (strings spelling a number or a tuple
# become values on purpose, see edvr/config.py).
WORDS = st.text('abcxyzé', min_size=1, max_size=6)
SCALARS = (st.integers(-10 ** 9, 10 ** 9) | st.booleans() | st.none() | WORDS
           | st.floats(allow_nan=False, allow_infinity=False, width=64))
TREES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(WORDS, inner, min_size=1, max_size=3), max_leaves=12)


@given(st.dictionaries(WORDS, TREES, min_size=1, max_size=4))
def test_dump_then_load_gives_the_config_back(tmp_path_factory, data):
    path = str(tmp_path_factory.mktemp('cfg') / 'c.yaml')
    dump_config(AttrDict(data), path)
    assert load_config(path) == data


@given(SCALARS)
def test_an_override_sets_the_value_its_yaml_spells(value):
    cfg = AttrDict(k=0)
    apply_override(cfg, 'k=' + yaml.safe_dump(value).removesuffix('\n...\n').strip())
    assert cfg.k == value and type(cfg.k) is type(value)
