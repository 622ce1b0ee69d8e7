# SPDX-License-Identifier: Apache-2.0
"""pad_to_multiple: exact shapes, reflected values, crop boxes; no-op on multiples."""
import numpy as np
import pytest

from edvr.utils.padding import CropBox, pad_to_multiple
from tests.tiny import dygraph, tiny_net


def test_shapes_and_box_split_between_sides():
    frames = np.arange(2 * 3 * 1 * 5 * 7, dtype=np.float32).reshape(2, 3, 1, 5, 7)
    padded, box = pad_to_multiple(frames, 16, scale=4)
    assert padded.shape == (2, 3, 1, 16, 16)
    # 11 rows: 5 above, 6 below; 9 columns: 4 left, 5 right.
    assert box == CropBox(top=20, left=16, height=20, width=28)
    np.testing.assert_array_equal(padded[..., 5:10, 4:11], frames)
    # Reflection without repeating the edge: the row above the image is row 1.
    np.testing.assert_array_equal(padded[..., 4, 4:11], frames[..., 1, :])
    np.testing.assert_array_equal(padded[..., 5:10, 3], frames[..., :, 1])
    np.testing.assert_array_equal(padded[..., 10, 4:11], frames[..., 3, :])


def test_lr_18x22_to_multiple_of_4():
    frames = np.random.default_rng(0).random((1, 5, 3, 18, 22)).astype(np.float32)
    padded, box = pad_to_multiple(frames, 4, scale=4)
    assert padded.shape == (1, 5, 3, 20, 24)
    assert box == CropBox(4, 4, 72, 88)
    np.testing.assert_array_equal(padded, np.pad(
        frames, [(0, 0)] * 3 + [(1, 1), (1, 1)], mode='reflect'))
    assert box.crop(np.zeros((1, 3, 80, 96))).shape == (1, 3, 72, 88)


def test_multiple_already_is_untouched():
    frames = np.ones((1, 5, 3, 16, 24), np.uint8)
    padded, box = pad_to_multiple(frames, 4, scale=4)
    assert padded is frames
    assert box == CropBox(0, 0, 64, 96)
    out = np.arange(64 * 96).reshape(1, 64, 96)
    np.testing.assert_array_equal(box.crop(out), out)


def test_one_pixel_side_repeats():
    frames = np.arange(3, dtype=np.float32).reshape(1, 1, 1, 1, 3)
    padded, box = pad_to_multiple(frames, 4)
    assert padded.shape == (1, 1, 1, 4, 4)
    np.testing.assert_array_equal(box.crop(padded), frames)
    np.testing.assert_array_equal(padded[0, 0, 0], [[0, 1, 2, 2]] * 4)


def test_padded_then_cropped_equals_unpadded_net_output():
    net = tiny_net()
    frames = np.random.default_rng(1).random((1, 5, 3, 16, 24)).astype(np.float32)
    padded, box = pad_to_multiple(frames, net.size_multiple, scale=4)
    np.testing.assert_array_equal(box.crop(dygraph(net, padded)), dygraph(net, frames))


@pytest.mark.parametrize('shape', [(1, 5, 3, 90, 158), (2, 3, 3, 1, 7), (1, 5, 3, 16, 12)])
def test_tensors_pad_and_crop_as_arrays_do(shape):
    """Training-time validation (tensors) and inference (arrays) share one padding rule."""
    import paddle
    from edvr.utils.padding import run_padded
    frames = np.random.default_rng(3).random(shape).astype(np.float32)
    want, box = pad_to_multiple(frames, 4, scale=2)
    got, tensor_box = pad_to_multiple(paddle.to_tensor(frames), 4, scale=2)
    assert tensor_box == box
    np.testing.assert_array_equal(got.numpy(), want)

    def upscale(x):  # (b, t, c, h, w) -> (b, c, 2h, 2w): the centre frame, each pixel doubled
        centre = x[:, x.shape[1] // 2]
        return centre.repeat(2, axis=-1).repeat(2, axis=-2) if isinstance(x, np.ndarray) else \
            paddle.repeat_interleave(paddle.repeat_interleave(centre, 2, axis=-1), 2, axis=-2)
    for source in (frames, paddle.to_tensor(frames)):
        out, scale = run_padded(upscale, source, 4)
        out = out if isinstance(out, np.ndarray) else out.numpy()
        assert scale == 2
        np.testing.assert_array_equal(out, upscale(frames))
