# SPDX-License-Identifier: Apache-2.0
"""A video prepared without LQ frames, prepared again with --lq, gains its LQ clip (a
finished clip is skipped only when every folder asked for is there)."""
import os

import numpy as np

from edvr.prepare.video import prepare_video
from edvr.utils.imresize import imresize
from tests.prepare.prep_trees import read_rgb
from tests.prepare.test_prepare_video import write_video


def test_a_clip_prepared_without_lq_gets_its_lq_on_a_second_run(tmp_path):
    video = str(tmp_path / 'walk.avi')
    write_video(video, frames=3)
    root = tmp_path / 'mine'
    first = prepare_video(video, str(root))
    assert (first['skipped'], first['frames'], first['lq']) == (False, 3, None)
    assert not (root / 'BIx4').exists()
    second = prepare_video(video, str(root), lq=True)
    assert (second['skipped'], second['frames']) == (False, 3)
    assert second['lq'] == os.path.join(str(root), 'BIx4', 'walk')
    assert sorted(os.listdir(root / 'BIx4' / 'walk')) == [f'{i:08d}.png' for i in range(3)]
    gt = read_rgb(str(root / 'GT' / 'walk' / '00000002.png'))
    np.testing.assert_array_equal(read_rgb(str(root / 'BIx4' / 'walk' / '00000002.png')),
                                  imresize(gt, 1 / 4))
    assert prepare_video(video, str(root), lq=True)['skipped'] is True   # now complete
