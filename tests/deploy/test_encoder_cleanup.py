# SPDX-License-Identifier: Apache-2.0
"""`FFmpegWriter` leaves nothing open, whichever way it ends: finished, failed or aborted."""
import gc
import warnings

import numpy as np
import pytest

from edvr.deploy.encoder import FFmpegWriter
from edvr.errors import DataError
from tests.deploy.video_clips import ffmpeg  # noqa: F401


def no_unclosed_files(action):
    """Run ``action`` and collect the writer it returns; fail on any ResourceWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', ResourceWarning)
        writer = action()
        del writer
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


def frame(height=64, width=64):
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_abort_after_ffmpeg_died_with_bytes_buffered_closes_its_pipe(ffmpeg, tmp_path):
    def action():
        writer = FFmpegWriter(ffmpeg, str(tmp_path / 'a.mp4'), (64, 64), 25)
        writer.write(frame())
        writer._process.kill()
        writer._process.wait()
        writer._process.stdin.write(frame().tobytes()[:100])   # left in the buffer
        writer.abort()
        assert writer._process.stdin.closed and writer._log.closed
        return writer
    no_unclosed_files(action)


def test_a_failed_close_closes_its_log(ffmpeg, tmp_path):
    def action():   # ffmpeg cannot open a file in a missing folder once its input ends
        writer = FFmpegWriter(ffmpeg, str(tmp_path / 'missing' / 'a.mp4'), (64, 64), 25)
        with pytest.raises(DataError, match=r'missing.a\.mp4: ffmpeg could not write'):
            writer.close()
        assert writer._process.stdin.closed and writer._log.closed
        return writer
    no_unclosed_files(action)


def test_a_finished_file_closes_everything(ffmpeg, tmp_path):
    def action():
        writer = FFmpegWriter(ffmpeg, str(tmp_path / 'a.mp4'), (64, 64), 25)
        writer.write(frame())
        writer.close()
        assert writer._process.stdin.closed and writer._log.closed
        assert (tmp_path / 'a.mp4').stat().st_size > 0
        return writer
    no_unclosed_files(action)
