# SPDX-License-Identifier: Apache-2.0
"""Super-resolving a video file: frames stream through the sliding window, out at the same rate.

Frames are decoded, restored and encoded one by one (memory does not grow with the
video's length); the output keeps the exact frame rate and frame count. The
audio track is copied with ``ffmpeg`` when that program is installed.
"""
import os
import shutil
import subprocess

import cv2
from tqdm import tqdm

from edvr.errors import DataError

_FOURCC = {'.mp4': 'mp4v', '.m4v': 'mp4v', '.mov': 'mp4v', '.avi': 'MJPG', '.mkv': 'mp4v'}


def _frames(capture):
    """RGB frames of an opened ``cv2.VideoCapture``, one at a time."""
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def _copy_audio(video_only, source, destination):
    """Mux ``source``'s audio (if any) into ``video_only``; returns True if ffmpeg did it."""
    cmd = ['ffmpeg', '-loglevel', 'error', '-y', '-i', video_only, '-i', source, '-map', '0:v',
           '-map', '1:a?', '-c', 'copy', destination]
    return subprocess.run(cmd, capture_output=True).returncode == 0


def upscale_video(predictor, source, destination, keep_audio=True, progress=True):
    """Restore every frame of ``source`` into ``destination``.

    Args:
        predictor: an `edvr.deploy.predictor.Predictor`.
        source: any video OpenCV can read.
        destination: output file (.mp4, .avi, .mkv, .mov); its folder must exist.
        keep_audio: copy the audio track with ffmpeg when it is installed.
        progress: show a progress bar (frames/s and ETA).

    Returns:
        dict with frames, fps, size (w, h) and audio ('copied', 'no ffmpeg' or 'off').
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
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    temporary = os.path.join(folder, f'.{os.path.basename(destination)}.{os.getpid()}{ext}')
    writer, count = None, 0
    try:
        bar = tqdm(total=total, unit='frame', disable=not progress, desc='video')
        for frame in predictor.run_sequence(_frames(capture)):
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(temporary, cv2.VideoWriter_fourcc(*_FOURCC[ext]), fps, size)
                if not writer.isOpened():
                    raise DataError(f'{destination}: OpenCV cannot write {ext} video here')
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            count += 1
            bar.update(1)
        bar.close()
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if count == 0:
        raise DataError(f'{source}: no frames could be read')
    audio = 'off'
    if keep_audio:
        audio = 'no ffmpeg'
        if shutil.which('ffmpeg'):
            muxed = temporary + ext
            if _copy_audio(temporary, source, muxed):
                os.replace(muxed, temporary)
                audio = 'copied'
            else:
                audio = 'ffmpeg failed; video without audio'
    os.replace(temporary, destination)
    return {'frames': count, 'fps': fps, 'size': size, 'audio': audio}
