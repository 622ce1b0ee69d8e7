# SPDX-License-Identifier: Apache-2.0
"""The video command on real clips: every frame, the exact rate, H.264, the audio, true pixels."""
import os
import re
import subprocess
import warnings
from fractions import Fraction

import cv2
import numpy as np
import pytest

import edvr.deploy.video as video
from edvr.config import dump_config, load_config
from edvr.deploy.encoder import FFmpegWriter
from edvr.deploy.predictor import Predictor
from tests.tiny import DEMO_CONFIG, tiny_overrides
from tests.deploy.video_clips import (container_rate, decode_opencv, decode_rgb, ffmpeg,  # noqa: F401
                                      make_clip, stream_lines, stream_seconds)
from tools.video_sr import main


@pytest.fixture
def tiny_config(demo_data, tmp_path):
    cfg = tmp_path / 'tiny.yaml'
    dump_config(load_config(DEMO_CONFIG, tiny_overrides(demo_data)), str(cfg))
    return str(cfg)


@pytest.fixture
def model(tiny_config, tiny_weights):
    return ['-c', tiny_config, '--load', tiny_weights[1]]


@pytest.mark.parametrize('size, rate, frames, audio_seconds', [
    ((43, 29), '24000/1001', 12, 0.2),     # odd sides, audio shorter than the video
    ((44, 30), '30000/1001', 12, 0.4004),  # audio as long as the video
    ((40, 28), '25', 10, 1.5),             # audio longer than the video
])
def test_every_frame_exact_rate_h264_and_audio(ffmpeg, tmp_path, model, capsys, size, rate,
                                               frames, audio_seconds):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', size, rate, frames, audio_seconds)
    out = tmp_path / 'out.mp4'
    assert main([str(source), '-o', str(out), '--preset', 'ultrafast', *model]) == 0
    printed = capsys.readouterr().out
    assert f'{frames} frames at {float(Fraction(rate)):g} fps ({Fraction(rate)}), ' \
           f'{4 * size[0]}x{4 * size[1]}, H.264 crf 18, audio: copied' in printed
    assert len(decode_rgb(ffmpeg, out, (4 * size[0], 4 * size[1]))) == frames
    assert container_rate(out) == Fraction(rate)
    video_line, audio_line = stream_lines(ffmpeg, out)
    assert 'Video: h264 (' in video_line and 'yuv420p(tv, bt709, progressive)' in video_line
    assert 'Audio: aac' in audio_line
    duration = frames / Fraction(rate)
    assert stream_seconds(ffmpeg, out, 'v') == pytest.approx(float(duration), abs=1e-3)
    # Shorter audio ends early; longer audio is cut at the video's end (one AAC packet: 64 ms).
    expected_audio = min(audio_seconds, float(duration))
    assert stream_seconds(ffmpeg, out, 'a') == pytest.approx(expected_audio, abs=0.07)
    assert sorted(os.listdir(tmp_path)) == ['in.mp4', 'out.mp4', 'tiny.yaml']  # no temporary


def test_audio_the_container_cannot_hold_is_reencoded(ffmpeg, tmp_path, model, capsys):
    source = tmp_path / 'opus.mkv'
    subprocess.run([ffmpeg, '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=40x28:rate=25',
                    '-f', 'lavfi', '-t', '0.2', '-i', 'sine=sample_rate=48000', '-frames:v', '6',
                    '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'libopus', str(source)],
                   check=True)
    out = tmp_path / 'out.mov'  # .mov does not take Opus
    assert main([str(source), '-o', str(out), *model]) == 0
    assert '6 frames at 25 fps (25), 160x112, H.264 crf 18, audio: re-encoded to AAC' \
        in capsys.readouterr().out
    assert 'Audio: aac' in stream_lines(ffmpeg, out)[1]


def test_video_pixels_are_the_predictors(ffmpeg, tmp_path, tiny_config, tiny_weights, model,
                                         capsys):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (40, 28), '30000/1001', 7)
    predictor = Predictor.from_config(tiny_config, tiny_weights[1])
    expected = np.stack(list(predictor.run_sequence(decode_opencv(source))))
    assert expected.shape == (7, 112, 160, 3)

    exact, frames_dir = tmp_path / 'exact.mkv', tmp_path / 'frames'
    assert main([str(source), '-o', str(exact), '--lossless', '--no_audio', '--frames_out',
                 str(frames_dir), *model]) == 0
    assert 'H.264 lossless RGB' in capsys.readouterr().out
    assert np.array_equal(decode_rgb(ffmpeg, exact, (160, 112)), expected)
    assert sorted(os.listdir(frames_dir)) == [f'{i:08d}.png' for i in range(7)]
    for i, want in enumerate(expected):
        png = cv2.imread(str(frames_dir / f'{i:08d}.png'))
        assert np.array_equal(cv2.cvtColor(png, cv2.COLOR_BGR2RGB), want)

    default = tmp_path / 'default.mp4'
    assert main([str(source), '-o', str(default), '--no_audio', *model]) == 0
    for decoded in (decode_rgb(ffmpeg, default, (160, 112)), np.stack(decode_opencv(default))):
        error = decoded.astype(int) - expected
        # 4:2:0 chroma on this saturated test pattern costs ~4 levels (~1 with 4:4:4), with
        # no colour shift; a red/blue swap would be far outside this.
        assert np.abs(error).mean(axis=(0, 1, 2)).max() <= 5
        assert np.abs(error.mean(axis=(0, 1, 2))).max() <= 1.5
        swapped = np.abs(decoded[..., ::-1].astype(int) - expected).mean(axis=(0, 1, 2))
        assert swapped.max() > 20


def test_failure_damages_nothing(ffmpeg, tmp_path, model, capsys, monkeypatch):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (40, 28), '25', 6)
    out, frames_dir = tmp_path / 'out.mp4', tmp_path / 'frames'
    out.write_bytes(b'an earlier result')
    frames_dir.mkdir()
    (frames_dir / '00000000.png').write_bytes(b'an earlier frame')

    def disk_full(self):
        raise video.DataError(f'{self.path}: disk full')

    monkeypatch.setattr(FFmpegWriter, 'close', disk_full)
    assert main([str(source), '-o', str(out), '--frames_out', str(frames_dir), *model]) == 2
    assert re.search(r'error: .*out\.mp4\.tmp-\d+-\d+\.mp4: disk full', capsys.readouterr().err)
    assert out.read_bytes() == b'an earlier result'
    assert os.listdir(frames_dir) == ['00000000.png']
    assert (frames_dir / '00000000.png').read_bytes() == b'an earlier frame'
    assert sorted(os.listdir(tmp_path)) == ['frames', 'in.mp4', 'out.mp4', 'tiny.yaml']


def test_bad_input_is_one_line(ffmpeg, tmp_path, model, capsys):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (40, 28), '25', 2)
    (tmp_path / 'file').write_bytes(b'')
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'not a video')
    cases = [
        ([str(tmp_path / 'none.mp4'), '-o', str(tmp_path / 'o.mp4')],
         r'none\.mp4: video file not found'),
        ([str(broken), '-o', str(tmp_path / 'o.mp4')], r'broken\.mp4: cannot open this video \(unsupported or damaged file\)'),
        ([str(source), '-o', str(tmp_path / 'missing' / 'o.mp4')],
         r'o\.mp4: output folder .*missing does not exist'),
        ([str(source), '-o', str(tmp_path / 'o.gif')],
         r'argument -o/--output: expected a video file ending in \.mp4, \.m4v, \.mov, \.mkv, '
         r"\.avi, got '.*o\.gif'"),
        ([str(source), '-o', str(tmp_path / 'o.mp4'), '--frames_out', str(tmp_path / 'a' / 'b')],
         r'b: its parent folder .*a does not exist'),
        ([str(source), '-o', str(tmp_path / 'o.mp4'), '--frames_out', str(tmp_path / 'file')],
         r'file: exists and is not a folder'),
        ([str(source), '-o', str(tmp_path / 'o.mp4'), '--crf', '52'],
         r"argument --crf: expected an x264 quality from 0 to 51, got '52'"),
        ([str(source), '-o', str(tmp_path / 'o.mp4'), '--preset', 'quick'],
         r"--preset 'quick': expected one of ultrafast, superfast, .*, veryslow, placebo"),
        ([str(source), '-o', str(tmp_path / 'o.mp4')],  # 2 frames, 5-frame window
         r'a clip of 2 frames is too short for a 5-frame window with reflection_circle '
         r'padding; --padding replicate works for any length'),
    ]
    for argv, pattern in cases:
        assert main(argv + model) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert re.fullmatch('error: .*' + pattern, lines[-1]), lines[-1]
    assert sorted(os.listdir(tmp_path)) == ['broken.mp4', 'file', 'in.mp4', 'tiny.yaml']
    assert main([str(source), '-o', str(tmp_path / 'o.mp4'), '--padding', 'replicate',
                 *model]) == 0
    assert '2 frames at 25 fps' in capsys.readouterr().out


def test_without_ffmpeg_opencv_writes_with_a_warning(ffmpeg, tmp_path, model, capsys,
                                                     monkeypatch):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (40, 28), '25', 6, audio_seconds=0.24)
    monkeypatch.setattr(video, 'find_ffmpeg', lambda: None)
    out = tmp_path / 'out.avi'
    with pytest.warns(UserWarning, match=r'^no ffmpeg could run \(pip install imageio-ffmpeg\): '
                      r'writing with OpenCV .*shifted colours, lower quality, no audio'):
        assert main([str(source), '-o', str(out), *model]) == 0
    assert warnings.formatwarning('what is lost', UserWarning, 'f.py', 1) == \
        'warning: what is lost\n'  # the tool prints warnings on one line
    captured = capsys.readouterr()
    assert '6 frames at 25 fps (25), 160x112, OpenCV, audio: no ffmpeg' in captured.out
    assert len(decode_opencv(out)) == 6


def test_variable_frame_rate_keeps_every_frame(ffmpeg, tmp_path, model, capsys):
    source = tmp_path / 'vfr.mp4'
    subprocess.run([ffmpeg, '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=40x28:rate=25',
                    '-frames:v', '8', '-vf', "setpts='if(lt(N,4),N,2*N-4)/(25*TB)'",
                    '-fps_mode', 'vfr', '-c:v', 'libx264', '-preset', 'ultrafast', str(source)],
                   check=True)  # 4 frames 40 ms apart, then 4 frames 80 ms apart
    out = tmp_path / 'out.mp4'
    with pytest.warns(UserWarning, match=f'^{source}: variable frame rate; every frame is kept, '
                                         f'written at the average 18.1818 fps$'):
        assert main([str(source), '-o', str(out), *model]) == 0
    rate = container_rate(source)  # the average: 8 frames over 0.44 s
    assert rate == Fraction(200, 11)
    assert len(decode_rgb(ffmpeg, out, (160, 112))) == 8 and container_rate(out) == rate


def test_tiny_frames_are_padded(tmp_path, model, capsys):
    source = tmp_path / 'tiny.avi'
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*'MJPG'), 6, (5, 3))
    for i in range(6):
        writer.write(np.full((3, 5, 3), 40 * i, np.uint8))  # smaller than one 4x4 step
    writer.release()
    out = tmp_path / 'out.avi'
    assert main([str(source), '-o', str(out), '--no_audio', *model]) == 0, capsys.readouterr().err
    height, width = decode_opencv(source)[0].shape[:2]  # the codec may round odd sides down
    assert height < 4 and width < 8
    restored = decode_opencv(out)
    assert len(restored) == 6 and restored[0].shape == (4 * height, 4 * width, 3)
    assert container_rate(out) == 6
