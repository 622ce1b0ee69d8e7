# SPDX-License-Identifier: Apache-2.0
"""`VSRFolderDataset`: clips as sub-folders of frames (Vid4, UDM10, your own videos)."""
import os

from edvr.datasets.base import BaseVSRDataset, require_folders
from edvr.datasets.packed import open_store, parse_io_backend
from edvr.errors import ConfigError, DataError
from edvr.registry import DATASETS

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.ppm', '.tif', '.tiff')


def list_frames(folder):
    """Sorted image file names in ``folder``."""
    return sorted(n for n in os.listdir(folder)
                  if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith('.'))


@DATASETS.register
class VSRFolderDataset(BaseVSRDataset):
    """Clips stored as ``<lq_folder>/<clip>/<frame>`` with GT in ``<gt_folder>/<clip>/<frame>``.

    Clips may have any number of frames; LQ and GT frames share file names.

    By default (as in PaddleGAN) each clip is one sample (``key`` = clip name,
    ``sequence_length``, ``num_frames``), to be cut with `GetNeighboringFramesIdx`.
    With ``per_frame=True`` every frame is one sample (``key`` = 'clip/frame',
    ``frame_idx``, ``max_frame_num``), for sliding-window evaluation of every
    frame with `GetFrameIdxwithPadding`. Either way the info carries the clip's
    ``frame_names``, which the frame-index ops use instead of a name template.

    Args:
        lq_folder: folder of LQ clips.
        gt_folder: folder of GT clips.
        preprocess: list of preprocess op configs.
        num_frames: frames per sample (default: whole clip; required and odd
            with ``per_frame``).
        times: list the samples this many times.
        per_frame: one sample per frame instead of one per clip.
        io_backend: None or 'folder' (read image folders) or 'lmdb' / ``{type: lmdb}``
            (``lq_folder`` and ``gt_folder`` are packed stores, see
            `edvr.datasets.packed`).

    Raises:
        ConfigError: ``per_frame`` without an odd ``num_frames``.
        DataError: a missing folder, a GT clip missing or of another length, no clips.
    """

    def __init__(self, lq_folder, gt_folder, preprocess, num_frames=None, times=1,
                 per_frame=False, io_backend=None):
        if per_frame and (num_frames is None or int(num_frames) % 2 == 0):
            raise ConfigError(f'VSRFolderDataset.num_frames: per_frame needs an odd number, '
                              f'got {num_frames}')
        super().__init__(preprocess)
        self.lq_folder = str(lq_folder)
        self.gt_folder = str(gt_folder)
        self.num_frames = None if num_frames is None else int(num_frames)
        self.times = int(times)
        self.per_frame = bool(per_frame)
        self.io_backend = parse_io_backend(io_backend, 'VSRFolderDataset.io_backend')
        self.data_infos = self.prepare_data_infos()

    def prepare_data_infos(self):
        """One info per clip (default) or per frame (``per_frame``)."""
        require_folders(self.lq_folder, self.gt_folder)
        packed = self.io_backend == 'lmdb'
        if packed:
            lq_store, gt_store = open_store(self.lq_folder), open_store(self.gt_folder)
            clips = sorted(lq_store.clips)
        else:
            clips = sorted(c for c in os.listdir(self.lq_folder)
                           if os.path.isdir(os.path.join(self.lq_folder, c)))
        extra = {'io_backend': 'lmdb'} if packed else {}
        infos = []
        for clip in clips:
            names = (lq_store.frame_names(clip) if packed
                     else list_frames(os.path.join(self.lq_folder, clip)))
            if not names:
                continue
            gt_clip = os.path.join(self.gt_folder, clip)
            gt_names = gt_store.frame_names(clip) if packed else (
                list_frames(gt_clip) if os.path.isdir(gt_clip) else None)
            if gt_names is None:
                raise DataError(f'{gt_clip}: GT clip folder not found')
            if len(gt_names) != len(names):
                raise DataError(f'{gt_clip}: {len(gt_names)} GT frames but {len(names)} LQ frames')
            common = dict(lq_path=self.lq_folder, gt_path=self.gt_folder, clip=clip,
                          frame_names=names, **extra)
            if self.per_frame:
                infos.extend(dict(common, key=f'{clip}/{os.path.splitext(n)[0]}', frame_idx=i,
                                  max_frame_num=len(names), num_frames=self.num_frames)
                             for i, n in enumerate(names))
            else:
                infos.append(dict(common, key=clip, sequence_length=len(names),
                                  num_frames=self.num_frames or len(names)))
        if not infos:
            raise DataError(f'{self.lq_folder}: no clip folders with frames')
        return infos * self.times
