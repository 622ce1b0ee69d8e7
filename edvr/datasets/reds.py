# SPDX-License-Identifier: Apache-2.0
"""`VSRREDSDataset`: REDS clips listed in a meta-info file, split into train and test clips."""
import os
import re
from collections import OrderedDict

from edvr.datasets.base import BaseVSRDataset, require_folders
from edvr.datasets.packed import open_store, parse_io_backend
from edvr.errors import ConfigError, DataError
from edvr.registry import DATASETS
from edvr.utils.yaml_reader import read_text

PARTITIONS = {
    'REDS4': ['000', '011', '015', '020'],
    'official': [f'{i:03d}' for i in range(240, 270)],
}

MAX_FRAMES_PER_CLIP = 1_000_000
_PER_CLIP = re.compile(r'^(\S+)\s+(\d+)(\s+\(.*\))?$')


def read_meta_info(ann_file):
    """Frames per clip from a REDS meta-info file.

    Two line formats are accepted: one line per frame, as PaddleGAN writes it
    (``000/00000000.png (720, 1280, 3)``), or one line per clip, as BasicSR
    writes it (``000 100 (720,1280,3)``: clip, frame count, shape).

    Returns:
        OrderedDict clip -> list of frame names (e.g. '00000000'), in file order.

    Raises:
        DataError: the file is missing or a line fits neither format.
    """
    if not os.path.exists(ann_file):
        raise DataError(f'{ann_file}: meta-info (ann_file) not found')
    clips = OrderedDict()
    text = read_text(ann_file, 'a meta-info text file (ann_file)', DataError)
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        first = line.split()[0]
        per_clip = _PER_CLIP.match(line)
        frame = os.path.splitext(first.rsplit('/', 1)[-1])[0]
        if '/' in first and frame.isdigit():
            clips.setdefault(first.rsplit('/', 1)[0], []).append(frame)
        elif per_clip:
            count = int(per_clip.group(2))
            if count > MAX_FRAMES_PER_CLIP:
                raise DataError(f'{ann_file}:{number}: {count} frames in one clip; expected at '
                                f'most {MAX_FRAMES_PER_CLIP}')
            clips.setdefault(per_clip.group(1), []).extend(f'{i:08d}' for i in range(count))
        else:
            raise DataError(f'{ann_file}:{number}: expected "clip/frame.png (h, w, c)" '
                            f'or "clip frame_count (h,w,c)", got {line!r}')
    return clips


@DATASETS.register
class VSRREDSDataset(BaseVSRDataset):
    """REDS for sliding-window networks: ``num_frames`` LQ frames around one GT frame.

    Every frame of every clip in the partition is one sample with key
    ``'clip/frame'``. Test mode keeps the validation clips of
    ``val_partition`` (REDS4: 000, 011, 015, 020; official: 240-269); train
    mode keeps all the others.

    Args:
        lq_folder: folder of LQ clips (``<clip>/<frame>.png``).
        gt_folder: folder of GT clips.
        ann_file: meta-info file listing the frames (see `read_meta_info`).
        num_frames: input window length (odd).
        preprocess: list of preprocess op configs.
        val_partition: 'REDS4' or 'official'.
        test_mode: keep the validation clips instead of the training clips.
        io_backend: None or 'folder' (read PNG folders) or 'lmdb' / ``{type: lmdb}``
            (``lq_folder`` and ``gt_folder`` are packed stores, see
            `edvr.datasets.packed`).

    Raises:
        ConfigError: even ``num_frames`` or an unknown ``val_partition``.
        DataError: a missing folder, ann_file or clip folder, or a training
            clip shorter than ``num_frames``.
    """

    def __init__(self, lq_folder, gt_folder, ann_file, num_frames, preprocess,
                 val_partition='REDS4', test_mode=False, io_backend=None):
        if int(num_frames) < 1 or int(num_frames) % 2 == 0:
            raise ConfigError(f'VSRREDSDataset.num_frames: expected an odd number, '
                              f'got {num_frames}')
        if val_partition not in PARTITIONS:
            raise ConfigError(f'VSRREDSDataset.val_partition: expected one of '
                              f'{", ".join(PARTITIONS)}, got {val_partition!r}')
        super().__init__(preprocess)
        self.lq_folder = str(lq_folder)
        self.gt_folder = str(gt_folder)
        self.ann_file = str(ann_file)
        self.num_frames = int(num_frames)
        self.val_partition = val_partition
        self.test_mode = bool(test_mode)
        self.io_backend = parse_io_backend(io_backend, 'VSRREDSDataset.io_backend')
        self.data_infos = self.prepare_data_infos()

    def prepare_data_infos(self):
        """One info per frame of the selected clips."""
        require_folders(self.lq_folder, self.gt_folder)
        clips = read_meta_info(self.ann_file)
        val = set(PARTITIONS[self.val_partition])
        chosen = [c for c in clips if (c in val) == self.test_mode]
        if not chosen:
            split = 'test' if self.test_mode else 'train'
            raise DataError(f'{self.ann_file}: no {split} clips for val_partition '
                            f'{self.val_partition} (clips listed: {len(clips)})')
        infos = []
        extra = {'io_backend': 'lmdb'} if self.io_backend == 'lmdb' else {}
        packed = self.io_backend == 'lmdb'
        for clip in chosen:
            for folder in (self.lq_folder, self.gt_folder):
                if packed and open_store(folder).frame_names(clip) is None:
                    raise DataError(f'{folder}: packed store has no clip {clip} '
                                    f'(listed in {self.ann_file})')
                if not packed and not os.path.isdir(os.path.join(folder, clip)):
                    raise DataError(f'{os.path.join(folder, clip)}: clip folder not found '
                                    f'(clip {clip} is listed in {self.ann_file})')
            frames = clips[clip]
            max_frame_num = max(int(f) for f in frames) + 1
            if not self.test_mode and max_frame_num < self.num_frames:
                raise DataError(f'clip {clip}: {max_frame_num} frames are too few for '
                                f'num_frames={self.num_frames}')
            infos.extend(dict(lq_path=self.lq_folder, gt_path=self.gt_folder,
                              key=f'{clip}/{frame}', clip=clip,
                              max_frame_num=max_frame_num, num_frames=self.num_frames,
                              **extra)
                         for frame in frames)
        return infos
