# SPDX-License-Identifier: Apache-2.0
import numpy as np
import pytest

from edvr.datasets.loader import StridedEvalSampler, TrainBatchSampler, build_eval_loader
from edvr.errors import DataError


def take(sampler, n):
    it = iter(sampler)
    return [next(it) for _ in range(n)]


def test_train_stream_is_a_function_of_seed_and_iteration():
    full = take(TrainBatchSampler(10, 3, seed=7), 8)
    resumed = take(TrainBatchSampler(10, 3, seed=7, start_iter=5), 3)
    assert resumed == full[5:8]
    assert take(TrainBatchSampler(10, 3, seed=8), 8) != full


def test_train_epoch_is_a_permutation_without_repeats():
    sampler = TrainBatchSampler(12, 4, seed=1)
    assert len(sampler) == 3
    indices = [i for batch in sampler.epoch_batches(0) for i, _ in batch]
    assert sorted(indices) == list(range(12))
    assert sampler.epoch_batches(0) != sampler.epoch_batches(1)


def test_ranks_get_distinct_samples():
    ranks = [TrainBatchSampler(8, 2, seed=3, rank=r, world_size=2) for r in range(2)]
    seen = [{i for b in s.epoch_batches(0) for i, _ in b} for s in ranks]
    assert len(ranks[0]) == 2 and not seen[0] & seen[1] and seen[0] | seen[1] == set(range(8))


def test_eval_split_has_no_padding_or_duplicates():
    shares = [list(StridedEvalSampler(7, 1, rank=r, world_size=3)) for r in range(3)]
    flat = sorted(i for share in shares for batch in share for i in batch)
    assert flat == list(range(7))
    assert shares[0] == [[0], [3], [6]]


class Flaky:
    """Three samples; sample 1 fails the way a corrupt frame does."""

    def __len__(self):
        return 3

    def __getitem__(self, index):
        if index == 1:
            raise DataError('/data/clip/00000001.png: cannot decode image')
        return {'x': np.full((2,), index, 'float32')}


@pytest.mark.parametrize('workers', [0, 1])
def test_sample_errors_reach_the_caller_with_their_message(workers):
    loader = build_eval_loader({'num_workers': workers}, Flaky())
    with pytest.raises(DataError, match=r'^/data/clip/00000001\.png: cannot decode image$'):
        for _ in loader:
            pass
