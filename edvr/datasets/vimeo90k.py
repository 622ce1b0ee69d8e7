# SPDX-License-Identifier: Apache-2.0
"""`VSRVimeo90KDataset`: Vimeo-90K septuplets, a window of LQ frames around the middle GT frame."""
import os

from edvr.datasets.base import BaseVSRDataset, require_folders
from edvr.datasets.packed import open_store, parse_io_backend
from edvr.errors import ConfigError, DataError
from edvr.registry import DATASETS
from edvr.utils.yaml_reader import read_text

SEPTUPLET = 7


@DATASETS.register
class VSRVimeo90KDataset(BaseVSRDataset):
    """Vimeo-90K for sliding-window networks.

    Each septuplet ``<lq_folder>/<seq>/im1.png .. im7.png`` is one sample: the
    ``num_frames`` LQ frames centred on ``im4`` and the GT ``im4``. The info
    already lists the files, so the pipeline starts with `ReadImageSequence`.
    Samples have ``clip`` = '00001/0001' and ``key`` = '00001/0001/im4'.

    Args:
        lq_folder: folder of LQ septuplets.
        gt_folder: folder of GT septuplets.
        ann_file: one septuplet per line, ``00001/0001`` (anything after the
            first blank, as in BasicSR's meta files, is ignored).
        preprocess: list of preprocess op configs.
        num_frames: 7 (im1-im7), 5 (im2-im6), 3 or 1.
        io_backend: None or 'folder' (read PNG folders) or 'lmdb' / ``{type: lmdb}``
            (``lq_folder`` and ``gt_folder`` are packed stores of the
            ``sequences`` folders, see `edvr.datasets.packed`).

    Raises:
        ConfigError: ``num_frames`` is not odd or exceeds 7.
        DataError: a missing folder or ann_file, or an empty ann_file.
    """

    def __init__(self, lq_folder, gt_folder, ann_file, preprocess, num_frames=SEPTUPLET,
                 io_backend=None):
        if int(num_frames) not in (1, 3, 5, 7):
            raise ConfigError(f'VSRVimeo90KDataset.num_frames: expected 1, 3, 5 or 7, '
                              f'got {num_frames}')
        super().__init__(preprocess)
        self.lq_folder = str(lq_folder)
        self.gt_folder = str(gt_folder)
        self.ann_file = str(ann_file)
        self.num_frames = int(num_frames)
        self.io_backend = parse_io_backend(io_backend, 'VSRVimeo90KDataset.io_backend')
        self.data_infos = self.prepare_data_infos()

    def prepare_data_infos(self):
        """One info per septuplet of the ann_file."""
        require_folders(self.lq_folder, self.gt_folder)
        if not os.path.exists(self.ann_file):
            raise DataError(f'{self.ann_file}: meta-info (ann_file) not found')
        text = read_text(self.ann_file, 'a meta-info text file (ann_file)', DataError)
        seqs = [line.split()[0] for line in text.splitlines() if line.strip()]
        if not seqs:
            raise DataError(f'{self.ann_file}: lists no septuplets')
        if self.io_backend == 'lmdb':
            for folder in (self.lq_folder, self.gt_folder):
                missing = [s for s in seqs if open_store(folder).frame_names(s) is None]
                if missing:
                    raise DataError(f'{folder}: packed store lacks {len(missing)} septuplet(s) '
                                    f'of {self.ann_file}, e.g. {missing[0]}')
        extra = {'io_backend': 'lmdb'} if self.io_backend == 'lmdb' else {}
        middle = SEPTUPLET // 2 + 1
        half = self.num_frames // 2
        lq_names = [f'im{i}.png' for i in range(middle - half, middle + half + 1)]
        return [dict(lq_path=[os.path.join(self.lq_folder, seq, n) for n in lq_names],
                     gt_path=[os.path.join(self.gt_folder, seq, f'im{middle}.png')],
                     key=f'{seq}/im{middle}', clip=seq, num_frames=self.num_frames, **extra)
                for seq in seqs]
