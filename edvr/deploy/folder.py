# SPDX-License-Identifier: Apache-2.0
"""Restore a folder of frames (one clip) into a folder of PNGs, all or nothing."""
import os

import cv2

from edvr.datasets.folder import list_frames
from edvr.datasets.image_io import read_image
from edvr.errors import DataError
from edvr.utils import writer
from edvr.utils.output_paths import check_output_folder, full_disk_raises, write_atomic
from edvr.utils.writer import refuse_overlap


def _check_input_frames(input_dir):
    """The clip's frame names, after reading every frame once (a bad one stops us before any write)."""
    if not os.path.isdir(input_dir):
        raise DataError(f'{input_dir}: input folder not found')
    names = list_frames(input_dir)
    if not names:
        raise DataError(f'{input_dir}: no image frames in this folder')
    shape = None
    for name in names:
        frame_shape = read_image(os.path.join(input_dir, name), flag=1).shape
        if shape is not None and frame_shape != shape:
            raise DataError(f'{os.path.join(input_dir, name)}: shape {frame_shape}, '
                            f'frame {names[0]} has {shape}')
        shape = frame_shape
    return names


def restore_folder(predictor, input_dir, output_dir):
    """Restore every frame in ``input_dir`` (one clip) into ``output_dir`` with ``predictor``.

    Output frames are PNGs named as the inputs (``0001.jpg`` -> ``0001.png``).
    Every input frame is read and checked before any output is written;
    outputs are written under temporary names and moved into place only
    once all are done, so a failure leaves existing files as they were.

    Returns:
        the number of frames written.

    Raises:
        DataError: a missing input folder, one without frames, an unreadable
            frame or frames of different sizes; a full disk (nothing is replaced).
        EDVRError: an ``output_dir`` that is a file or cannot be created.
    """
    refuse_overlap([('--output_path', output_dir)], [('--input', input_dir)])
    names = _check_input_frames(input_dir)
    parent = os.path.dirname(os.path.abspath(output_dir))
    if not os.path.isdir(parent):
        raise DataError(f'{output_dir}: its parent folder {parent} does not exist')
    check_output_folder(output_dir, '--output_path')
    os.makedirs(output_dir, exist_ok=True)
    writer.remove_stale(output_dir)
    frames = (read_image(os.path.join(input_dir, n), flag=1) for n in names)
    staged = []
    full_disk = full_disk_raises(lambda exc: DataError(
        f'{exc.filename}: no space left on device; no existing frame in {output_dir} was '
        f'replaced; free space and run again'))
    try:
        with full_disk:
            for name, restored in zip(names, predictor.run_sequence(frames)):
                final = os.path.join(output_dir, os.path.splitext(name)[0] + '.png')
                data = cv2.imencode('.png', cv2.cvtColor(restored, cv2.COLOR_RGB2BGR))[1]
                staged.append((writer.temporary_path(final), final))
                try:
                    write_atomic(staged[-1][0], data.tobytes())
                except OSError as exc:
                    raise OSError(exc.errno, exc.strerror, final) from None
            for temporary, final in staged:
                writer.move_into_place(temporary, final)
    finally:
        for temporary, _ in staged:
            writer.discard(temporary)
    return len(names)
