# SPDX-License-Identifier: Apache-2.0
"""Video SR datasets, their preprocess ops and transforms.

Importing this package registers every dataset (DATASETS), preprocess op
(PREPROCESS) and transform (TRANSFORMS).
"""
from edvr.datasets.base import BaseVSRDataset, finalize_sample
from edvr.datasets.folder import VSRFolderDataset
from edvr.datasets.frame_index import (GetFrameIdx, GetFrameIdxwithPadding,
                                       GetNeighboringFramesIdx, padded_frame_indices)
from edvr.datasets.image_io import ReadImageSequence, read_image, write_image
from edvr.datasets.reds import VSRREDSDataset, read_meta_info
from edvr.datasets.repeat import RepeatDataset
from edvr.datasets.transforms import Transforms
from edvr.datasets.vimeo90k import VSRVimeo90KDataset

__all__ = [
    'BaseVSRDataset', 'finalize_sample', 'VSRFolderDataset', 'GetFrameIdx',
    'GetFrameIdxwithPadding', 'GetNeighboringFramesIdx', 'padded_frame_indices',
    'ReadImageSequence', 'read_image', 'write_image', 'VSRREDSDataset', 'read_meta_info',
    'RepeatDataset', 'Transforms', 'VSRVimeo90KDataset',
]
