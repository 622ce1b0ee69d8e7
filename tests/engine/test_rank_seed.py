# SPDX-License-Identifier: Apache-2.0
"""The seed a process uses when none is given is rank 0's (the one rank 0 logs and saves),
with Paddle's collectives replaced by a simulated rank 1 of 2."""
import paddle.distributed as dist

from edvr.config import load_config
from edvr.engine.trainer import Trainer
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides

RANK0_SEED = 1234


def simulate_rank1_of_2(monkeypatch, rank0_values):
    sent = []
    monkeypatch.setattr(dist, 'get_rank', lambda: 1)
    monkeypatch.setattr(dist, 'get_world_size', lambda: 2)
    monkeypatch.setattr(dist, 'init_parallel_env', lambda: None)

    def broadcast(holder, src):
        sent.append(holder[0])
        holder[:] = [rank0_values.pop(0)]
    monkeypatch.setattr(dist, 'broadcast_object_list', broadcast)
    return sent


def test_rank_1_without_a_seed_uses_the_seed_rank_0_drew(tmp_path, monkeypatch):
    data = make_tiny_data(tmp_path / 'demo', num_train_clips=1)
    cfg = load_config(DEMO_CONFIG, tiny_overrides(data) + [f'output_dir={tmp_path / "out"}'])
    sent = simulate_rank1_of_2(monkeypatch, [RANK0_SEED])
    trainer = Trainer(cfg, DEMO_CONFIG, evaluate_only=True)
    assert trainer.seed == RANK0_SEED
    assert len(sent) == 1 and isinstance(sent[0], int)   # its own draw was offered, then replaced

