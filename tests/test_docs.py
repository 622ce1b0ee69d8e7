# SPDX-License-Identifier: Apache-2.0
"""The documentation's shape: README size, the Chinese README's mirror, links, the CI command."""
import os
import re

import pytest

from tests.tiny import ROOT

README_LIMIT = 12500
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')


def read(relative):
    with open(os.path.join(ROOT, relative), encoding='utf-8') as f:
        return f.read()


def doc_pages():
    pages = ['README.md', 'README_cn.md', os.path.join('benchmarks', 'README.md'),
             os.path.join('configs', 'README.md')]
    docs = os.path.join(ROOT, 'docs')
    pages += sorted(os.path.join('docs', name) for name in os.listdir(docs) if name.endswith('.md'))
    return pages


def prose_lines(text):
    """Lines outside fenced code blocks."""
    inside = False
    for line in text.splitlines():
        if line.startswith('```'):
            inside = not inside
            continue
        if not inside:
            yield line


def heading_levels(text):
    """Level of every Markdown heading outside code blocks, in order."""
    return [len(m.group(1)) for m in (re.match(r'(#{1,6}) ', line) for line in prose_lines(text)) if m]


def anchors(text):
    """GitHub's anchors of the headings: lower case, punctuation dropped, spaces to hyphens."""
    return {re.sub(r'[^\w\- ]', '', line.lstrip('#').strip().lower()).replace(' ', '-')
            for line in prose_lines(text) if re.match(r'#{1,6} ', line)}


def first_block_commands(text):
    """Command lines (not comments) of the first ```bash block."""
    block = text.split('```bash\n', 1)[1].split('```', 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith('#')]


def test_readme_fits_the_limit():
    assert len(read('README.md')) <= README_LIMIT


def test_chinese_readme_has_the_same_sections():
    english, chinese = heading_levels(read('README.md')), heading_levels(read('README_cn.md'))
    assert english == chinese
    assert english.count(2) > 1


@pytest.mark.parametrize('page', doc_pages())
def test_relative_links_point_at_files(page):
    folder = os.path.dirname(os.path.join(ROOT, page))
    broken = []
    for line in prose_lines(read(page)):
        for target in LINK.findall(line):
            if re.match(r'[a-z]+:', target) or target.startswith('#'):
                continue
            path = os.path.normpath(os.path.join(folder, target.split('#', 1)[0]))
            if not os.path.exists(path):
                broken.append(target)
            elif '#' in target and path.endswith('.md'):
                with open(path, encoding='utf-8') as f:
                    if target.split('#', 1)[1] not in anchors(f.read()):
                        broken.append(target)
    assert broken == []


def test_readme_test_command_is_what_ci_runs():
    ci = [line for line in read(os.path.join('.ci', 'run')).splitlines()
          if line.startswith('python ')]
    assert ci == ['python -m pip install -r requirements.txt -r requirements-test.txt'
                  ' && python -m pytest -q tests']
    for readme in ('README.md', 'README_cn.md'):
        commands = first_block_commands(read(readme))
        assert commands == ['python -m pip install -r requirements.txt'
                            ' && python tools/main.py -c configs/edvr_demo.yaml', ci[0]], readme
