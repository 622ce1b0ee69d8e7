# SPDX-License-Identifier: Apache-2.0
import os

import cv2
import numpy as np
import pytest

from edvr.datasets.image_io import ReadImageSequence, read_image, write_image
from edvr.errors import ConfigError, DataError


def test_read_image_returns_rgb_like_paddlegan(tmp_path):
    path = str(tmp_path / 'a.png')
    bgr = np.zeros((2, 3, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 20, 30  # B, G, R as OpenCV stores them
    cv2.imwrite(path, bgr)
    assert read_image(path)[0, 0].tolist() == [30, 20, 10]
    assert read_image(path, to_rgb=False)[0, 0].tolist() == [10, 20, 30]


def test_gray_image_gets_a_channel_axis(tmp_path):
    path = str(tmp_path / 'g.png')
    cv2.imwrite(path, np.full((4, 5), 9, np.uint8))
    img = read_image(path)
    assert img.shape == (4, 5, 1) and img.max() == 9


def test_write_image_round_trip(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    path = str(tmp_path / 'deep' / 'x.png')
    write_image(path, img)
    np.testing.assert_array_equal(read_image(path), img)
    assert os.listdir(tmp_path / 'deep') == ['x.png']


def test_missing_and_corrupt_frames_name_the_file(tmp_path):
    missing = str(tmp_path / 'clip' / '00000003.png')
    with pytest.raises(DataError, match=r'clip/00000003\.png: frame not found'):
        read_image(missing)
    corrupt = tmp_path / 'bad.png'
    corrupt.write_bytes(b'\x89PNG\r\n\x1a\nnot really a png')
    with pytest.raises(DataError, match=r'bad\.png: cannot decode'):
        read_image(str(corrupt))


def test_read_image_sequence(tmp_path):
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f'{i}.png'))
        write_image(paths[-1], np.full((2, 2, 3), i, np.uint8))
    res = ReadImageSequence(key='lq')({'lq_path': paths})
    assert [f[0, 0, 0] for f in res['lq']] == [0, 1, 2] and res['lq_path'] == paths
    write_image(paths[1], np.zeros((3, 2, 3), np.uint8))
    with pytest.raises(DataError, match=r'1\.png: frame of shape \(3, 2, 3\)'):
        ReadImageSequence(key='lq')({'lq_path': paths})
    with pytest.raises(DataError, match=r'missing\.png'):
        ReadImageSequence(key='gt')({'gt_path': [str(tmp_path / 'missing.png')]})
    with pytest.raises(ConfigError, match=r"^ReadImageSequence\.backend: only OpenCV is supported, "
                                          r"got 'pillow'$"):
        ReadImageSequence(key='gt', backend='pillow')
