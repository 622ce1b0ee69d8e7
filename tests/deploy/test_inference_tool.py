# SPDX-License-Identifier: Apache-2.0
"""tools/inference.py end to end: frames folder, dataset scores, bad input."""
import os
import re

import numpy as np

from edvr.cli.infer import build_parser, run
from edvr.datasets.image_io import read_image, write_image
from edvr.deploy.predictor import Predictor
from edvr.metrics import psnr, ssim
from tests.tiny import DEMO_CONFIG, tiny_overrides
from tools.inference import main


def frames_folder(demo_data, folder):
    """The demo test clip's 5 LR frames cut to 7x10 (not a multiple of 4), as JPEGs."""
    source = os.path.join(demo_data, 'REDS4_test_sharp_bicubic', 'X4', '000')
    for name in sorted(os.listdir(source)):
        img = read_image(os.path.join(source, name))[:7, :10]
        write_image(os.path.join(folder, name.replace('.png', '.jpg')), img)
    return folder


def test_frames_folder_exported_and_dygraph(tmp_path, demo_data, exported, tiny_weights, capsys):
    frames = frames_folder(demo_data, str(tmp_path / 'frames'))
    out = tmp_path / 'out'
    assert main(['--model_path', exported[1], '--input', frames, '--output_path', str(out),
                 '--num_threads', '1']) == 0
    assert 'restored 5 frames' in capsys.readouterr().out
    names = sorted(os.listdir(out))
    assert names == [f'{i:08d}.png' for i in range(5)]
    inputs = [read_image(os.path.join(frames, n), flag=1) for n in sorted(os.listdir(frames))]
    expected = list(Predictor(exported[1], num_threads=1).run_sequence(inputs))
    for name, want in zip(names, expected):
        got = read_image(str(out / name))
        assert got.shape == (28, 40, 3)
        np.testing.assert_array_equal(got, want)
    out2 = tmp_path / 'out_dygraph'
    assert main(['-c', DEMO_CONFIG, '--load', tiny_weights[1], '-o', *tiny_overrides(demo_data),
                 '--input', frames, '--output_path', str(out2)]) == 0
    for name in names:
        diff = read_image(str(out2 / name)).astype(int) - read_image(str(out / name)).astype(int)
        assert np.abs(diff).max() <= 1


def test_dataset_scores_every_frame(demo_data, exported, capsys):
    argv = ['--model_path', exported[1], '-c', DEMO_CONFIG, '-o', *tiny_overrides(demo_data),
            '--dataset', 'test']
    report = run(build_parser().parse_args(argv))
    printed = capsys.readouterr().out
    assert 'dataset.test: 5 frames' in printed
    assert re.search(r'psnr: model \d+\.\d{4} vs bicubic \d+\.\d{4}', printed)
    # Recompute by hand from the clip's frames.
    predictor = Predictor(exported[1], num_threads=1)
    lq_dir = os.path.join(demo_data, 'REDS4_test_sharp_bicubic', 'X4', '000')
    gt_dir = os.path.join(demo_data, 'REDS4_test_sharp', 'X4', '000')
    names = sorted(os.listdir(gt_dir))
    lq = [read_image(os.path.join(lq_dir, n)) for n in names]
    outputs = list(predictor.run_sequence(lq))
    gts = [read_image(os.path.join(gt_dir, n)) for n in names]
    assert report['frames'] == 5
    want_psnr = np.mean([psnr(o, g) for o, g in zip(outputs, gts)])
    want_ssim = np.mean([ssim(o, g) for o, g in zip(outputs, gts)])
    assert abs(report['model']['psnr'] - want_psnr) < 1e-9
    assert abs(report['model']['ssim'] - want_ssim) < 1e-9
    assert set(report['model']['per_clip']['psnr']) == {'000'}
    assert 10 < report['bicubic']['psnr'] < 60 and report['bicubic']['psnr'] != want_psnr


def fails_with(capsys, argv, pattern):
    assert main(argv) == 2
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith('error:')]
    assert len(lines) == 1, lines
    assert re.search(pattern, lines[0]), lines[0]


def test_bad_input(tmp_path, demo_data, exported, capsys):
    frames = frames_folder(demo_data, str(tmp_path / 'frames'))
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'notes.txt').write_text('no frames here')
    model = ['--model_path', exported[1]]
    fails_with(capsys, ['--model_path', str(tmp_path / 'nope'), '--input', frames],
               r'nope: exported model not found')
    fails_with(capsys, model + ['--input', str(empty), '--output_path', str(tmp_path / 'o')],
               r'empty: no image frames')
    fails_with(capsys, model + ['--input', str(tmp_path / 'missing')],
               r'missing: input folder not found')
    fails_with(capsys, model + ['--input', frames, '--output_path', str(tmp_path / 'a' / 'b')],
               r'b: its parent folder .*a does not exist')
    fails_with(capsys, ['--input', frames], r'no model: give --model_path')
    fails_with(capsys, model, r'nothing to do')
    fails_with(capsys, model + ['--input', frames, '--padding', 'mirror'],
               r"argument --padding: invalid choice: 'mirror'")
    assert not os.path.exists(tmp_path / 'o') and not os.path.exists(tmp_path / 'a')
    os.remove(os.path.join(frames, '00000002.jpg'))
    with open(os.path.join(frames, '00000002.jpg'), 'wb') as f:
        f.write(b'not an image')
    fails_with(capsys, model + ['--input', frames, '--output_path', str(tmp_path / 'c')],
               r'00000002\.jpg: cannot decode image')
