# SPDX-License-Identifier: Apache-2.0
"""`RepeatDataset`: a dataset seen ``times`` times per epoch."""
import paddle

from edvr.registry import DATASETS, build_from_config


@DATASETS.register
class RepeatDataset(paddle.io.Dataset):
    """Repeat a dataset ``times`` times; sample ``i`` is sample ``i % len(dataset)``.

    Args:
        dataset: config of the inner dataset (``name`` plus arguments), or a
            dataset object.
        times: number of repetitions.
    """

    def __init__(self, dataset, times):
        super().__init__()
        if isinstance(dataset, dict):
            dataset = build_from_config(dataset, DATASETS, where='RepeatDataset.dataset')
        if int(times) < 1:
            raise ValueError(f'times must be a positive int, got {times!r}')
        self.dataset = dataset
        self.times = int(times)

    def __len__(self):
        return self.times * len(self.dataset)

    def __getitem__(self, index):
        """Sample ``index`` (an int or ``(int, seed)``) of the repeated dataset."""
        if isinstance(index, (tuple, list)):
            index, seed = index
            return self.dataset[(int(index) % len(self.dataset), seed)]
        return self.dataset[int(index) % len(self.dataset)]
