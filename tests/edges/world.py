# SPDX-License-Identifier: Apache-2.0
"""The inputs every tool of the edge suite starts from: one small, valid file of each kind.

`build_world(root)` writes, under ``root``: a tiny demo dataset (``data/``), a config using
it (``cfg.yaml``, training into ``runs/``), tiny weights (``w.pdparams``), a folder of five LR frames (``frames/``),
a five-frame video (``clip.mp4``) and a 64x64 one (``big.mp4``), the exported model (``model/tiny.*``) and a BasicSR
checkpoint of a tiny EDVR (``edvr.pth``). Each command in `tests.edges.table` works on them.
"""
import hashlib
import os
import shutil

import paddle

from edvr.config import dump_config, load_config
from edvr.deploy.export import network_info, save_inference_model
from tests.convert.source_layers import VARIANTS, random_weights
from tests.convert.torch_writer import save_zip, state_dict
from tests.deploy.video_clips import make_clip
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_net, tiny_overrides


def build_world(root, ffmpeg):
    """Write the valid inputs under ``root``; returns {kind: path}."""
    root = str(root)
    data = make_tiny_data(os.path.join(root, 'data'))
    cfg = load_config(DEMO_CONFIG, tiny_overrides(data, os.path.join(root, 'runs'), 2) +
                      ['log_config.visiual_interval=0'])
    dump_config(cfg, os.path.join(root, 'cfg.yaml'))
    net = tiny_net()
    weights = os.path.join(root, 'w.pdparams')
    paddle.save({'generator': net.state_dict()}, weights)
    frames = os.path.join(root, 'frames')
    shutil.copytree(os.path.join(data, 'REDS4_test_sharp_bicubic', 'X4', '000'), frames)
    video = str(make_clip(ffmpeg, os.path.join(root, 'clip.mp4'), (24, 16), '25', 5))
    big = str(make_clip(ffmpeg, os.path.join(root, 'big.mp4'), (64, 64), '25', 3))
    model = os.path.join(root, 'model', 'tiny')
    save_inference_model(net, model, [[1, 5, 3, 16, 24]], network_info(net))
    pth = os.path.join(root, 'edvr.pth')
    save_zip({'params': state_dict(random_weights(VARIANTS['sr_wo_tsa']))}, pth)
    return dict(root=root, data=data, cfg=os.path.join(root, 'cfg.yaml'), weights=weights,
                frames=frames, video=video, big_video=big, model=model, pth=pth)


def tree_state(root):
    """{relative path: sha1 of the content, or 'dir' / 'link -> target'} of everything under root."""
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                state[rel] = 'link -> ' + os.readlink(path)
            elif os.path.isdir(path):
                state[rel] = 'dir'
            else:
                with open(path, 'rb') as f:
                    state[rel] = hashlib.sha1(f.read()).hexdigest()
    return state
