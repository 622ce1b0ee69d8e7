# SPDX-License-Identifier: Apache-2.0
"""A reference frame other than the middle one (``center``) is honoured everywhere.

EDVRNet with ``nframes=5, center=1`` is compared, for values, with two oracles
that take the configured centre: the straightforward Paddle EDVR
(`reference_edvr.ReferenceEDVR`) and BasicSR's forward pass in float64 numpy
(`numpy_edvr.BasicSREDVR`). The centre decides the PCD reference features,
TSA's reference embedding and the upsampled residual base.
"""
import numpy as np
import paddle
import pytest

from edvr.convert.basicsr import basicsr_to_paddle
from edvr.models.edvr_net import EDVRNet
from tests.convert.numpy_edvr import BasicSREDVR
from tests.convert.source_layers import VARIANTS, random_weights
from tests.models.reference_edvr import ReferenceEDVR

CENTER = 1


def _weights(arch, seed):
    """Random BasicSR-named weights scaled so features stay lively through the tiny net."""
    return {k: v * np.float32(2.5) if not k.endswith('conv_offset.weight') else v
            for k, v in random_weights(arch, seed=seed).items()}


def _paddle_state(weights):
    return {k: paddle.to_tensor(v) for k, v in basicsr_to_paddle(weights, 'random').items()}


def _input(arch, seed=3):
    rng = np.random.default_rng(seed)
    return rng.random((1, arch['nframes'], 3, 8, 8)).astype(np.float32)


def _net(arch, center):
    net = EDVRNet(in_nf=3, out_nf=3, scale_factor=4, center=center, **arch)
    net.eval()
    return net


def _run(net, x):
    with paddle.no_grad():
        return net(paddle.to_tensor(x)).numpy()


@pytest.mark.parametrize('variant', ['sr_tsa', 'sr_wo_tsa'])
def test_non_middle_center_equals_basicsr_numpy_oracle(variant):
    arch = VARIANTS[variant]
    weights = _weights(arch, seed=7)
    state = _paddle_state(weights)
    x = _input(arch)
    net = _net(arch, CENTER)
    net.set_state_dict(state)
    ours = _run(net, x)
    expected = BasicSREDVR(weights, dict(arch, center=CENTER))(x)
    np.testing.assert_allclose(ours, expected, atol=2e-4, rtol=0)
    # The centre changes the output well beyond that tolerance: the check is not vacuous.
    middle = BasicSREDVR(weights, arch)(x)
    assert np.abs(middle - expected).max() > 1e-2


@pytest.mark.parametrize('w_tsa', [True, False])
def test_non_middle_center_equals_paddle_reference(w_tsa):
    arch = VARIANTS['sr_tsa' if w_tsa else 'sr_wo_tsa']
    net = _net(arch, CENTER)
    net.set_state_dict(_paddle_state(_weights(arch, seed=5)))
    ref = ReferenceEDVR(nf=arch['nf'], nframes=arch['nframes'], groups=arch['groups'],
                        front_RBs=arch['front_RBs'], back_RBs=arch['back_RBs'],
                        center=CENTER, w_TSA=w_tsa)
    ref.set_state_dict(net.state_dict())
    ref.eval()
    x = _input(arch, seed=4)
    ours, expected = _run(net, x), _run(ref, x)
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)
    middle = ReferenceEDVR(nf=arch['nf'], nframes=arch['nframes'], groups=arch['groups'],
                           front_RBs=arch['front_RBs'], back_RBs=arch['back_RBs'], w_TSA=w_tsa)
    middle.set_state_dict(net.state_dict())
    middle.eval()
    assert np.abs(_run(middle, x) - expected).max() > 1e-2


def test_tsa_reference_embedding_is_the_center_frame():
    """TSA alone: only the frame at ``center`` feeds the reference embedding."""
    arch = VARIANTS['sr_tsa']
    weights = _weights(arch, seed=9)
    state = _paddle_state(weights)
    net = _net(arch, CENTER)
    net.set_state_dict(state)
    aligned = np.random.default_rng(2).standard_normal((1, 5, arch['nf'], 8, 8)).astype(np.float32)
    with paddle.no_grad():
        ours = net.TSAModule(paddle.to_tensor(aligned)).numpy()
    expected = BasicSREDVR(weights, dict(arch, center=CENTER)).tsa(aligned.astype(np.float64))
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)
    other = BasicSREDVR(weights, arch).tsa(aligned.astype(np.float64))
    assert np.abs(other - expected).max() > 1e-2


@pytest.mark.parametrize('variant, size', [('predeblur', 8), ('deblur_hr_in', 16)])
def test_predeblur_equals_basicsr_numpy_oracle(variant, size):
    """The pre-deblurring pyramid (and its HR_in strided start) against BasicSR's, with a
    non-middle centre."""
    arch = VARIANTS[variant]
    weights = _weights(arch, seed=7)
    net = EDVRNet(in_nf=3, out_nf=3, scale_factor=1 if arch['HR_in'] else 4, center=CENTER,
                  **arch)
    net.eval()
    net.set_state_dict(_paddle_state(weights))
    x = np.random.default_rng(3).random((1, arch['nframes'], 3, size, size)).astype(np.float32)
    expected = BasicSREDVR(weights, dict(arch, center=CENTER))(x)
    # float32 against float64 through the longer pre-deblur path: up to 1.1e-3 apart; a
    # missing activation or a sign flipped in the pyramid moves the output by far more
    np.testing.assert_allclose(_run(net, x), expected, atol=3e-3, rtol=0)


def test_predeblur_defaults():
    """PredeblurResNetPyramid() alone: 3 input channels, 64 features, LR input."""
    from edvr.models.predeblur import PredeblurResNetPyramid
    pyramid = PredeblurResNetPyramid()
    assert pyramid.conv_first.weight.shape == [64, 3, 3, 3] and not pyramid.HR_in
    assert not hasattr(pyramid, 'conv_first_1')
