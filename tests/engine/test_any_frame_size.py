# SPDX-License-Identifier: Apache-2.0
"""Evaluation through the trainer works on LR frames that are not a multiple of 4."""
import glob
import json

import paddle
import pytest

from edvr.config import load_config
from edvr.prepare.demo import make_demo_dataset
from edvr.deploy.predictor import Predictor
from edvr.cli.train import main
from edvr.engine.trainer import Trainer
from tests.tiny import DEMO_CONFIG, tiny_overrides


def test_evaluate_only_pads_and_crops_like_the_predictor(tmp_path):
    data = make_demo_dataset(str(tmp_path / 'demo'), num_train_clips=2, num_frames=7,
                             num_test_frames=5, gt_size=(120, 176))['root']  # LR 30x44
    overrides = tiny_overrides(data, str(tmp_path / 'out'), 2)
    trainer = Trainer(load_config(DEMO_CONFIG, overrides), DEMO_CONFIG, seed=3, evaluate_only=True)
    weights = str(tmp_path / 'w.pdparams')
    paddle.save({'generator': trainer.generator.state_dict()}, weights)
    assert main(['-c', DEMO_CONFIG, '--evaluate-only', '--load', weights, '-o', *overrides]) == 0
    # the Trainer above opened a run folder too (the same one only within the same second)
    (scores_file,) = glob.glob(str(tmp_path / 'out' / 'edvr_demo-*' / 'final_scores.json'))
    scores = json.load(open(scores_file))
    direct = Predictor.from_config(load_config(DEMO_CONFIG, overrides), weights).evaluate(
        load_config(DEMO_CONFIG, overrides))
    assert scores['model']['psnr'] == pytest.approx(direct['model']['psnr'], abs=1e-6)
    assert scores['model']['psnr'] > 20
