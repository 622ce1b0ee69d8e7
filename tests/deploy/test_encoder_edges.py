# SPDX-License-Identifier: Apache-2.0
"""The ffmpeg side of writing videos at its edges: which ffmpeg is chosen, a frame count
reported in several progress steps, frames with exactly one odd side, the audio copied or
re-encoded, and ffmpeg's own last line in a refusal. Stand-in ffmpeg scripts play the
cases a real ffmpeg gives only for long or broken files."""
import os
import re
import stat
import subprocess
import sys
import tempfile
from fractions import Fraction

import numpy as np
import pytest

from edvr.deploy import encoder
from edvr.deploy.encoder import FFmpegWriter, audio_args, count_frames, find_ffmpeg, video_args
from edvr.errors import DataError
from tests.deploy.video_clips import decode_rgb, ffmpeg, make_clip, stream_lines  # noqa: F401


def exactly(message):
    return rf'^{re.escape(message)}$'


def fake(folder, name, body):
    """An executable Python script ``folder/name`` running ``body`` (argv in ``args``)."""
    path = os.path.join(folder, name)
    with open(path, 'w') as f:
        f.write(f'#!{sys.executable}\nimport sys\nargs = sys.argv[1:]\n{body}\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def lists_encoders(x264):
    """An ffmpeg that answers only ``-hide_banner -encoders``."""
    names = ' V..... libx264  H.264\n' if x264 else ' V..... mpeg4  MPEG-4 part 2\n'
    return (f"if args != ['-hide_banner', '-encoders']: sys.exit(1)\n"
            f"print('Encoders:'); print({names!r})")


@pytest.fixture
def candidates(tmp_path, monkeypatch):
    """Set the ffmpeg on PATH and imageio-ffmpeg's (None: absent)."""
    import imageio_ffmpeg
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()

    def choose(on_path, shipped):
        if on_path is not None:
            fake(str(bin_dir), 'ffmpeg', on_path)
        monkeypatch.setenv('PATH', str(bin_dir))
        path = fake(str(tmp_path), 'shipped-ffmpeg', shipped) if shipped is not None else None
        monkeypatch.setattr(imageio_ffmpeg, 'get_ffmpeg_exe', lambda: path or '/nonexistent')
        return str(bin_dir / 'ffmpeg'), path
    return choose


def test_the_ffmpeg_on_path_with_libx264_comes_first(candidates):
    on_path, _ = candidates(lists_encoders(True), lists_encoders(True))
    assert find_ffmpeg() == on_path


def test_an_ffmpeg_with_libx264_wins_over_one_without(candidates):
    _, shipped = candidates(lists_encoders(False), lists_encoders(True))
    assert find_ffmpeg() == shipped


def test_without_libx264_the_first_that_runs(candidates):
    on_path, _ = candidates(lists_encoders(False), lists_encoders(False))
    assert find_ffmpeg() == on_path
    _, shipped = candidates('sys.exit(1)', lists_encoders(False))
    assert find_ffmpeg() == shipped


def test_an_ffmpeg_that_cannot_start_is_skipped(candidates, tmp_path):
    on_path, shipped = candidates(None, lists_encoders(True))
    with open(on_path, 'wb') as f:             # executable, but not a program
        f.write(b'\x00\x01garbage')
    os.chmod(on_path, 0o755)
    assert find_ffmpeg() == shipped
    candidates('sys.exit(1)', 'sys.exit(2)')
    assert find_ffmpeg() is None


def progress(*frames):
    """ffmpeg's -progress output: one block per report."""
    return ''.join(f'frame={n}\nfps=0.0\nout_time_us={n * 40000}\n'
                   f'progress={"end" if i == len(frames) - 1 else "continue"}\n'
                   for i, n in enumerate(frames))


def test_a_long_video_counted_in_several_progress_steps(tmp_path):
    tool = fake(str(tmp_path), 'ffmpeg', f'print({progress(480, 1210, 1800)!r}, end="")')
    assert count_frames(tool, 'long.mp4') == 1800


def test_a_failed_count_names_ffmpegs_last_line(tmp_path):
    tool = fake(str(tmp_path), 'ffmpeg', f'print({progress(12)!r}, end="")\n'
                'sys.stderr.write("first\\n  Invalid data found when processing input  \\n\\n")\n'
                'sys.exit(1)')
    with pytest.raises(DataError, match=exactly(
            'broken.mp4: ffmpeg cannot count its video frames (Invalid data found when '
            'processing input)')):
        count_frames(tool, 'broken.mp4')
    silent = fake(str(tmp_path), 'silent', 'sys.exit(0)')
    with pytest.raises(DataError, match=exactly(
            'empty.mp4: ffmpeg cannot count its video frames (no message)')):
        count_frames(silent, 'empty.mp4')


def test_a_real_count_over_several_hundred_frames(ffmpeg, tmp_path):
    clip = make_clip(ffmpeg, tmp_path / 'long.mp4', (16, 16), '300', 750)
    assert count_frames(ffmpeg, str(clip)) == 750


def gradient(height, width):
    """Grey ramps (4:2:0 subsamples only colour, so grey survives crf 0 nearly exactly)."""
    yy, xx = np.mgrid[0:height, 0:width]
    return np.repeat((40 + 9 * xx + 6 * yy)[..., None], 3, axis=-1).astype(np.uint8)


@pytest.mark.parametrize('height, width', [(10, 17), (11, 16)])
def test_exactly_one_odd_side_is_completed_by_its_last_row_or_column(ffmpeg, tmp_path, height,
                                                                     width):
    frames = [gradient(height, width)] * 3
    writer = FFmpegWriter(ffmpeg, str(tmp_path / 'odd.mp4'), (width, height), 25, crf=0)
    for frame in frames:
        writer.write(frame)
    writer.close()
    assert writer.count == 3
    even = (width + width % 2, height + height % 2)
    decoded = decode_rgb(ffmpeg, tmp_path / 'odd.mp4', even)
    assert decoded.shape == (3, even[1], even[0], 3)
    padded = np.pad(frames[0], ((0, height % 2), (0, width % 2), (0, 0)), mode='edge')
    assert np.abs(decoded[0].astype(int) - padded).max() <= 2


def test_video_args_default_to_h264_crf_18():
    assert video_args() == ['-c:v', 'libx264', '-preset', 'medium', '-crf', '18', '-vf',
                            encoder._TO_YUV709, '-pix_fmt', 'yuv420p', '-colorspace', 'bt709',
                            '-color_primaries', 'bt709', '-color_trc', 'bt709',
                            '-color_range', 'tv']


def test_a_rate_beyond_a_million_in_the_denominator_is_rounded():
    assert encoder.as_rate(1 / 1_000_001) == Fraction(1, 1_000_000)


def test_m4v_is_written_as_mp4(ffmpeg, tmp_path):
    frame = gradient(8, 8)
    writer = FFmpegWriter(ffmpeg, str(tmp_path / 'clip.m4v'), (8, 8), 25, lossless=True)
    writer.write(frame)
    writer.close()
    assert np.array_equal(decode_rgb(ffmpeg, tmp_path / 'clip.m4v', (8, 8))[0], frame)


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """The temporary folder audio_args uses and an empty working folder, to see that it
    leaves nothing behind in either."""
    folder, work = tmp_path / 'tmp', tmp_path / 'cwd'
    folder.mkdir()
    work.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(folder))
    monkeypatch.chdir(work)
    yield folder
    assert os.listdir(folder) == [] and os.listdir(work) == []


def alaw_clip(ffmpeg, path):
    """An .avi with A-law audio, a codec MP4 does not hold."""
    subprocess.run([ffmpeg, '-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i',
                    'sine=frequency=440:sample_rate=16000', '-t', '1', '-c:a', 'pcm_alaw',
                    str(path)], check=True)
    return path


def test_audio_is_copied_when_the_container_takes_it(ffmpeg, tmp_path, scratch):
    clip = make_clip(ffmpeg, tmp_path / 'aac.mp4', (16, 16), '25', 10, audio_seconds=2)
    assert audio_args(ffmpeg, str(clip), '.mkv') == (['-c:a', 'copy'], 'copied')


def test_audio_is_re_encoded_when_the_container_refuses_its_codec(ffmpeg, tmp_path, scratch):
    clip = alaw_clip(ffmpeg, tmp_path / 'alaw.avi')
    assert audio_args(ffmpeg, str(clip), '.mp4') == (['-c:a', 'aac', '-b:a', '192k'],
                                                     're-encoded to AAC')


def test_a_source_without_audio_gives_none_quietly(ffmpeg, tmp_path, scratch, capfd):
    clip = make_clip(ffmpeg, tmp_path / 'mute.mp4', (16, 16), '25', 5)
    capfd.readouterr()
    assert audio_args(ffmpeg, str(clip), '.mp4') == \
        (None, 'cannot be written into .mp4; video without audio')
    assert capfd.readouterr() == ('', '')                          # ffmpeg's complaints captured


def test_the_writer_adds_the_audio_cut_at_the_video_length(ffmpeg, tmp_path):
    clip = make_clip(ffmpeg, tmp_path / 'aac.mp4', (16, 16), '25', 10, audio_seconds=3)
    out = tmp_path / 'out.mp4'
    writer = FFmpegWriter(ffmpeg, str(out), (16, 16), 25, audio=(str(clip), 0.4,
                                                                 ['-c:a', 'aac', '-b:a', '64k']))
    for _ in range(10):
        writer.write(gradient(16, 16))
    writer.close()
    lines = stream_lines(ffmpeg, out)
    assert len(lines) == 2 and 'Video: h264' in lines[0] and 'Audio: aac' in lines[1]
    seconds = subprocess.run([ffmpeg, '-v', 'error', '-i', str(out), '-map', '0:a:0', '-c', 'copy',
                              '-f', 'null', '-', '-progress', 'pipe:1', '-nostats'],
                             capture_output=True, text=True, check=True).stdout
    assert int(re.findall(r'^out_time_us=(\d+)', seconds, re.M)[-1]) / 1e6 == \
        pytest.approx(0.4, abs=0.05)


def test_the_opencv_fallback_warns_at_the_caller_and_writes_mjpg(tmp_path):
    import warnings
    import cv2
    from edvr.deploy.encoder import OpenCVWriter
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        writer = OpenCVWriter(str(tmp_path / 'cv.avi'), (32, 24), 10)
    assert len(caught) == 1 and caught[0].filename != encoder.__file__   # the caller's line
    writer.write(gradient(24, 32))
    writer.close()
    capture = cv2.VideoCapture(str(tmp_path / 'cv.avi'))
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC))
    capture.release()
    assert fourcc.to_bytes(4, 'little') == b'MJPG'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(DataError, match=exactly(
                f'{tmp_path / "no" / "cv.avi"}: OpenCV cannot write .avi video here')):
            OpenCVWriter(str(tmp_path / 'no' / 'cv.avi'), (32, 24), 10)


def test_a_failing_encoder_is_named_by_its_last_line(tmp_path):
    tool = fake(str(tmp_path), 'ffmpeg', 'sys.stdin.buffer.read()\n'
                'sys.stderr.buffer.write(b"Error \\xff opening output\\n\\n")\nsys.exit(1)')
    writer = FFmpegWriter(tool, str(tmp_path / 'x.mp4'), (4, 4), 25)
    writer.write(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DataError, match=exactly(
            f'{tmp_path / "x.mp4"}: ffmpeg could not write the video (Error \ufffd opening output)')):
        writer.close()
