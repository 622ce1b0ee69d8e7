# SPDX-License-Identifier: Apache-2.0
"""The one opener of input videos: OpenCV's capture, or one line naming the file.

FFmpeg inside OpenCV prints its own complaints about a damaged file
(``moov atom not found``) on stderr; they are silenced here so that a bad
video ends with the single line of the DataError.
"""
import os

import cv2

from edvr.errors import DataError

os.environ.setdefault('OPENCV_FFMPEG_LOGLEVEL', '-8')  # AV_LOG_QUIET, read at first capture


def open_video(path):
    """An opened ``cv2.VideoCapture`` of ``path`` and (frame count, fps, height, width).

    The frame count is the container's estimate (0 when unknown).

    Raises:
        DataError: missing, a folder, or not a video OpenCV can open.
    """
    path = str(path)
    if os.path.isdir(path):
        raise DataError(f'{path}: is a folder, expected a video file')
    if not os.path.isfile(path):
        raise DataError(f'{path}: video file not found')
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise DataError(f'{path}: cannot open this video (unsupported or damaged file)')
    count = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    fps = capture.get(cv2.CAP_PROP_FPS)
    h, w = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    return capture, (count, fps, h, w)
