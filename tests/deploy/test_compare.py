# SPDX-License-Identifier: Apache-2.0

import cv2
import numpy as np
import pytest

from edvr.config import dump_config, load_config
from edvr.deploy.compare import comparison_image, write_comparison
from edvr.errors import DataError
from edvr.metrics import psnr
from edvr.utils.imresize import imresize
from tests.tiny import DEMO_CONFIG as DEMO, tiny_overrides
from tools.compare import main


def test_panels_line_up_and_are_labelled_with_psnr():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    lq = imresize(gt, 1 / 4)
    out = np.clip(gt.astype(int) + 3, 0, 255).astype(np.uint8)
    image = comparison_image(lq, out, gt, scale=4, crop=(8, 8, 16, 20), zoom=2)
    assert image.shape == (22 + 32, 3 * 40 + 2 * 4, 3)
    assert np.array_equal(image[22:, 44:84], cv2.resize(out[8:24, 8:28], None, fx=2, fy=2,
                                                        interpolation=cv2.INTER_NEAREST))
    assert image[:22, 44:84].max() == 255 and image[:22, 44:84].min() == 0  # text on the bar
    assert psnr(out, gt) == pytest.approx(20 * np.log10(255 / np.sqrt(
        np.mean((out.astype(float) - gt) ** 2))))


def test_tool_writes_a_comparison_of_a_test_frame(demo_data, tiny_weights, tmp_path, capsys):
    _, weights = tiny_weights
    cfg_path = tmp_path / 'tiny.yaml'
    dump_config(load_config(DEMO, tiny_overrides(demo_data)), str(cfg_path))
    out = tmp_path / 'cmp.png'
    assert main(['-c', str(cfg_path), '--load', weights, '--key', '000/00000002', '-o', str(out)]) == 0
    image = cv2.imread(str(out))
    assert image.shape == (22 + 32, 3 * 48 + 2 * 4, 3)
    assert main(['-c', str(cfg_path), '--load', weights, '--key', '000/99', '-o', str(out)]) == 2
    assert "--key '000/99': not a test frame (e.g. 000/00000000" in capsys.readouterr().err
    with pytest.raises(DataError, match='output folder .* does not exist'):
        write_comparison(load_config(str(cfg_path)), '000/00000002', str(tmp_path / 'no' / 'x.png'),
                         weights=weights)
