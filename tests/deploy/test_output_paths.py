# SPDX-License-Identifier: Apache-2.0
"""Export and inference outputs: checked first, never half-written, existing files untouched."""
import errno
import os
import re

import paddle
import pytest

import edvr.deploy.folder as folder
import edvr.utils.output_paths as output_paths
from edvr.datasets.image_io import read_image, write_image
from edvr.deploy.predictor import Predictor
from edvr.errors import DataError
from tests.tiny import DEMO_CONFIG, tiny_overrides
from tools.export_model import main as export_main
from tools.inference import main as inference_main


def error_line(capsys):
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith('error:')]
    assert len(lines) == 1, lines
    return lines[0]


def test_export_output_dir_that_is_a_file(tmp_path, demo_data, tiny_weights, capsys):
    blocker = tmp_path / 'model'
    blocker.write_bytes(b'keep me')
    argv = ['-c', DEMO_CONFIG, '--load', tiny_weights[1], '--inputs_size', '1,5,3,16,16',
            '--output_dir', str(blocker), '-o', *tiny_overrides(demo_data)]
    assert export_main(argv) == 2
    assert error_line(capsys) == f'error: --output_dir {blocker}: is a file, expected a folder'
    assert blocker.read_bytes() == b'keep me'


def test_export_on_a_full_disk(tmp_path, demo_data, tiny_weights, capsys, monkeypatch):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'edvr_tiny.json').write_bytes(b'an earlier export')

    def full_disk(layer, path, **kwargs):
        with open(path + '.pdiparams', 'wb') as f:
            f.write(b'half')
        raise OSError(errno.ENOSPC, 'No space left on device', path + '.pdiparams')
    monkeypatch.setattr(paddle.jit, 'save', full_disk)
    argv = ['-c', DEMO_CONFIG, '--load', tiny_weights[1], '--inputs_size', '1,5,3,16,16',
            '--model_name', 'edvr_tiny', '--output_dir', str(out), '-o', *tiny_overrides(demo_data)]
    assert export_main(argv) == 2
    assert re.fullmatch(rf'error: --output_dir {re.escape(str(out))}: no space left on device while '
                        r'exporting \(.*edvr_tiny\.pdiparams\); files already there are unchanged '
                        r'and nothing half-written is left; free space and run the export again',
                        error_line(capsys))
    assert os.listdir(out) == ['edvr_tiny.json']
    assert (out / 'edvr_tiny.json').read_bytes() == b'an earlier export'


def clip(demo_data, folder, count=5):
    """``count`` LR frames of the demo test clip (repeated as needed), as PNGs."""
    source = os.path.join(demo_data, 'REDS4_test_sharp_bicubic', 'X4', '000')
    names = sorted(os.listdir(source))
    for i in range(count):
        write_image(os.path.join(folder, f'{i:08d}.png'),
                    read_image(os.path.join(source, names[i % len(names)])))
    return folder


def test_inference_output_path_that_is_a_file(tmp_path, demo_data, exported, capsys):
    frames = clip(demo_data, str(tmp_path / 'frames'))
    blocker = tmp_path / 'out'
    blocker.write_bytes(b'keep me')
    assert inference_main(['--model_path', exported[1], '--input', frames,
                           '--output_path', str(blocker)]) == 2
    assert error_line(capsys) == f'error: --output_path {blocker}: is a file, expected a folder'
    assert blocker.read_bytes() == b'keep me'


def test_truncated_frame_writes_nothing(tmp_path, demo_data, exported, capsys):
    frames = clip(demo_data, str(tmp_path / 'frames'), count=10)
    out = tmp_path / 'out'
    out.mkdir()
    (out / '00000000.png').write_bytes(b'an earlier result')
    data = open(os.path.join(frames, '00000008.png'), 'rb').read()
    with open(os.path.join(frames, '00000008.png'), 'wb') as f:
        f.write(data[:len(data) // 2])
    assert inference_main(['--model_path', exported[1], '--input', frames,
                           '--output_path', str(out), '--num_threads', '1']) == 2
    assert re.search(r'00000008\.png: cannot decode image', error_line(capsys))
    assert os.listdir(out) == ['00000000.png']
    assert (out / '00000000.png').read_bytes() == b'an earlier result'


def test_full_disk_part_way_replaces_no_frame(tmp_path, demo_data, exported, monkeypatch):
    frames = clip(demo_data, str(tmp_path / 'frames'))
    out = tmp_path / 'out'
    out.mkdir()
    (out / '00000000.png').write_bytes(b'an earlier result')
    real_write, calls = output_paths.write_atomic, []

    def fills_up(path, payload):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, 'No space left on device', path)
        real_write(path, payload)
    monkeypatch.setattr(folder, 'write_atomic', fills_up)
    predictor = Predictor(exported[1], num_threads=1)
    with pytest.raises(DataError, match=r'out/00000002\.png: no space left on device; no '
                                        r'existing frame in .*out was replaced; free space and '
                                        r'run again$'):
        predictor.restore_folder(frames, str(out))
    assert os.listdir(out) == ['00000000.png']
    assert (out / '00000000.png').read_bytes() == b'an earlier result'
    monkeypatch.undo()
    assert predictor.restore_folder(frames, str(out)) == 5
    assert sorted(os.listdir(out)) == [f'{i:08d}.png' for i in range(5)]
    assert read_image(str(out / '00000000.png')).shape == (32, 48, 3)
