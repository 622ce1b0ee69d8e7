# SPDX-License-Identifier: Apache-2.0
"""Tiny EDVR nets, their exported models, a tiny demo dataset and a config that uses it."""
import os

import numpy as np
import paddle
import pytest

from edvr.datasets.demo import make_demo_dataset
from edvr.deploy.export import network_info, save_inference_model
from edvr.models.edvr_net import EDVRNet

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_CONFIG = os.path.join(ROOT, 'configs', 'edvr_demo.yaml')
TINY = dict(nf=8, groups=2, front_RBs=1, back_RBs=1, nframes=5)


def tiny_net(w_tsa=False, seed=0):
    """A tiny EDVRNet in eval mode with non-trivial weights (the DCN offsets are not zero)."""
    paddle.seed(seed)
    net = EDVRNet(w_TSA=w_tsa, **TINY)
    rng = np.random.default_rng(seed)
    for name, param in net.named_parameters():
        if 'conv_offset_mask' in name:  # zero-initialised: give the DCNs real offsets
            param.set_value(rng.normal(0, 0.05, param.shape).astype('float32'))
    net.eval()
    return net


def dygraph(net, x):
    """The network's output for ndarray ``x`` (b, t, c, h, w), as an ndarray."""
    with paddle.no_grad():
        return net(paddle.to_tensor(x)).numpy()


def tiny_overrides(data):
    """`-o` overrides turning the demo config into the tiny net on ``data``."""
    return ['demo_data=null',
            f'dataset.test.lq_folder={data}/REDS4_test_sharp_bicubic/X4',
            f'dataset.test.gt_folder={data}/REDS4_test_sharp/X4',
            f'dataset.test.ann_file={data}/meta_info_REDS_GT.txt',
            'model.generator.nf=8', 'model.generator.groups=2', 'model.generator.front_RBs=1',
            'model.generator.back_RBs=1', 'model.generator.w_TSA=False']


@pytest.fixture(scope='session')
def demo_data(tmp_path_factory):
    """Demo clips: one 7-frame training clip, a 5-frame test clip; GT 32x48, LR 8x12."""
    root = tmp_path_factory.mktemp('demo')
    return make_demo_dataset(str(root), num_train_clips=1, num_frames=7, num_test_frames=5,
                             gt_size=(32, 48))['root']


@pytest.fixture(scope='session')
def tiny_weights(tmp_path_factory):
    """(net, weights file) of the tiny net without TSA."""
    net = tiny_net(w_tsa=False)
    path = str(tmp_path_factory.mktemp('weights') / 'tiny.pdparams')
    paddle.save({'generator': net.state_dict()}, path)
    return net, path


@pytest.fixture(scope='session')
def exported(tmp_path_factory, tiny_weights):
    """(net, model prefix) of the tiny net without TSA exported for paddle.inference."""
    net, _ = tiny_weights
    prefix = str(tmp_path_factory.mktemp('export') / 'tiny')
    save_inference_model(net, prefix, [[1, 5, 3, 16, 24]], network_info(net))
    return net, prefix
