# SPDX-License-Identifier: Apache-2.0
"""Option values and frame formats the preparation commands refuse with one clear line."""
import cv2
import numpy as np
import pytest

from edvr.errors import DataError
from edvr.prepare.common import image_shape
from tools.prepare_data import main


@pytest.mark.parametrize('argv, message', [
    (['video', 'clip.mp4', '--step', '0'], "error: argument --step: expected a frame step from 1 to 10000, got '0'"),
    (['video', 'clip.mp4', '--max-frames', '-1'], "--max-frames: expected a frame count from 1 to 100000000, got '-1'"),
])
def test_non_positive_counts_are_refused(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_vimeo_split_is_one_line(tmp_path, capsys):
    assert main(['vimeo90k', '--src', str(tmp_path), '--splits', 'train,val']) == 2
    err = capsys.readouterr().err
    assert "error: --splits 'train,val': expected train, test or train,test" in err
    assert 'Traceback' not in err


def test_png_headers_give_the_decoded_channels_and_refuse_16_bit(tmp_path):
    rgba = tmp_path / 'rgba.png'
    cv2.imwrite(str(rgba), np.zeros((6, 10, 4), np.uint8))
    assert image_shape(str(rgba)) == (6, 10, 4)
    assert image_shape(str(rgba)) == cv2.imread(str(rgba), cv2.IMREAD_UNCHANGED).shape
    deep = tmp_path / 'deep.png'
    cv2.imwrite(str(deep), np.zeros((6, 10, 3), np.uint16))
    with pytest.raises(DataError, match=r'deep.png: 16-bit PNG; expected 8-bit frames'):
        image_shape(str(deep))
