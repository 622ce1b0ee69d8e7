# SPDX-License-Identifier: Apache-2.0
"""EDVRNet's arguments: each refusal as a whole line, the bounds of each, what is derived."""
import json
import os

import numpy as np
import paddle
import pytest

from edvr.errors import ConfigError, DataError
from edvr.models.edvr_net import EDVRNet
from tests.tiny import TINY

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden_edvr_keys.json')


def refusal(error, fn, *args, **kwargs):
    with pytest.raises(error) as info:
        fn(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize('name, value, lowest', [
    ('in_nf', 0, 1), ('out_nf', 0, 1), ('scale_factor', 0, 1), ('nf', 0, 1), ('nframes', 0, 1),
    ('groups', 0, 1), ('front_RBs', -1, 0), ('back_RBs', -1, 0), ('center', -1, 0),
    ('nf', 4097, 1), ('back_RBs', 4097, 0), ('nf', 8.0, 1), ('groups', True, 1),
    ('nframes', None, 1), ('front_RBs', '1', 0)])
def test_each_argument_out_of_range_is_named_with_its_range(name, value, lowest):
    assert refusal(ConfigError, EDVRNet, **dict(TINY, **{name: value})) == \
        f'EDVRNet: {name}={value!r}; expected a whole number from {lowest} to 4096'


def test_the_bounds_themselves_are_accepted():
    net = EDVRNet(in_nf=1, out_nf=1, nf=1, groups=1, nframes=1, front_RBs=0, back_RBs=0,
                  center=0, w_TSA=False)
    assert (net.center, net.nframes, net.scale_factor, net.size_multiple) == (0, 1, 4, 4)
    assert net.conv_first.weight.shape == [1, 1, 3, 3] and net.conv_last.weight.shape[0] == 1


def test_combinations_are_refused_in_one_line():
    assert refusal(ConfigError, EDVRNet, **dict(TINY, HR_in=True, scale_factor=1)) == \
        'EDVRNet: HR_in=True needs predeblur=True'
    assert refusal(ConfigError, EDVRNet, **dict(TINY, scale_factor=2)) == \
        'EDVRNet: scale_factor=2 is not supported with HR_in=False; expected 4'
    assert refusal(ConfigError, EDVRNet, **dict(TINY, predeblur=True, HR_in=True)) == \
        'EDVRNet: scale_factor=4 is not supported with HR_in=True; expected 1'
    assert refusal(ConfigError, EDVRNet, **dict(TINY, nf=9)) == \
        'EDVRNet: nf=9 must be divisible by groups=2'
    assert refusal(ConfigError, EDVRNet, **dict(TINY, center=5)) == \
        'EDVRNet: center=5 must lie in [0, 4] for nframes=5'


@pytest.mark.parametrize('nframes, center, expected', [(5, None, 2), (7, None, 3), (4, None, 2),
                                                        (5, 4, 4), (5, 0, 0), (1, None, 0)])
def test_the_reference_frame(nframes, center, expected):
    net = EDVRNet(**dict(TINY, nframes=nframes, center=center, w_TSA=False))
    assert net.center == expected and net.nframes == nframes


def test_flags_and_the_size_multiple():
    net = EDVRNet(**dict(TINY, predeblur=1, HR_in=1, scale_factor=1, w_TSA=0))
    assert (net.predeblur, net.HR_in, net.w_TSA, net.size_multiple) == (True, True, False, 16)
    assert refusal(DataError, net, paddle.zeros([1, 5, 3, 8, 16])) == (
        'EDVRNet input frames are 8x16; height and width must be divisible by 16 (pad the frames)')
    assert net(paddle.zeros([1, 5, 3, 16, 16])).shape == [1, 3, 16, 16]
    net = EDVRNet(**TINY)
    assert refusal(DataError, net, paddle.zeros([1, 5, 3, 8, 6])) == (
        'EDVRNet input frames are 8x6; height and width must be divisible by 4 (pad the frames)')


def test_the_defaults_are_paddlegans_edvr_m_with_tsa():
    """A config that gives no arguments gets PaddleGAN's defaults: EDVR-M with TSA."""
    with open(GOLDEN) as f:
        golden = json.load(f)['edvr_m_w_tsa']['params']
    assert [[k, list(v.shape)] for k, v in EDVRNet().state_dict().items()] == golden


def test_the_largest_value_is_accepted():
    net = EDVRNet(**dict(TINY, in_nf=4096, w_TSA=False))
    assert net.conv_first.weight.shape == [8, 4096, 3, 3]


def test_kernels_are_pinned_on_every_layer():
    net = EDVRNet(**dict(TINY, dcn_kernel='sampling', conv_kernel='direct'))
    kinds = {(type(layer).__name__, layer.kernel) for layer in net.sublayers()
             if hasattr(layer, 'kernel')}
    assert kinds == {('ModulatedDeformConv2D', 'sampling'), ('Conv2D', 'direct')}
    assert {layer.kernel for layer in EDVRNet(**TINY).sublayers() if hasattr(layer, 'kernel')} == {None}
    assert refusal(ConfigError, EDVRNet, **dict(TINY, dcn_kernel='direct')) == \
        "EDVRNet: dcn_kernel='direct'; expected one of auto, paddle, sampling, cpp"


def test_tsa_fusion_defaults_are_paddlegans():
    """TSAFusion() alone is EDVR-M's TSA module: 64 channels, 5 frames, centre 2."""
    from edvr.models.tsa_fusion import TSAFusion
    with open(GOLDEN) as f:
        golden = [[k[len('TSAModule.'):], shape] for k, shape in json.load(f)['edvr_m_w_tsa']['params']
                  if k.startswith('TSAModule.')]
    tsa = TSAFusion()
    assert [[k, list(v.shape)] for k, v in tsa.state_dict().items()] == golden
    assert tsa.center == 2


def test_pcd_align_defaults_and_every_dcn_counted_once_in_the_offset_mean():
    """PCDAlign() alone is EDVR-M's alignment module; the logged DCN offset is the mean over
    its four DCNs (levels 3, 2, 1 and the cascade), each once."""
    from edvr.models.pcd_align import PCDAlign
    with open(GOLDEN) as f:
        golden = [[k[len('PCDModule.'):], shape] for k, shape in json.load(f)['edvr_m_w_tsa']['params']
                  if k.startswith('PCDModule.')]
    assert [[k, list(v.shape)] for k, v in PCDAlign().state_dict().items()] == golden
    paddle.seed(6)
    net = EDVRNet(**TINY)
    pcd = net.PCDModule
    layers = [pcd.PCD_Align_L3_dcn, pcd.PCD_Align_L2_dcn, pcd.PCD_Align_L1_dcn,
              pcd.PCD_Align_cascade_dcn]
    for layer, offset in zip(layers, (0.1, 0.2, 0.3, 0.4)):
        bias = np.zeros(layer.conv_offset_mask.bias.shape, 'float32')
        bias[:2 * len(bias) // 3] = offset                    # offsets; the rest is the mask
        layer.conv_offset_mask.bias.set_value(bias)
    net(paddle.rand([1, 5, 3, 8, 8]))
    assert net.get_dcn_offset_mean() == pytest.approx(0.25, abs=1e-5)   # not 0.225, 0.275


def test_block_defaults_and_the_conv_initialisation():
    """The blocks alone have PaddleGAN's sizes; conv biases start uniform in +-1/sqrt(fan_in)
    like the weights (PyTorch's recipe, which EDVR's published training used)."""
    from edvr.models.blocks import DCNPack, ResidualBlockNoBN, conv2d
    assert ResidualBlockNoBN().conv1.weight.shape == [64, 64, 3, 3]
    pack = DCNPack()
    assert pack.conv_offset_mask.weight.shape == [3 * 8 * 9, 64, 3, 3]
    assert pack.dcn.weight.shape == [64, 64, 3, 3] and pack.dcn.deformable_groups == 8
    paddle.seed(3)
    conv = conv2d(16, 32, 3)
    bias, bound = conv.bias.numpy(), 1 / np.sqrt(16 * 9)
    assert np.abs(bias).max() <= bound and np.abs(bias).max() > bound / 2

