# SPDX-License-Identifier: Apache-2.0
"""YAML configs as attribute dicts, `-o key.path=value` overrides, and dumping.

Loading is `edvr.utils.yaml_reader` (safe, a key written twice is an error); strings that spell a Python literal tuple, list or
number PyYAML leaves as text (``(0., 1.)``, ``4e-4``) become that value, as
PaddleGAN configs expect. Overrides are parsed as YAML scalars, never `eval`.
A config is a path, or the name of a config shipped with the package (`find_config`).
"""
import ast
import difflib
import os
import re

import yaml

from edvr.errors import ConfigError
from edvr.utils.output_paths import write_atomic
from edvr.utils.yaml_reader import parse_yaml, read_yaml_file

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
# Installed, the configs are the package's edvr/configs; in a checkout, configs/ beside edvr/.
SHIPPED_CONFIG_DIRS = (os.path.join(_PACKAGE, 'configs'),
                       os.path.join(os.path.dirname(_PACKAGE), 'configs'))
_NUMBER = re.compile(r'^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)$')


class AttrDict(dict):
    """A dict whose keys are also attributes (``cfg.model.generator.nf``)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self[key] = value


def _convert(value):
    """Recursively turn dicts into AttrDicts and literal-looking strings into values."""
    if isinstance(value, dict):
        return AttrDict({k: _convert(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_convert(v) for v in value]
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in '([' or _NUMBER.match(text):
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return value
    return value


def to_plain(value):
    """AttrDicts and tuples -> plain dicts and lists (for dumping and copying)."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def shipped_configs():
    """{name without .yaml: path} of the configs shipped with the package."""
    for folder in SHIPPED_CONFIG_DIRS:
        if os.path.isdir(folder):
            return {os.path.splitext(f)[0]: os.path.join(folder, f)
                    for f in sorted(os.listdir(folder)) if f.endswith('.yaml')}
    return {}


def find_config(path):
    """The config file ``path`` names: the file itself if it exists, else for a bare name
    (``edvr_demo`` or ``edvr_demo.yaml``) the shipped config of that name.

    Raises:
        ConfigError: neither exists; a bare name lists the close shipped names.
    """
    if os.path.isfile(path):
        return path
    if os.path.isdir(path):
        raise ConfigError(f'{path}: is a folder, expected a YAML config file')
    if os.path.dirname(path) or os.path.splitext(path)[1] not in ('', '.yaml', '.yml'):
        raise ConfigError(f'{path}: config file not found')
    shipped = shipped_configs()
    name = path[:-len('.yaml')] if path.endswith('.yaml') else path
    if name in shipped:
        return shipped[name]
    close = difflib.get_close_matches(name, list(shipped), n=3, cutoff=0.5)
    hint = f'did you mean {", ".join(close)}?' if close else f'shipped: {", ".join(shipped)}'
    raise ConfigError(f'{path}: config file not found, nor a shipped config of that name; {hint}')


def load_config(path, overrides=()):
    """Read a YAML config file and apply ``key.path=value`` overrides.

    Args:
        path: the YAML file, or the name of a shipped config (`find_config`).
        overrides: strings ``a.b.0.c=value``; the key must exist unless it is
            written ``+a.b.new=value``.

    Returns:
        AttrDict of the config.
    """
    path = find_config(path)
    data = read_yaml_file(path, 'a YAML config')
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected a mapping of keys at the top level')
    cfg = _convert(data)
    for item in overrides or ():
        apply_override(cfg, item)
    return cfg


def apply_override(cfg, item):
    """Set one ``key.path=value`` (or ``+key.path=value`` to add) in ``cfg``."""
    if '=' not in item:
        raise ConfigError(f'-o {item!r}: expected key.path=value')
    key_path, text = item.split('=', 1)
    add = key_path.startswith('+')
    parts = key_path.lstrip('+').strip().split('.')
    try:
        value = _convert(parse_yaml(text, f'-o {key_path}')) if text.strip() else ''
    except ConfigError as exc:
        if 'written twice' in str(exc) or 'nested' in str(exc):
            raise
        value = text  # not YAML: the text itself
    node = cfg
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        here = '.'.join(parts[:depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f'-o {key_path}: {here} is not an index of a list '
                                  f'of {len(node)} items')
            part = int(part)
        elif isinstance(node, dict):
            if part not in node and not (add and last):
                close = difflib.get_close_matches(part, [str(k) for k in node], n=3, cutoff=0.5)
                hint = f'; did you mean {", ".join(close)}?' if close else ''
                raise ConfigError(f'-o {key_path}: key {here} does not exist{hint} '
                                  f'(write +{key_path}=... to add a new key)')
        else:
            raise ConfigError(f'-o {key_path}: {".".join(parts[:depth])} is a value, not a mapping')
        if last:
            node[part] = value
        else:
            node = node[part]


def dump_config(cfg, path):
    """Write ``cfg`` as YAML to ``path`` (atomically)."""
    write_atomic(path, yaml.safe_dump(to_plain(cfg), sort_keys=False, allow_unicode=True))
