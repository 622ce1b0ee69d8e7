# SPDX-License-Identifier: Apache-2.0
"""The one reader of YAML files (configs, exported model info): safe, strict, one-line errors.

`read_yaml_file` reads UTF-8 text only, refuses a key written twice in one
mapping (naming the key and both lines), and bounds the size, nesting depth
and alias expansion of the document, so that a binary file, a damaged file
or a crafted one ends with one line naming the file instead of a traceback or
an exhausted memory.
"""
import os

import yaml

from edvr.errors import ConfigError

MAX_BYTES = 16 << 20      # a config is a few KB; anything this large is not one
MAX_DEPTH = 100            # nesting of mappings and lists
MAX_NODES = 1_000_000      # values after expanding aliases (anchors used many times)


class StrictLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader that refuses a key written twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == 'tag:yaml.org,2002:merge':
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader names it below
                break
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f'key {key!r} written twice (lines {first} and '
                    f'{key_node.start_mark.line + 1})', key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def _check_shape(node, where, error):
    """Refuse documents nested deeper than MAX_DEPTH or expanding to more than MAX_NODES values."""
    count = 0
    stack = [(node, 1)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            raise error(f'{where}: nested more than {MAX_DEPTH} levels deep')
        if count > MAX_NODES:
            raise error(f'{where}: more than {MAX_NODES} values once its aliases are expanded')
        if isinstance(item, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in item.value)
        elif isinstance(item, yaml.MappingNode):
            for key, value in item.value:
                stack.extend(((key, depth + 1), (value, depth + 1)))


def _syntax_error(exc, where, error):
    mark = getattr(exc, 'problem_mark', None)
    at = f' at line {mark.line + 1}, column {mark.column + 1}' if mark else ''
    problem = getattr(exc, 'problem', None) or str(exc).splitlines()[0]
    kind = 'YAML error' if isinstance(exc, yaml.constructor.ConstructorError) else \
        'YAML syntax error'
    if 'written twice' in problem:
        return error(f'{where}: {problem}')
    return error(f'{where}: {kind}{at}: {problem}')


def parse_yaml(text, where, error=ConfigError):
    """Parse YAML ``text`` strictly; ``where`` names it in the one-line ``error``."""
    try:
        loader = StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_shape(node, where, error)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, where, error) from None
    except RecursionError:
        raise error(f'{where}: nested too deep to read') from None


def read_text(path, what, error=ConfigError, max_bytes=MAX_BYTES):
    """The UTF-8 text of file ``path``, with one-line errors naming it.

    Args:
        path: the file.
        what: what it should be, for messages (``'a YAML config'``).
        error: the EDVRError subclass raised.
        max_bytes: larger files are refused without being read.
    """
    if os.path.isdir(path):
        raise error(f'{path}: is a folder, expected {what}')
    try:
        with open(path, 'rb') as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise error(f'{path}: cannot read ({exc.strerror or exc})') from None
    if len(data) > max_bytes:
        raise error(f'{path}: larger than {max_bytes >> 20} MiB, expected {what}')
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise error(f'{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset '
                    f'{exc.start}), expected {what}') from None


def read_yaml_file(path, what='a YAML file', error=ConfigError):
    """Read and parse YAML file ``path`` strictly (see the module docstring)."""
    return parse_yaml(read_text(path, what, error), str(path), error)
