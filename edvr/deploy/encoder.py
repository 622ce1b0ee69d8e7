# SPDX-License-Identifier: Apache-2.0
"""Writing RGB frames into a video file through ffmpeg, as they are produced.

Frames go to an ``ffmpeg`` process as raw ``rgb24`` pixels on its standard
input; nothing is buffered in Python and no frame is written twice. The
ffmpeg is the one on the PATH, else the one the ``imageio-ffmpeg`` package
ships (it has libx264).

* Default: H.264 (libx264), ``yuv420p``, limited range. RGB -> YUV uses the
  BT.709 matrix and the stream is tagged BT.709 (matrix, primaries, transfer)
  and limited range, so players convert back with the same matrix. ``crf``
  sets the quality (18, visually lossless, by default).
* ``lossless``: x264 lossless (``qp 0``) in RGB (libx264rgb, 4:4:4): decoded
  frames equal the frames written, in any of the containers below. (FFV1 is
  lossless too, but only in .mkv/.avi; x264 RGB also fits .mp4 and .mov.)
* Without a working ffmpeg, OpenCV's ``VideoWriter`` (MPEG-4 Part 2 / MJPG)
  writes the video instead, with a warning: shifted colours, lower quality,
  no audio, and players such as browsers cannot open it.

The audio of a source file can be copied in the same pass, cut at the
video's duration (`FFmpegWriter`'s ``audio``), so the video never loses a
frame to the audio track's length.
"""
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from fractions import Fraction

import cv2
import numpy as np

from edvr.errors import DataError

CONTAINERS = ('.mp4', '.m4v', '.mov', '.mkv', '.avi')
DEFAULT_CRF = 18
DEFAULT_PRESET = 'medium'
PRESETS = ('ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower',
           'veryslow', 'placebo')
_BT709 = ['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709',
          '-color_range', 'tv']
_TO_YUV709 = ('scale=out_color_matrix=bt709:out_range=tv:'
              'flags=bicubic+accurate_rnd+full_chroma_int,'
              'setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv')
_OPENCV_FOURCC = {'.mp4': 'mp4v', '.m4v': 'mp4v', '.mov': 'mp4v', '.avi': 'MJPG', '.mkv': 'mp4v'}


def find_ffmpeg():
    """Path of an ffmpeg with libx264 (PATH first, then imageio-ffmpeg's), else of any
    ffmpeg that runs, else None."""
    candidates = [shutil.which('ffmpeg')]
    try:
        import imageio_ffmpeg
        candidates.append(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        pass
    running = []
    for path in filter(None, candidates):
        try:
            listed = subprocess.run([path, '-hide_banner', '-encoders'], capture_output=True,
                                    text=True)
        except OSError:
            continue
        if listed.returncode == 0 and ' libx264 ' in listed.stdout:
            return path
        if listed.returncode == 0:
            running.append(path)
    return running[0] if running else None


def as_rate(fps):
    """A frame rate as an exact fraction (29.97002997... -> 30000/1001)."""
    return Fraction(fps).limit_denominator(1_000_000)


def video_args(crf=DEFAULT_CRF, preset=DEFAULT_PRESET, lossless=False):
    """ffmpeg output options of the video stream (codec, pixel format, colour tags)."""
    if lossless:
        return ['-c:v', 'libx264rgb', '-preset', preset, '-qp', '0', '-pix_fmt', 'rgb24']
    return ['-c:v', 'libx264', '-preset', preset, '-crf', str(crf), '-vf', _TO_YUV709,
            '-pix_fmt', 'yuv420p', *_BT709]


def count_frames(ffmpeg, path):
    """Number of video frames in the file ``path``, counted by ffmpeg (no decoding)."""
    result = subprocess.run([ffmpeg, '-v', 'error', '-nostdin', '-i', path, '-map', '0:v:0',
                             '-c', 'copy', '-f', 'null', '-', '-progress', 'pipe:1', '-nostats'],
                            capture_output=True, text=True)
    counts = re.findall(r'^frame=(\d+)', result.stdout, re.M)
    if result.returncode != 0 or not counts:
        raise DataError(f'{path}: ffmpeg cannot count its video frames '
                        f'({_last_line(result.stderr)})')
    return int(counts[-1])


def _last_line(text):
    lines = [line.strip() for line in (text or '').splitlines() if line.strip()]
    return lines[-1] if lines else 'no message'


def audio_args(ffmpeg, source, ext):
    """How ``source``'s audio can go into a ``ext`` file: (output options or None, status).

    Copies the audio streams when the container takes their codec, else
    re-encodes them to AAC; each is tried on the first second of audio.
    """
    folder = tempfile.mkdtemp(prefix='.audio-check-')
    try:
        trial = os.path.join(folder, 'trial' + ext)
        for codec, status in ((['-c:a', 'copy'], 'copied'),
                              (['-c:a', 'aac', '-b:a', '192k'], 're-encoded to AAC')):
            done = subprocess.run([ffmpeg, '-v', 'error', '-nostdin', '-y', '-t', '1', '-i', source,
                                   '-map', '0:a', '-vn', *codec, trial], capture_output=True)
            if done.returncode == 0:
                return codec, status
        return None, f'cannot be written into {ext}; video without audio'
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class FFmpegWriter:
    """Pipes uint8 RGB frames of one size to an ffmpeg encoder.

    Args:
        ffmpeg: the ffmpeg executable.
        path: the file to write (its extension picks the container).
        size: (width, height) of every frame.
        fps: frame rate (a `fractions.Fraction` keeps 30000/1001 exact).
        crf, preset, lossless: see `video_args`.
        audio: None, or (source file, duration in seconds, output options from
            `audio_args`): the source's audio streams, cut at that duration.
    """

    def __init__(self, ffmpeg, path, size, fps, crf=DEFAULT_CRF, preset=DEFAULT_PRESET,
                 lossless=False, audio=None):
        self.path, self.count = path, 0
        width, height = size
        # 4:2:0 needs even sides: an odd side is completed by repeating its last row/column.
        self.even = (0, 0) if lossless else (height % 2, width % 2)
        cmd = [ffmpeg, '-v', 'error', '-nostdin', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24',
               '-s', f'{width + self.even[1]}x{height + self.even[0]}',
               '-framerate', str(as_rate(fps)), '-i', 'pipe:0']
        maps = ['-map', '0:v:0']
        if audio is not None:
            source, duration, codec = audio
            cmd += ['-t', f'{duration:.6f}', '-i', source]
            maps += ['-map', '1:a', *codec]
        cmd += maps + video_args(crf, preset, lossless) + ['-f', _muxer(path), path]
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=self._log)

    def write(self, frame):
        """Send one (h, w, 3) uint8 RGB frame."""
        if any(self.even):
            frame = np.pad(frame, ((0, self.even[0]), (0, self.even[1]), (0, 0)), mode='edge')
        try:
            self._process.stdin.write(np.ascontiguousarray(frame).tobytes())
        except BrokenPipeError:
            self._process.wait()
            raise DataError(f'{self.path}: ffmpeg stopped encoding ({self._message()})') from None
        self.count += 1

    def close(self):
        """Finish the file; raises DataError naming ffmpeg's message if it failed."""
        try:
            self._close_stdin()
            if self._process.wait() != 0:
                raise DataError(f'{self.path}: ffmpeg could not write the video '
                                f'({self._message()})')
        finally:
            self._log.close()

    def abort(self):
        """Stop the encoder without finishing the file; nothing stays open."""
        self._process.kill()
        try:
            self._close_stdin()
            self._process.wait()
        finally:
            self._log.close()

    def _close_stdin(self):
        """Close the pipe to ffmpeg; bytes it can no longer take are dropped (the pipe is
        closed all the same)."""
        try:
            self._process.stdin.close()
        except BrokenPipeError:
            pass

    def _message(self):
        self._log.seek(0)
        return _last_line(self._log.read().decode('utf-8', 'replace'))


def _muxer(path):
    ext = os.path.splitext(path)[1].lower()
    return {'.mp4': 'mp4', '.m4v': 'mp4', '.mov': 'mov', '.mkv': 'matroska', '.avi': 'avi'}[ext]


class OpenCVWriter:
    """The fallback without ffmpeg: OpenCV's ``VideoWriter`` (same interface as `FFmpegWriter`)."""

    def __init__(self, path, size, fps):
        warnings.warn('no ffmpeg could run (pip install imageio-ffmpeg): writing with OpenCV '
                      '(MPEG-4 Part 2/MJPG): shifted colours, lower quality, no audio, and '
                      'browsers cannot play it', stacklevel=2)
        self.path, self.count = path, 0
        ext = os.path.splitext(path)[1].lower()
        self._writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*_OPENCV_FOURCC[ext]),
                                       float(fps), size)
        if not self._writer.isOpened():
            raise DataError(f'{path}: OpenCV cannot write {ext} video here')

    def write(self, frame):
        """Send one (h, w, 3) uint8 RGB frame."""
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.count += 1

    def close(self):
        """Finish the file."""
        self._writer.release()

    abort = close
