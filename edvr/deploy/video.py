# SPDX-License-Identifier: Apache-2.0
"""Super-resolving a video file: every frame, at the same rate, encoded as it is restored.

Frames are decoded (OpenCV), restored through the sliding window and piped to
an ffmpeg encoder one by one (`edvr.deploy.encoder`): memory does not grow with
the video's length and nothing is written twice. The output has every input
frame, whatever the audio: the audio track is copied in the same pass and cut
at the video's duration (shorter audio simply ends early). The frame count
reported is read back from the written file.

Variable-frame-rate input: frames are taken in decode order, each once, and
written at the constant average rate OpenCV reports, with a warning (the
timing of individual frames is not kept).
"""
import os
import re
import subprocess
import warnings

import cv2
from tqdm import tqdm

from edvr.deploy.encoder import (CONTAINERS, DEFAULT_CRF, DEFAULT_PRESET, FFmpegWriter,
                                 OpenCVWriter, as_rate, audio_args, count_frames, find_ffmpeg)
from edvr.errors import DataError
from edvr.utils import stopping, writer
from edvr.utils.video_reader import open_video

__all__ = ['upscale_video', 'find_ffmpeg', 'has_audio']


def _frames(capture, first):
    """RGB frames of an opened ``cv2.VideoCapture`` whose ``first`` (BGR) frame was read."""
    ok, frame = True, first
    while ok:
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        ok, frame = capture.read()


def _streams(ffmpeg, path):
    """The ``Stream #...`` lines ffmpeg prints for ``path``."""
    try:
        probe = subprocess.run([ffmpeg, '-hide_banner', '-nostdin', '-i', path],
                               capture_output=True, text=True)
    except OSError:
        return []
    return [line.strip() for line in probe.stderr.splitlines()
            if line.strip().startswith('Stream #')]


def has_audio(ffmpeg, path):
    """Whether ffmpeg sees an audio stream in ``path``."""
    return any('Audio:' in line for line in _streams(ffmpeg, path))


def _is_variable_rate(streams):
    """Whether the first video stream's average rate (fps) differs from its base rate (tbr)."""
    for line in streams:
        found = re.search(r'Video:.*?([\d.]+k?) fps, ([\d.]+k?) tbr', line)
        if found:
            return found.group(1) != found.group(2)
    return False


def _check_destinations(destination, frames_out):
    folder = os.path.dirname(os.path.abspath(destination))
    if not os.path.isdir(folder):
        raise DataError(f'{destination}: output folder {folder} does not exist')
    if not os.access(folder, os.W_OK):
        raise DataError(f'{destination}: output folder {folder} is not writable')
    ext = os.path.splitext(destination)[1].lower()
    if ext not in CONTAINERS:
        raise DataError(f'{destination}: expected one of {", ".join(sorted(CONTAINERS))}')
    if frames_out is not None:
        parent = os.path.dirname(os.path.abspath(frames_out))
        if not os.path.isdir(parent):
            raise DataError(f'{frames_out}: its parent folder {parent} does not exist')
        if os.path.exists(frames_out) and not os.path.isdir(frames_out):
            raise DataError(f'{frames_out}: exists and is not a folder')
        if not os.access(parent, os.W_OK):
            raise DataError(f'{frames_out}: its parent folder {parent} is not writable')
    return ext


def _open(source):
    """(capture, fps, first BGR frame) of ``source``."""
    capture, (_, fps, _, _) = open_video(source)
    if not fps > 0:
        capture.release()
        raise DataError(f'{source}: cannot tell the frame rate of this video')
    ok, first = capture.read()
    if not ok:
        capture.release()
        raise DataError(f'{source}: no frames could be read')
    return capture, fps, first


def _source_frames(ffmpeg, source, capture):
    """The source's frame count: ffmpeg's exact count, else OpenCV's estimate, else None."""
    if ffmpeg:
        try:
            return count_frames(ffmpeg, source)
        except DataError:
            return None
    return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None


class _PNGFolder:
    """Restored frames as ``00000000.png``, ... into a hidden folder beside ``folder``,
    moved into ``folder`` only when the whole video succeeded (`edvr.utils.writer`)."""

    def __init__(self, folder):
        self.folder = folder
        parent = os.path.dirname(os.path.abspath(folder))
        writer.remove_stale(parent)
        self.staging = writer.temporary_path(folder)
        os.mkdir(self.staging)
        self.names = []

    def write(self, frame):
        name = f'{len(self.names):08d}.png'
        ok, data = cv2.imencode('.png', cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if not ok:
            raise DataError(f'{self.folder}: cannot encode frame {len(self.names)} as PNG')
        data.tofile(os.path.join(self.staging, name))
        self.names.append(name)

    def commit(self):
        os.makedirs(self.folder, exist_ok=True)
        for name in self.names:
            writer.move_into_place(os.path.join(self.staging, name), os.path.join(self.folder, name))
        self.discard()

    def discard(self):
        writer.discard(self.staging)


def upscale_video(predictor, source, destination, keep_audio=True, progress=True,
                  crf=DEFAULT_CRF, preset=DEFAULT_PRESET, lossless=False, frames_out=None):
    """Restore every frame of ``source`` into ``destination``.

    Args:
        predictor: an `edvr.deploy.predictor.Predictor`.
        source: any video OpenCV can read.
        destination: output file (.mp4, .m4v, .mov, .mkv, .avi); its folder must exist.
        keep_audio: copy the audio track (cut at the video's end) when an ffmpeg runs.
        progress: show a progress bar (frames/s and ETA).
        crf: x264 quality, 0 (best) to 51; 18 is visually lossless.
        preset: x264 speed/size trade-off (ultrafast ... veryslow).
        lossless: x264 lossless RGB instead: decoded frames equal the restored ones.
        frames_out: also write every restored frame as PNG into this folder
            (created; its parent must exist).

    Returns:
        dict with frames (counted in the written file), fps (a Fraction), size
        (w, h), codec, and audio: 'copied', 're-encoded to AAC', 'off', 'none
        in the source', or why it was not copied.

    Raises:
        DataError: an unreadable source, a missing output folder, an encoder failure.
    """
    ext = _check_destinations(destination, frames_out)
    writer.refuse_overlap([('-o', destination), ('--frames_out', frames_out)],
                          [('video', source)])
    capture, fps, first = _open(source)
    try:
        ffmpeg, rate = find_ffmpeg(), as_rate(fps)
        streams = _streams(ffmpeg, source) if ffmpeg else []
        if _is_variable_rate(streams):
            warnings.warn(f'{source}: variable frame rate; every frame is kept, written at the '
                          f'average {float(rate):g} fps')
        total = _source_frames(ffmpeg, source, capture)
        audio, status = (_audio_plan(ffmpeg, source, ext, streams, total / rate if total else None)
                         if keep_audio else (None, 'off'))
        frames, size = _encode(predictor, _frames(capture, first), destination, ffmpeg,
                               dict(fps=rate, crf=crf, preset=preset, lossless=lossless,
                                    audio=audio), frames_out, total, progress)
    finally:
        capture.release()
    codec = ('H.264 lossless RGB' if lossless else f'H.264 crf {crf}') if ffmpeg else 'OpenCV'
    return {'frames': frames, 'fps': rate, 'size': size, 'codec': codec, 'audio': status}


def _audio_plan(ffmpeg, source, ext, streams, duration):
    """(audio for `FFmpegWriter` or None, what happens to the audio)."""
    if ffmpeg is None:
        return None, 'no ffmpeg (pip install imageio-ffmpeg to keep the audio)'
    if not any('Audio:' in line for line in streams):
        return None, 'none in the source'
    if duration is None:
        return None, 'the video\'s duration is unknown; video without audio'
    codec, status = audio_args(ffmpeg, source, ext)
    return (None if codec is None else (source, float(duration), codec)), status


def _encode(predictor, frames, destination, ffmpeg, encoding, frames_out, total, progress):
    """Restore ``frames`` into the video ``destination`` (and PNGs into ``frames_out``).

    Everything goes to temporary names first and is renamed into place once the
    video is complete; on failure the temporaries are removed and existing files
    stay as they were.

    Returns:
        (frames counted in the finished file, (w, h)).
    """
    pngs = None
    writer_ = None
    kept = (f'{destination} was not written' if not os.path.exists(destination) else
            f'{destination} is unchanged') + (f', nor any frame in {frames_out}' if frames_out else '')
    with stopping.task(f'restoring frames into {destination}', kept), \
            writer.staged_file(destination) as temporary:
        try:
            pngs = _PNGFolder(frames_out) if frames_out is not None else None
            with tqdm(total=total, unit='frame', disable=not progress, desc='video') as bar:
                for frame in predictor.run_sequence(frames):
                    if writer_ is None:
                        size = (frame.shape[1], frame.shape[0])
                        writer_ = (FFmpegWriter(ffmpeg, temporary, size, **encoding) if ffmpeg else
                                   OpenCVWriter(temporary, size, encoding['fps']))
                    writer_.write(frame)
                    if pngs is not None:
                        pngs.write(frame)
                    bar.update(1)
            writer_.close()
            count = count_frames(ffmpeg, temporary) if ffmpeg else writer_.count
            if count != writer_.count:
                raise DataError(f'{destination}: {writer_.count} frames were encoded but the file '
                                f'holds {count}')
        except BaseException:
            if writer_ is not None:
                writer_.abort()
            if pngs is not None:
                pngs.discard()
            raise
    if pngs is not None:
        pngs.commit()
    return count, size
