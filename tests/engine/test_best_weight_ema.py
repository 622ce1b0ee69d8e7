# SPDX-License-Identifier: Apache-2.0
"""With ema_decay set, best_weight.pdparams holds the averaged weights of the best
iteration (the ones validation scored), not the raw weights the optimizer holds."""
import glob
import os
import re

import numpy as np
import paddle

from edvr import weights as ckpt
from edvr.cli.train import main
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides


def _weights(path):
    return {k: v.numpy() for k, v in paddle.load(path)['generator'].items()}


def test_best_weight_is_the_average_that_validation_scored(tmp_path):
    data = make_tiny_data(tmp_path / 'demo', num_train_clips=1)
    out = str(tmp_path / 'out')
    assert main(['-c', DEMO_CONFIG, '--seed', '5', '-o', *tiny_overrides(data, out, 3),
                 'validate.interval=1', 'snapshot_config.interval=1', '+ema_decay=0.5',
                 'lr_scheduler.learning_rate=4e-3']) == 0
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    log = open(os.path.join(run, 'log.txt')).read()
    scores = {int(i): float(p) for i, p in
              re.findall(r'validation at iteration (\d+): psnr: ([0-9.]+)', log)}
    assert sorted(scores) == [1, 2, 3]
    best_iter = max(scores, key=scores.get)
    best = _weights(os.path.join(run, 'best_weight.pdparams'))
    state = ckpt.read_checkpoint(os.path.join(run, f'iter_{best_iter}_checkpoint.pdparams'))
    average, raw = state['generator_ema'], state['generator']
    assert best.keys() == average.keys()
    assert any(not np.array_equal(average[k], raw[k]) for k in raw)  # they differ
    for key in best:
        np.testing.assert_array_equal(best[key], average[key], err_msg=key)
