# SPDX-License-Identifier: Apache-2.0
"""edvr/deploy/video.py with a stand-in predictor (each frame repeated 2x2, no network): what
the command reports, the refusals as whole lines, the audio plan, the frames it writes."""
import os
import re
import warnings
from fractions import Fraction

import cv2
import numpy as np
import pytest

import edvr.deploy.video as video
from edvr.errors import DataError
import signal

from edvr.utils import stopping
from tests.deploy.video_clips import (decode_rgb, ffmpeg, make_clip, stream_lines,  # noqa: F401
                                      stream_seconds)


class Doubling:
    """A predictor whose every output frame is its input frame, each pixel repeated 2x2."""

    def __init__(self):
        self.seen = []

    def run_sequence(self, frames):
        for frame in frames:
            self.seen.append(frame)
            yield frame.repeat(2, axis=0).repeat(2, axis=1)


def _error(fn, *args, **kwargs):
    with pytest.raises(DataError) as info:
        fn(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize('line, variable', [
    ('Stream #0:0: Video: h264, yuv444p, 40x28, 18.18 fps, 25 tbr, 12800 tbn', True),
    ('Stream #0:0: Video: h264, yuv444p, 40x28, 25 fps, 25 tbr, 12800 tbn', False),
    ('Stream #0:0: Video: h264, yuv444p, 40x28, 29.97 fps, 29.97 tbr, 30k tbn', False),
    ('Stream #0:0: Video: h264, yuv444p, 40x28, 1k fps, 1k tbr', False),
    ('Stream #0:0: Video: h264, yuv444p, 40x28, 1k fps, 2k tbr', True),
])
def test_variable_rate_is_an_average_rate_unlike_the_base_rate(line, variable):
    audio = 'Stream #0:1: Audio: aac, 16000 Hz, mono, fltp, 20 fps, 25 tbr'
    assert video._is_variable_rate([audio, line]) is variable
    assert video._is_variable_rate([line, 'Stream #0:2: Video: png, 1 fps, 2 tbr']) is variable
    assert video._is_variable_rate([audio]) is False
    assert video._is_variable_rate([]) is False


def test_destinations_are_checked_with_one_line_each(tmp_path):
    out = str(tmp_path / 'o.mp4')
    assert video._check_destinations(out, None) == '.mp4'
    assert video._check_destinations(str(tmp_path / 'O.MKV'), str(tmp_path / 'frames')) == '.mkv'
    missing = tmp_path / 'missing'
    assert _error(video._check_destinations, str(missing / 'o.mp4'), None) == \
        f'{missing / "o.mp4"}: output folder {missing} does not exist'
    assert _error(video._check_destinations, str(tmp_path / 'o.gif'), None) == \
        f'{tmp_path / "o.gif"}: expected one of .avi, .m4v, .mkv, .mov, .mp4'
    assert _error(video._check_destinations, out, str(missing / 'f')) == \
        f'{missing / "f"}: its parent folder {missing} does not exist'
    (tmp_path / 'file').write_bytes(b'')
    assert _error(video._check_destinations, out, str(tmp_path / 'file')) == \
        f'{tmp_path / "file"}: exists and is not a folder'
    (tmp_path / 'frames').mkdir()
    assert video._check_destinations(out, str(tmp_path / 'frames')) == '.mp4'
    assert os.listdir(tmp_path / 'frames') == []


def test_read_only_folders_are_refused_as_access_reports(tmp_path, monkeypatch):
    """``os.access`` answering no (as for a user without write permission) is refused."""
    locked = str(tmp_path / 'locked')
    os.mkdir(locked)
    monkeypatch.setattr(video.os, 'access', lambda path, mode: path != locked)
    assert _error(video._check_destinations, os.path.join(locked, 'o.mp4'), None) == \
        f'{locked}/o.mp4: output folder {locked} is not writable'
    assert _error(video._check_destinations, str(tmp_path / 'o.mp4'), os.path.join(locked, 'f')) \
        == f'{locked}/f: its parent folder {locked} is not writable'


def test_the_audio_plan_says_what_happens_to_the_audio(ffmpeg, tmp_path):
    with_audio = ['Stream #0:0: Video: h264', 'Stream #0:1: Audio: aac']
    assert video._audio_plan(None, 's.mp4', '.mp4', with_audio, 1.0) == \
        (None, 'no ffmpeg (pip install imageio-ffmpeg to keep the audio)')
    assert video._audio_plan(ffmpeg, 's.mp4', '.mp4', with_audio[:1], 1.0) == \
        (None, 'none in the source')
    assert video._audio_plan(ffmpeg, 's.mp4', '.mp4', with_audio, None) == \
        (None, "the video's duration is unknown; video without audio")
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 3, audio_seconds=0.2)
    assert video._audio_plan(ffmpeg, str(source), '.mp4', with_audio, Fraction(3, 25)) == \
        ((str(source), 0.12, ['-c:a', 'copy']), 'copied')


def test_streams_and_audio_of_a_real_clip(ffmpeg, tmp_path):
    silent = make_clip(ffmpeg, tmp_path / 'silent.mp4', (16, 12), '25', 3)
    loud = make_clip(ffmpeg, tmp_path / 'loud.mp4', (16, 12), '25', 3, audio_seconds=0.1)
    streams = video._streams(ffmpeg, str(loud))
    assert len(streams) == 2 and streams[0].startswith('Stream #0:0') and 'Video: h264' in streams[0]
    assert 'Audio: aac' in streams[1]
    assert video.has_audio(ffmpeg, str(loud)) and not video.has_audio(ffmpeg, str(silent))
    assert video._streams(str(tmp_path / 'no-ffmpeg'), str(loud)) == []


def test_frame_counts_from_ffmpeg_or_opencv(ffmpeg, tmp_path):
    clip = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 7)
    capture = cv2.VideoCapture(str(clip))
    try:
        assert video._source_frames(ffmpeg, str(clip), capture) == 7
        assert video._source_frames(None, str(clip), capture) == 7
        assert video._source_frames(ffmpeg, str(tmp_path / 'none.mp4'), capture) is None
    finally:
        capture.release()

    class Unknown:
        def get(self, prop):
            assert prop == cv2.CAP_PROP_FRAME_COUNT
            return 0.0
    assert video._source_frames(None, str(clip), Unknown()) is None


def test_a_source_without_rate_or_frames_is_refused(tmp_path, monkeypatch):
    class Capture:
        released = False

        def __init__(self, ok):
            self.ok = ok

        def read(self):
            return self.ok, np.zeros((2, 2, 3), np.uint8)

        def release(self):
            self.released = True
    for fps, ok, message in [(0.0, True, 's.mp4: cannot tell the frame rate of this video'),
                             (float('nan'), True, 's.mp4: cannot tell the frame rate of this video'),
                             (25.0, False, 's.mp4: no frames could be read')]:
        capture = Capture(ok)
        monkeypatch.setattr(video, 'open_video', lambda source: (capture, (0, fps, 0, 0)))
        assert _error(video._open, 's.mp4') == message
        assert capture.released
    for rate in (25.0, 0.5):                                  # a slide show: one frame in 2 s
        capture = Capture(True)
        monkeypatch.setattr(video, 'open_video', lambda source: (capture, (0, rate, 0, 0)))
        opened, fps, first = video._open('s.mp4')
        assert opened is capture and fps == rate and first.shape == (2, 2, 3)
        assert not capture.released


def test_frames_are_rgb_in_decode_order():
    frames = [np.full((1, 1, 3), (i, 10 * i, 100 + i), np.uint8) for i in range(4)]

    class Capture:
        def __init__(self):
            self.left = frames[1:]

        def read(self):
            return (True, self.left.pop(0)) if self.left else (False, None)
    got = list(video._frames(Capture(), frames[0]))
    assert [f[0, 0].tolist() for f in got] == [[100 + i, 10 * i, i] for i in range(4)]


@pytest.mark.parametrize('with_ffmpeg', [True, False])
def test_upscale_video_writes_every_restored_frame(ffmpeg, tmp_path, with_ffmpeg, monkeypatch):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 5, audio_seconds=0.1)
    if not with_ffmpeg:
        monkeypatch.setattr(video, 'find_ffmpeg', lambda: None)
    out, frames_out = tmp_path / ('out.mkv' if with_ffmpeg else 'out.avi'), tmp_path / 'frames'
    predictor = Doubling()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        report = video.upscale_video(predictor, str(source), str(out), lossless=True,
                                     progress=False, frames_out=str(frames_out))
    assert report == {'frames': 5, 'fps': Fraction(25), 'size': (32, 24),
                      'codec': 'H.264 lossless RGB' if with_ffmpeg else 'OpenCV',
                      'audio': 'copied' if with_ffmpeg else
                      'no ffmpeg (pip install imageio-ffmpeg to keep the audio)'}
    expected = [f.repeat(2, axis=0).repeat(2, axis=1) for f in predictor.seen]
    assert len(predictor.seen) == 5
    assert sorted(os.listdir(frames_out)) == [f'{i:08d}.png' for i in range(5)]
    for i, want in enumerate(expected):
        png = cv2.cvtColor(cv2.imread(str(frames_out / f'{i:08d}.png')), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(png, want)
    if with_ffmpeg:
        np.testing.assert_array_equal(decode_rgb(ffmpeg, out, (32, 24)), np.stack(expected))
    assert sorted(os.listdir(tmp_path)) == ['frames', 'in.mp4', out.name]


def test_report_of_a_default_encoding_without_audio(ffmpeg, tmp_path):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '30000/1001', 3, audio_seconds=0.1)
    out = tmp_path / 'out.mp4'
    report = video.upscale_video(Doubling(), str(source), str(out), keep_audio=False,
                                 progress=False, crf=23, preset='ultrafast')
    assert report == {'frames': 3, 'fps': Fraction(30000, 1001), 'size': (32, 24),
                      'codec': 'H.264 crf 23', 'audio': 'off'}
    assert len(decode_rgb(ffmpeg, out, (32, 24))) == 3


def test_a_failure_part_way_keeps_the_old_files(ffmpeg, tmp_path):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 5)
    out, frames_out = tmp_path / 'out.mp4', tmp_path / 'frames'
    out.write_bytes(b'old')
    frames_out.mkdir()
    (frames_out / '00000000.png').write_bytes(b'old frame')

    class Failing(Doubling):
        def run_sequence(self, frames):
            for i, frame in enumerate(super().run_sequence(frames)):
                if i == 3:
                    raise DataError('frame 3 failed')
                yield frame
    assert _error(video.upscale_video, Failing(), str(source), str(out), progress=False,
                  frames_out=str(frames_out)) == 'frame 3 failed'
    assert out.read_bytes() == b'old'
    assert os.listdir(frames_out) == ['00000000.png']
    assert (frames_out / '00000000.png').read_bytes() == b'old frame'
    assert sorted(os.listdir(tmp_path)) == ['frames', 'in.mp4', 'out.mp4']


def test_a_file_holding_fewer_frames_than_encoded_is_refused(ffmpeg, tmp_path, monkeypatch):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 4)
    out = tmp_path / 'out.mp4'
    counts = iter([4, 3])        # the source's count, then the written file's
    monkeypatch.setattr(video, 'count_frames', lambda ffmpeg, path: next(counts))
    assert _error(video.upscale_video, Doubling(), str(source), str(out), progress=False,
                  keep_audio=False) == f'{out}: 4 frames were encoded but the file holds 3'
    assert sorted(os.listdir(tmp_path)) == ['in.mp4']


def test_a_frame_png_cannot_encode(tmp_path, monkeypatch):
    folder = _png_folder(tmp_path)
    monkeypatch.setattr(video.cv2, 'imencode', lambda ext, frame: (False, None))
    assert _error(folder.write, np.zeros((2, 2, 3), np.uint8)) == \
        f'{tmp_path / "frames"}: cannot encode frame 0 as PNG'


def _png_folder(tmp_path):
    folder = video._PNGFolder(str(tmp_path / 'frames'))
    assert os.path.dirname(folder.staging) == str(tmp_path) and os.path.isdir(folder.staging)
    return folder


def test_png_frames_appear_only_on_commit(tmp_path):
    folder = _png_folder(tmp_path)
    frames = [np.full((2, 3, 3), (i, 2 * i, 3 * i), np.uint8) for i in range(3)]
    for frame in frames:
        folder.write(frame)
    assert not os.path.exists(tmp_path / 'frames')
    folder.commit()
    assert sorted(os.listdir(tmp_path)) == ['frames']
    for i, frame in enumerate(frames):
        png = cv2.imread(str(tmp_path / 'frames' / f'{i:08d}.png'))
        np.testing.assert_array_equal(cv2.cvtColor(png, cv2.COLOR_BGR2RGB), frame)


def test_png_frames_go_into_an_existing_folder_and_stale_temporaries_go(tmp_path):
    stale = tmp_path / '.frames.tmp-999999999-1'                 # a process long gone
    stale.mkdir()
    (tmp_path / 'frames').mkdir()
    folder = video._PNGFolder(str(tmp_path / 'frames'))
    assert not stale.exists()
    folder.write(np.zeros((2, 2, 3), np.uint8))
    folder.commit()
    assert os.listdir(tmp_path / 'frames') == ['00000000.png']
    assert sorted(os.listdir(tmp_path)) == ['frames']


def test_the_default_shows_progress_per_frame(ffmpeg, tmp_path, capsys):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 5)
    video.upscale_video(Doubling(), str(source), str(tmp_path / 'out.mp4'), preset='ultrafast')
    bar = capsys.readouterr().err.replace('\r', '\n').strip().splitlines()[-1]
    assert re.fullmatch(r'video: 100%\|[^|]*\| 5/5 \[[^\]]*frame/s\]', bar), bar
    video.upscale_video(Doubling(), str(source), str(tmp_path / 'out.mp4'), progress=False)
    assert capsys.readouterr().err == ''


def test_audio_longer_than_the_video_is_cut_at_its_end(ffmpeg, tmp_path):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 5, audio_seconds=1.0)
    out = tmp_path / 'out.mp4'
    assert video.upscale_video(Doubling(), str(source), str(out), progress=False,
                               preset='ultrafast')['audio'] == 'copied'
    assert 'Audio: aac' in stream_lines(ffmpeg, out)[1]
    assert stream_seconds(ffmpeg, out, 'a') == pytest.approx(0.2, abs=0.07)   # 5 frames at 25


def test_without_a_frame_count_the_audio_is_left_out(ffmpeg, tmp_path, monkeypatch):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 4, audio_seconds=0.5)
    monkeypatch.setattr(video, '_source_frames', lambda ffmpeg, source, capture: None)
    out = tmp_path / 'out.mp4'
    report = video.upscale_video(Doubling(), str(source), str(out), progress=False)
    assert (report['frames'], report['audio']) == \
        (4, "the video's duration is unknown; video without audio")
    assert len(stream_lines(ffmpeg, out)) == 1


def test_audio_that_cannot_be_written_is_left_out(ffmpeg, tmp_path, monkeypatch):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 4, audio_seconds=0.5)
    monkeypatch.setattr(video, 'audio_args', lambda ffmpeg, source, ext: (
        None, 'cannot be written into .mp4; video without audio'))
    out = tmp_path / 'out.mp4'
    report = video.upscale_video(Doubling(), str(source), str(out), progress=False)
    assert report['audio'] == 'cannot be written into .mp4; video without audio'
    assert len(stream_lines(ffmpeg, out)) == 1


def test_the_quality_and_speed_asked_for_are_the_encoders(ffmpeg, tmp_path):
    """x264 writes its settings into the stream: crf and the preset's subme."""
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 2)
    for crf, preset, subme in ((23, 'ultrafast', 0), (30, 'medium', 7)):
        out = tmp_path / f'{preset}.mp4'
        video.upscale_video(Doubling(), str(source), str(out), progress=False, crf=crf,
                            preset=preset, keep_audio=False)
        data = out.read_bytes()
        assert f' crf={crf}.0 '.encode() in data and f' subme={subme} '.encode() in data


def test_a_variable_rate_warns_with_the_rate_written(ffmpeg, tmp_path, monkeypatch):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 2)
    monkeypatch.setattr(video, '_streams', lambda ffmpeg, path: [
        'Stream #0:0: Video: h264, yuv444p, 16x12, 18.18 fps, 25 tbr'])
    with pytest.warns(UserWarning) as warned:
        video.upscale_video(Doubling(), str(source), str(tmp_path / 'o.mp4'), progress=False)
    assert [str(w.message) for w in warned if w.category is UserWarning] == [
        f'{source}: variable frame rate; every frame is kept, written at the average 25 fps']


def test_outputs_over_the_input_are_refused(ffmpeg, tmp_path):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 2)
    before = source.read_bytes()
    with pytest.raises(video.writer.EDVRError) as info:
        video.upscale_video(Doubling(), str(source), str(source), progress=False)
    assert str(info.value) == (f'-o {source}: is the input video {source}; write the output '
                               'elsewhere (inputs are never written over)')
    frames = tmp_path / 'frames'
    frames.mkdir()
    with pytest.raises(video.writer.EDVRError) as info:
        video.upscale_video(Doubling(), str(source), str(frames / 'o.mp4'), frames_out=str(frames))
    assert str(info.value) == f'-o {frames / "o.mp4"}: lies inside --frames_out {frames}; give ' \
                              'outputs that do not overlap'
    assert source.read_bytes() == before and sorted(os.listdir(tmp_path)) == ['frames', 'in.mp4']
    assert os.listdir(frames) == []


def test_frames_out_that_is_a_file_is_refused_before_any_work(ffmpeg, tmp_path):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 2)
    (tmp_path / 'file').write_bytes(b'kept')
    predictor = Doubling()
    assert _error(video.upscale_video, predictor, str(source), str(tmp_path / 'o.mp4'),
                  frames_out=str(tmp_path / 'file')) == f'{tmp_path / "file"}: exists and is not a folder'
    assert predictor.seen == [] and (tmp_path / 'file').read_bytes() == b'kept'


@pytest.mark.parametrize('at', [0, 2])
def test_a_failure_at_any_frame_is_reported_as_it_is(ffmpeg, tmp_path, at):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 4)

    class Failing(Doubling):
        def run_sequence(self, frames):
            for i, frame in enumerate(super().run_sequence(frames)):
                if i == at:
                    raise DataError(f'frame {at} failed')
                yield frame
    for frames_out in (None, str(tmp_path / 'frames')):
        assert _error(video.upscale_video, Failing(), str(source), str(tmp_path / 'o.mp4'),
                      progress=False, frames_out=frames_out) == f'frame {at} failed'
        assert sorted(os.listdir(tmp_path)) == ['in.mp4']


def test_a_png_folder_that_cannot_start_is_reported_as_it_is(ffmpeg, tmp_path, monkeypatch):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 2)

    def refuse(folder):
        raise DataError(f'{folder}: cannot start')
    monkeypatch.setattr(video, '_PNGFolder', refuse)
    frames = str(tmp_path / 'frames')
    assert _error(video.upscale_video, Doubling(), str(source), str(tmp_path / 'o.mp4'),
                  progress=False, frames_out=frames) == f'{frames}: cannot start'


@pytest.mark.parametrize('existing, frames', [(False, False), (True, True)])
def test_a_stop_says_what_was_being_done_and_what_is_kept(ffmpeg, tmp_path, existing, frames):
    source = make_clip(ffmpeg, tmp_path / 'in.mp4', (16, 12), '25', 2)
    out = tmp_path / 'out.mp4'
    if existing:
        out.write_bytes(b'old')
    said = []

    class Asking(Doubling):
        def run_sequence(self, frames):
            said.append(stopping.stop_message(signal.SIGTERM))
            yield from super().run_sequence(frames)
    frames_out = str(tmp_path / 'frames') if frames else None
    video.upscale_video(Asking(), str(source), str(out), progress=False, frames_out=frames_out)
    kept = f'{out} is unchanged, nor any frame in {frames_out}' if existing else f'{out} was not written'
    assert said == [f'stopped by SIGTERM while restoring frames into {out}; {kept}; '
                    'temporary files removed']
