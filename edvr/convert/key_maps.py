# SPDX-License-Identifier: Apache-2.0
"""Renaming state-dict keys by ordered rules, with every key accounted for.

A rule is ``(pattern, replacement)``: ``pattern`` must match the whole layer
path (the key without its final ``.weight`` / ``.bias``), ``replacement`` is a
`re` template (``\\1`` ...) or a function of the match. The first matching rule
wins. A key no rule matches, a key that is not a weight or bias, or two keys
landing on one name are errors that list the keys: nothing is dropped silently.
"""
import re
from collections import OrderedDict

from edvr.errors import WeightsError

PARAMS = ('weight', 'bias')


def _listing(keys, limit=8):
    keys = list(keys)
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit else '')


def rename_keys(state, rules, where, source):
    """Rename every key of ``state`` by ``rules``.

    Args:
        state: dict of name -> array.
        rules: list of (compiled pattern, replacement).
        where: file path for messages.
        source: framework name for messages ('BasicSR', 'mmagic').

    Returns:
        OrderedDict of renamed keys, in the input order.

    Raises:
        WeightsError: listing unknown keys or name collisions.
    """
    out, unknown, taken = OrderedDict(), [], {}
    for key, value in state.items():
        layer, _, param = str(key).rpartition('.')
        new_layer = None
        if param in PARAMS:
            for pattern, replacement in rules:
                match = pattern.fullmatch(layer)
                if match:
                    new_layer = (replacement(match) if callable(replacement)
                                 else match.expand(replacement))
                    break
        if new_layer is None:
            unknown.append(str(key))
            continue
        new_key = f'{new_layer}.{param}'
        if new_key in taken:
            raise WeightsError(f'{where}: {taken[new_key]} and {key} both map to {new_key}')
        taken[new_key] = key
        out[new_key] = value
    if unknown:
        raise WeightsError(f'{where}: {len(unknown)} key(s) are not part of {source} EDVR, so '
                           f'this is not an EDVR checkpoint or not from {source}: '
                           f'{_listing(unknown)}')
    return out


def compile_rules(rules):
    """[(pattern string, replacement)] -> [(compiled pattern, replacement)]."""
    return [(re.compile(pattern), replacement) for pattern, replacement in rules]
