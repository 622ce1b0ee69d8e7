# SPDX-License-Identifier: Apache-2.0
"""GPU choices with a faked CUDA build: the card the launcher chose, AMP levels."""
import paddle
import pytest

from edvr.config import load_config
from edvr.engine.trainer import Trainer
from edvr.errors import ConfigError
from edvr.utils import device
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides


@pytest.fixture
def fake_gpus(monkeypatch):
    """Pretend Paddle is built with CUDA and sees 4 cards; returns the devices set."""
    chosen = []
    monkeypatch.setattr(paddle, 'is_compiled_with_cuda', lambda: True)
    monkeypatch.setattr(paddle.device.cuda, 'device_count', lambda: 4)
    monkeypatch.setattr(paddle.device.cuda, 'get_device_name', lambda: 'Fake GPU')
    monkeypatch.setattr(paddle, 'set_device', lambda name: chosen.append(name))
    monkeypatch.delenv('FLAGS_selected_gpus', raising=False)
    return chosen


@pytest.mark.parametrize('selected, local_rank, local_size, expected', [
    ('3', 0, 1, 'gpu:3'),      # --nnodes 2 --gpus 3: one process per machine on card 3
    ('1', 1, 2, 'gpu:1'),      # --gpus 0,1: the second process of the machine
    ('2,3', 0, 1, 'gpu:2'),    # several cards for one process: the first, like ParallelEnv().device_id
    (None, 2, 4, 'gpu:2'),     # no launcher, several processes: the local rank
    (None, 0, 1, 'gpu:0'),     # one process, no launcher
])
def test_gpu_follows_the_launcher(fake_gpus, monkeypatch, selected, local_rank, local_size, expected):
    if selected is not None:
        monkeypatch.setenv('FLAGS_selected_gpus', selected)
    assert device.select_device(local_rank, local_size) == f'GPU ({expected}, Fake GPU)'
    assert fake_gpus == [expected]


def test_bad_launcher_variable_is_one_line(fake_gpus, monkeypatch):
    monkeypatch.setenv('FLAGS_selected_gpus', 'gpu1')
    with pytest.raises(ConfigError, match=r"^environment variable FLAGS_selected_gpus='gpu1': "
                                          r"expected GPU indices like 0 or 0,1$"):
        device.select_device(0, 1)
    assert fake_gpus == []


def test_amp_o2_trains_as_o1_with_a_warning_on_gpu(tmp_path, monkeypatch, capsys):
    """O2 would cast the weights to float16 (paddle.amp.decorate); checkpoints, EMA and
    resume keep float32 weights, so O2 is refused in favour of O1, with one warning."""
    data = make_tiny_data(tmp_path / 'demo')
    cfg = load_config(DEMO_CONFIG, tiny_overrides(data, str(tmp_path / 'out'), 2))
    decorated = []
    monkeypatch.setattr(paddle, 'get_device', lambda: 'gpu:0')
    monkeypatch.setattr(paddle.amp, 'decorate', lambda *args, **kwargs: decorated.append(kwargs))
    for level in ('O2', 'O1'):
        trainer = Trainer(cfg, DEMO_CONFIG, seed=0, amp=True, amp_level=level)
        assert trainer.model.amp['level'] == 'O1' and trainer.model.amp['dtype'] == 'float16'
        trainer.close()
    assert decorated == []
    printed = capsys.readouterr()
    warning = ('--amp_level O2 is not supported (checkpoints, EMA and resume keep float32 weights); '
               'training with O1')
    assert (printed.out + printed.err).count(warning) == 1
