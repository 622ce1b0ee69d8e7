# SPDX-License-Identifier: Apache-2.0
"""A later validation that only equals the best score does not take its place: the first
iteration to reach a score stays the best, in the checkpoint and in best_weight.pdparams."""
import glob
import os
import re

import numpy as np
import paddle
import pytest

from edvr import weights as ckpt
from edvr.cli.train import main
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides


def _weights(path):
    return {k: v.numpy() for k, v in paddle.load(path)['generator'].items()}


def test_a_tied_validation_keeps_the_first_best(tmp_path):
    data = make_tiny_data(tmp_path / 'demo', num_train_clips=1)
    out = str(tmp_path / 'out')
    # A rate of 1e-30 moves only the zero biases (by ~1e-30 per step): the restored frames,
    # rounded to 8 bits, and so both validations' scores are identical, the weights are not.
    assert main(['-c', DEMO_CONFIG, '--seed', '3', '-o', *tiny_overrides(data, out, 2),
                 'validate.interval=1', 'snapshot_config.interval=1',
                 'lr_scheduler.learning_rate=1e-30', 'lr_scheduler.eta_min=0']) == 0
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    log = open(os.path.join(run, 'log.txt')).read()
    scores = re.findall(r'validation at iteration (\d+): psnr: ([0-9.]+)', log)
    assert [i for i, _ in scores] == ['1', '2'] and scores[0][1] == scores[1][1], scores
    first, second = (_weights(os.path.join(run, f'iter_{i}_weight.pdparams')) for i in (1, 2))
    assert any(not np.array_equal(first[k], second[k]) for k in first)  # two different files
    saved = ckpt.read_checkpoint(os.path.join(run, 'iter_2_checkpoint.pdparams'))
    assert saved['best'] == {'psnr': pytest.approx(float(scores[0][1]), abs=5e-5), 'iter': 1}
    best = _weights(os.path.join(run, 'best_weight.pdparams'))
    for key in first:
        np.testing.assert_array_equal(best[key], first[key], err_msg=key)
