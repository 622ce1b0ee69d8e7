# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the deploy tests: a tiny demo dataset, tiny weights and their exported model."""
import paddle
import pytest

from edvr.deploy.export import network_info, network_record, save_inference_model
from tests.tiny import TINY, make_tiny_data, tiny_net


@pytest.fixture(scope='session')
def demo_data(tmp_path_factory):
    """Demo clips: one 7-frame training clip, a 5-frame test clip; GT 32x48, LR 8x12."""
    return make_tiny_data(tmp_path_factory.mktemp('demo'), num_train_clips=1)


@pytest.fixture(scope='session')
def tiny_weights(tmp_path_factory):
    """(net, weights file) of the tiny net without TSA."""
    net = tiny_net(w_tsa=False)
    path = str(tmp_path_factory.mktemp('weights') / 'tiny.pdparams')
    paddle.save({'generator': net.state_dict()}, path)
    return net, path


@pytest.fixture(scope='session')
def exported(tmp_path_factory, tiny_weights):
    """(net, model prefix) of the tiny net without TSA exported for paddle.inference only,
    as exports were made before they recorded their network (no ``.pdparams``)."""
    net, _ = tiny_weights
    prefix = str(tmp_path_factory.mktemp('export') / 'tiny')
    save_inference_model(net, prefix, [[1, 5, 3, 16, 24]], network_info(net))
    return net, prefix


@pytest.fixture(scope='session')
def exported_with_network(tmp_path_factory, tiny_weights):
    """(net, model prefix) of the tiny net without TSA exported as tools/export_model.py
    exports it: with its network record and its weights in the project's format."""
    net, _ = tiny_weights
    prefix = str(tmp_path_factory.mktemp('export_net') / 'tiny')
    save_inference_model(net, prefix, [[1, 5, 3, 16, 24]], network_info(net),
                         network_record(dict(name='EDVRNet', w_TSA=False, **TINY)))
    return net, prefix
