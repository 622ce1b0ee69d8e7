# SPDX-License-Identifier: Apache-2.0
"""The import floors of docs/design.md, read from the code: the two wings (engine, deploy) never
import each other, shared services sit below them, and only tools import the commands."""
import ast
import os

import pytest

from tests.tiny import ROOT

PACKAGE = os.path.join(ROOT, 'edvr')


def edvr_imports(path):
    """The ``edvr...`` module names ``path`` imports, at any depth of its code (``from edvr
    import weights`` counts as ``edvr.weights``)."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f'{node.module}.{a.name}' for a in node.names)
    return {n for n in names if n == 'edvr' or n.startswith('edvr.')}


def modules(part):
    """(relative path, imports) of every module of ``edvr/<part>`` (a folder or a .py file)."""
    where = os.path.join(PACKAGE, part)
    paths = [where] if where.endswith('.py') else [
        os.path.join(d, f) for d, _, files in os.walk(where) for f in files if f.endswith('.py')]
    return [(os.path.relpath(p, ROOT), edvr_imports(p)) for p in sorted(paths)]


# part of the package -> packages it must never import
FORBIDDEN = {
    'engine': ('edvr.deploy', 'edvr.convert', 'edvr.cli'),
    'deploy': ('edvr.engine', 'edvr.convert', 'edvr.cli'),
    'convert': ('edvr.engine', 'edvr.deploy', 'edvr.cli'),
    'prepare': ('edvr.engine', 'edvr.deploy', 'edvr.convert', 'edvr.cli'),
    'models': ('edvr.engine', 'edvr.deploy', 'edvr.metrics', 'edvr.evaluation', 'edvr.cli'),
    'weights.py': ('edvr.engine', 'edvr.deploy', 'edvr.convert', 'edvr.models', 'edvr.cli'),
    'evaluation.py': ('edvr.engine', 'edvr.deploy', 'edvr.convert', 'edvr.models', 'edvr.cli'),
    'datasets': ('edvr.engine', 'edvr.deploy', 'edvr.prepare', 'edvr.models', 'edvr.cli'),
    'ops': ('edvr.models', 'edvr.engine', 'edvr.deploy', 'edvr.datasets', 'edvr.cli'),
    'utils': ('edvr.models', 'edvr.engine', 'edvr.deploy', 'edvr.datasets', 'edvr.ops',
              'edvr.cli', 'edvr.weights', 'edvr.evaluation'),
}


@pytest.mark.parametrize('part', sorted(FORBIDDEN))
def test_no_import_across_or_up(part):
    crossing = [f'{path} imports {name}' for path, names in modules(part) for name in names
                if name.startswith(FORBIDDEN[part])]
    assert crossing == []


def test_engine_has_no_command_line_and_every_command_lives_in_cli():
    assert not os.path.exists(os.path.join(PACKAGE, 'engine', 'cli.py'))
    for path, names in modules('engine'):
        assert 'argparse' not in open(os.path.join(ROOT, path), encoding='utf-8').read(), path
    with open(os.path.join(ROOT, 'setup.py'), encoding='utf-8') as f:
        setup = f.read()
    commands = [line for line in setup.splitlines() if line.startswith('COMMANDS = ')]
    assert commands, 'setup.py lists its COMMANDS'
    for name in ast.literal_eval(commands[0].split('=', 1)[1].strip()):
        assert os.path.isfile(os.path.join(PACKAGE, 'cli', f'{name}.py')), name
