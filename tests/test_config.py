# SPDX-License-Identifier: Apache-2.0
import pytest

from edvr.config import AttrDict, apply_override, dump_config, load_config
from edvr.errors import ConfigError


def write(tmp_path, text, name='c.yaml'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_literal_strings_become_values(tmp_path):
    cfg = load_config(write(tmp_path, 'min_max:\n  (0., 1.)\nlr: 4e-4\nf: !!float 1e-7\n'
                                      'clip: "000"\nname: EDVRNet\n'))
    assert cfg.min_max == (0.0, 1.0)
    assert cfg.lr == pytest.approx(4e-4) and isinstance(cfg.lr, float)
    assert cfg.f == pytest.approx(1e-7)
    assert cfg.clip == '000' and cfg.name == 'EDVRNet'


def test_overrides_nested_list_and_types(tmp_path):
    cfg = load_config(write(tmp_path, 'a:\n  b:\n    - {c: 1}\n    - {c: 2}\nflag: false\n'),
                      ['a.b.1.c=7', 'flag=true', '+extra=[1, 2]', 'a.b.0.c=(0., 255.)'])
    assert cfg.a.b[1].c == 7 and cfg.flag is True and cfg.extra == [1, 2]
    assert cfg.a.b[0].c == (0.0, 255.0)
    assert isinstance(cfg.a, AttrDict)


@pytest.mark.parametrize('override, message', [
    ('total_iter=5', 'key total_iter does not exist; did you mean total_iters'),
    ('a.b.5.c=1', 'a.b.5 is not an index of a list of 1 items'),
    ('total_iters.x=1', 'total_iters is a value, not a mapping'),
    ('novalue', "expected key.path=value"),
])
def test_bad_overrides_name_the_key(tmp_path, override, message):
    path = write(tmp_path, 'total_iters: 3\na:\n  b:\n    - {c: 1}\n')
    with pytest.raises(ConfigError, match=message.replace('(', r'\(').replace('.', r'\.')):
        load_config(path, [override])


def test_missing_file_and_yaml_syntax_error_with_line(tmp_path):
    with pytest.raises(ConfigError, match='nope.yaml: config file not found'):
        load_config(str(tmp_path / 'nope.yaml'))
    path = write(tmp_path, 'a: 1\nb: [1, 2\nc: 3\n')
    with pytest.raises(ConfigError, match=r'c\.yaml: YAML syntax error at line \d+'):
        load_config(path)


def test_dump_round_trip(tmp_path):
    cfg = load_config(write(tmp_path, 'min_max:\n  (0., 1.)\nm: {n: 2}\n'))
    out = tmp_path / 'out.yaml'
    dump_config(cfg, str(out))
    again = load_config(str(out))
    assert again.min_max == [0.0, 1.0] and again.m.n == 2
    cfg2 = AttrDict(x=1)
    apply_override(cfg2, 'x=2')
    assert cfg2.x == 2


def test_dump_config_on_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    import errno
    import os
    path = tmp_path / 'config.yaml'
    path.write_text('total_iters: 3\n')
    real_replace = os.replace

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(os, 'replace', full_disk)
    with pytest.raises(OSError, match=r'No space left on device: .*config\.yaml'):
        dump_config(AttrDict(total_iters=5), str(path))
    monkeypatch.setattr(os, 'replace', real_replace)
    assert path.read_text() == 'total_iters: 3\n'
    assert os.listdir(tmp_path) == ['config.yaml']
