# SPDX-License-Identifier: Apache-2.0
"""The EMA of the weights against the average recomputed from the raw weights: by hand over
several updates, and in a training run from the raw weights its checkpoints hold."""
import glob
import os

import numpy as np
import paddle
import pytest

from edvr.cli.train import main
from edvr.engine.ema import WeightAverage
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides


class Net(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = paddle.nn.Linear(3, 2)
        self.register_buffer('steps', paddle.to_tensor([0], dtype='int64'))


def test_the_average_after_several_updates_equals_the_formula():
    paddle.seed(1)
    net, decay = Net(), 0.75
    raw = [{k: v.numpy().copy() for k, v in net.state_dict().items()}]
    ema = WeightAverage(net, decay)
    for step in range(1, 4):
        net.fc.weight.set_value(paddle.full([3, 2], float(step)))
        net.fc.bias.set_value(paddle.to_tensor([step, -step], dtype='float32'))
        net.steps.set_value(paddle.to_tensor([step], dtype='int64'))
        raw.append({k: v.numpy().copy() for k, v in net.state_dict().items()})
        ema.update(net)
    for key in ('fc.weight', 'fc.bias'):   # w0 d^3 + (1 - d) (w1 d^2 + w2 d + w3)
        expected = raw[0][key] * decay ** 3 + (1 - decay) * sum(
            raw[k][key] * decay ** (3 - k) for k in (1, 2, 3))
        np.testing.assert_allclose(ema.state_dict()[key].numpy(), expected, rtol=1e-6, atol=1e-6)
    assert ema.state_dict()['steps'].numpy().tolist() == [3]      # integer buffers: copied
    with ema.applied(net):
        np.testing.assert_array_equal(net.fc.bias.numpy(), ema.state_dict()['fc.bias'].numpy())
    np.testing.assert_array_equal(net.fc.bias.numpy(), raw[3]['fc.bias'])  # raw weights back


def test_a_saved_average_restores_exactly():
    net = Net()
    first = WeightAverage(net, 0.9)
    net.fc.weight.set_value(paddle.ones([3, 2]))
    first.update(net)
    second = WeightAverage(Net(), 0.9)
    second.set_state_dict({k: v.numpy() for k, v in first.state_dict().items()})
    for key, value in first.state_dict().items():
        np.testing.assert_array_equal(second.state_dict()[key].numpy(), value.numpy())


def test_the_raw_weights_come_back_even_when_the_block_fails():
    net = Net()
    ema = WeightAverage(net, 0.5)
    net.fc.weight.set_value(paddle.ones([3, 2]))
    with pytest.raises(RuntimeError, match='^inside$'):
        with ema.applied(net):
            raise RuntimeError('inside')
    np.testing.assert_array_equal(net.fc.weight.numpy(), np.ones([3, 2], np.float32))


def load(path, key):
    return {k: v.numpy() for k, v in paddle.load(path)[key].items()}


def test_training_averages_the_weights_after_each_optimizer_step(tmp_path):
    data = make_tiny_data(tmp_path / 'demo', num_train_clips=1)
    out = str(tmp_path / 'out')
    assert main(['-c', DEMO_CONFIG, '--seed', '3', '-o', *tiny_overrides(data, out, 2),
                 'snapshot_config.interval=1', '+ema_decay=0.6']) == 0
    (run,) = glob.glob(os.path.join(out, 'edvr_demo-*'))
    states = [paddle.load(os.path.join(run, f'iter_{k}_checkpoint.pdparams')) for k in (1, 2)]
    for k in (1,):   # ema_k+1 = 0.6 ema_k + 0.4 raw_k+1 (the raw weights after step k+1)
        before, after = states[k - 1], states[k]
        for key, raw in after['generator'].items():
            expected = 0.6 * before['generator_ema'][key].numpy() + 0.4 * raw.numpy()
            np.testing.assert_allclose(after['generator_ema'][key].numpy(), expected,
                                       rtol=1e-5, atol=1e-7, err_msg=f'{k + 1} {key}')
        published = load(os.path.join(run, f'iter_{k + 1}_weight.pdparams'), 'generator')
        for key, value in after['generator_ema'].items():
            np.testing.assert_array_equal(published[key], value.numpy())
