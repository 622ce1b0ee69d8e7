# SPDX-License-Identifier: Apache-2.0
"""Every tool x every argument x the catalogue of wrong values: the contract holds for each.

The contract: exit code 2; exactly one ``error:`` line on stderr, naming the file, key or
value (no traceback); every file that existed before is byte for byte as it was; nothing
is left behind (no new file in the inputs, the case folder or the working folder).

The quick subset (the catalogue entries marked ``fast``) runs in the normal suite; the
full sweep is ``EDVR_EDGE_SWEEP=full python -m pytest -q tests/edges``.
"""
import os
import re

import pytest

from tests.edges import catalogue as cat
from tests.edges.table import tools
from tests.edges.world import build_world, tree_state
from tests.deploy.video_clips import ffmpeg  # noqa: F401  (fixture)

PROGRESS = re.compile(r'^[\w ./-]*: *\d+%\||^[\w ./-]*: *\d+\w* \[|^\s*\d+%\|')  # tqdm bars
FULL = os.environ.get('EDVR_EDGE_SWEEP', '') == 'full'
TOOLS = tools()


def _cases():
    for tool_name, tool in TOOLS.items():
        for slot, wrongs in tool.slots.items():
            for wrong in wrongs:
                if FULL or wrong.fast:
                    yield pytest.param(tool_name, slot, wrong,
                                       id=f'{tool_name} {slot} {wrong.name}')


@pytest.fixture(scope='module')
def world(tmp_path_factory, ffmpeg):  # noqa: F811
    return build_world(tmp_path_factory.mktemp('world'), ffmpeg)


def command_line(pairs):
    argv = []
    for slot, value in pairs:
        if value is cat.MISSING:
            continue
        if value is None:  # a switch
            argv.append(slot)
            continue
        argv += [value] if not slot.startswith('-') else [slot, value]
    return argv


def apply(pairs, slot, value):
    """``pairs`` with ``slot`` set to ``value`` (added if absent)."""
    changes = value if isinstance(value, dict) else {slot: value}
    pairs = [(s, changes.pop(s, v)) for s, v in pairs]
    return pairs + list(changes.items())


def run_case(tool, pairs, case, capsys, monkeypatch):
    work = os.path.join(case, 'work')
    os.makedirs(work)
    monkeypatch.chdir(work)
    code = tool.main(command_line(pairs))
    return code, capsys.readouterr().err


@pytest.mark.parametrize('tool_name, slot, wrong', list(_cases()))
def test_wrong_value_gets_the_contract(world, tmp_path, capsys, monkeypatch, tool_name, slot,
                                       wrong):
    tool = TOOLS[tool_name]
    case = str(tmp_path / 'case')
    os.makedirs(case)
    value = wrong.make(world, case)
    pairs = apply(tool.base(world), slot, value)
    before = tree_state(world['root']), tree_state(case)
    code, err = run_case(tool, pairs, case, capsys, monkeypatch)
    lines = [line for line in err.replace('\r', '\n').splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith('error:')]
    assert code == 2, (code, err[-2000:])
    assert len(errors) == 1 and 'Traceback' not in err, err[-2000:]
    noise = [line for line in lines if not line.startswith(('error:', 'warning:'))
             and not PROGRESS.match(line)]
    assert not noise, noise
    needle = wrong.needle if wrong.needle is not None else str(value)
    assert needle in errors[0] or (slot in errors[0] and needle == ''), errors[0]
    after = tree_state(world['root']), tree_state(case)
    assert after[0] == before[0], 'an input changed'
    assert {k: v for k, v in after[1].items() if k != 'work'} == before[1], 'case folder changed'
    assert os.listdir(os.path.join(case, 'work')) == [], 'left behind in the working folder'


@pytest.mark.parametrize('tool_name', [t for t in TOOLS if t != 'prepare reds'] if FULL else
                         ['convert', 'infer'])
def test_the_valid_command_line_works(world, tmp_path, capsys, monkeypatch, tool_name):
    """The table's command lines are valid: each wrong case fails by its wrong value alone."""
    tool = TOOLS[tool_name]
    code, err = run_case(tool, tool.base(world), str(tmp_path), capsys, monkeypatch)
    assert code == 0, err[-2000:]


def test_catalogue_size():
    """The sweep's size, so a shrinking catalogue is noticed."""
    every = [(t, s, w) for t, tool in TOOLS.items() for s, ws in tool.slots.items() for w in ws]
    quick = [c for c in every if c[2].fast]
    assert len(every) >= 200 and 40 <= len(quick) < len(every)
