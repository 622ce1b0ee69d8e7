# SPDX-License-Identifier: Apache-2.0
"""Super-resolving a video file: frames stream through the sliding window, out at the same rate.

Frames are decoded, restored and encoded one by one (memory does not grow with the
video's length); the output keeps the exact frame rate and frame count. The
audio track is copied with ``ffmpeg``: the one on the PATH, else the one the
``imageio-ffmpeg`` package ships (``pip install imageio-ffmpeg``).
"""
import os
import shutil
import subprocess

import cv2
from tqdm import tqdm

from edvr.errors import DataError

_FOURCC = {'.mp4': 'mp4v', '.m4v': 'mp4v', '.mov': 'mp4v', '.avi': 'MJPG', '.mkv': 'mp4v'}


def _frames(capture, first):
    """RGB frames of an opened ``cv2.VideoCapture`` whose ``first`` (BGR) frame was read."""
    ok, frame = True, first
    while ok:
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        ok, frame = capture.read()


def find_ffmpeg():
    """Path of an ffmpeg executable (PATH first, then imageio-ffmpeg's), or None."""
    found = shutil.which('ffmpeg')
    if found:
        return found
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return None


def has_audio(ffmpeg, path):
    """Whether ffmpeg sees an audio stream in ``path``."""
    try:
        probe = subprocess.run([ffmpeg, '-hide_banner', '-i', path], capture_output=True, text=True)
    except OSError:
        return False
    return any('Audio:' in line for line in probe.stderr.splitlines()
               if line.strip().startswith('Stream #'))


def _copy_audio(ffmpeg, video_only, source, destination):
    """Mux ``source``'s audio into ``video_only``; returns True if ffmpeg did it."""
    cmd = [ffmpeg, '-loglevel', 'error', '-y', '-i', video_only, '-i', source, '-map', '0:v',
           '-map', '1:a', '-c', 'copy', '-shortest', destination]
    try:
        return subprocess.run(cmd, capture_output=True).returncode == 0
    except OSError:  # an ffmpeg that cannot run: keep the restored video, without audio
        return False


def _add_audio(temporary, source, ext):
    """Copy ``source``'s audio into the finished ``temporary`` video; returns the audio status."""
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        return 'no ffmpeg (pip install imageio-ffmpeg to keep the audio)'
    if not has_audio(ffmpeg, source):
        return 'none in the source'
    muxed = temporary + ext
    try:
        if not _copy_audio(ffmpeg, temporary, source, muxed):
            return 'ffmpeg failed; video without audio'
        os.replace(muxed, temporary)
        return 'copied'
    finally:
        if os.path.exists(muxed):
            os.remove(muxed)


def _write_frames(predictor, capture, first, path, destination, fps, progress):
    """Restore ``first`` and the frames after it into the video ``path``; returns (count, (w, h))."""
    writer, count, size = None, 0, None
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    ext = os.path.splitext(path)[1].lower()
    try:
        with tqdm(total=total, unit='frame', disable=not progress, desc='video') as bar:
            for frame in predictor.run_sequence(_frames(capture, first)):
                if writer is None:
                    size = (frame.shape[1], frame.shape[0])
                    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*_FOURCC[ext]), fps, size)
                    if not writer.isOpened():
                        raise DataError(f'{destination}: OpenCV cannot write {ext} video here')
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                count += 1
                bar.update(1)
    finally:
        if writer is not None:
            writer.release()
    return count, size


def upscale_video(predictor, source, destination, keep_audio=True, progress=True):
    """Restore every frame of ``source`` into ``destination``.

    Args:
        predictor: an `edvr.deploy.predictor.Predictor`.
        source: any video OpenCV can read.
        destination: output file (.mp4, .avi, .mkv, .mov); its folder must exist.
        keep_audio: copy the audio track when an ffmpeg is available.
        progress: show a progress bar (frames/s and ETA).

    Returns:
        dict with frames, fps, size (w, h) and audio: 'copied', 'off', 'none in
        the source', or why it was not copied.
    """
    folder = os.path.dirname(os.path.abspath(destination))
    if not os.path.isdir(folder):
        raise DataError(f'{destination}: output folder {folder} does not exist')
    ext = os.path.splitext(destination)[1].lower()
    if ext not in _FOURCC:
        raise DataError(f'{destination}: expected one of {", ".join(sorted(_FOURCC))}')
    capture = cv2.VideoCapture(source)
    if not os.path.isfile(source) or not capture.isOpened():
        raise DataError(f'{source}: cannot open this video')
    fps = capture.get(cv2.CAP_PROP_FPS)
    if not fps > 0:
        capture.release()
        raise DataError(f'{source}: cannot tell the frame rate of this video')
    ok, first = capture.read()
    if not ok:
        capture.release()
        raise DataError(f'{source}: no frames could be read')
    temporary = os.path.join(folder, f'.{os.path.basename(destination)}.{os.getpid()}{ext}')
    try:
        count, size = _write_frames(predictor, capture, first, temporary, destination, fps,
                                    progress)
        audio = _add_audio(temporary, source, ext) if keep_audio else 'off'
        os.replace(temporary, destination)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)  # an existing destination stays as it was
        raise
    finally:
        capture.release()
    return {'frames': count, 'fps': fps, 'size': size, 'audio': audio}
