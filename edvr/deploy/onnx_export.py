# SPDX-License-Identifier: Apache-2.0
"""Converting an exported inference model to ONNX (paddle2onnx, checked with onnxruntime).

The deformable convolutions become ONNX ``DeformConv`` (opset 19), which
onnxruntime runs on CPU (checked with 1.31 and 1.32). Two defects of
paddle2onnx 2.1 with Paddle 3.x programs are repaired on the way:

* Paddle stores the ``scale`` of ``bilinear_interp`` as 64-bit floats, which
  the converter rejects ("the 0th elementwise MUST be ir::FloatAttribute"):
  the program is converted from a copy whose 64-bit float attributes are
  marked 32-bit (the values are small exact numbers such as 2.0 and 4.0);
* ``DeformConv`` nodes lose the deformable group count (``offset_group``
  defaults to 1 and onnxruntime refuses the offsets): it is restored from the
  offset tensor's channel count, ``2 * groups * kh * kw``.

Batch, height and width stay dynamic, as in the Paddle model.
"""
import os
import shutil

import numpy as np

from edvr.deploy.export import INFO_EXTENSION, PARAMS_EXTENSION, find_model_files
from edvr.deploy.onnx_runner import onnx_session, require, run_onnx
from edvr.deploy.predictor import Predictor
from edvr.errors import ConfigError, EDVRError, WeightsError
from edvr.utils import stopping, writer
from edvr.utils.paddle_compat import onnx_export_refusal

__all__ = ['export_onnx', 'max_difference', 'onnx_session', 'require_onnx_tools',
           'restore_offset_groups', 'run_onnx']

OPSET = 19  # the first opset with DeformConv


def require_onnx_tools():
    """Check that the packages ONNX export and its check need are installed.

    Raises:
        ConfigError: on Paddle 2 (see `onnx_export_refusal`), or naming the first
            package missing.
    """
    refusal = onnx_export_refusal()
    if refusal:
        raise ConfigError(refusal)
    for module in ('paddle2onnx', 'onnx', 'onnxruntime'):
        require(module, 'ONNX export')


def _program_with_float32_attributes(program, folder):
    """Copy ``program`` (a .json program) into ``folder`` with f64 attributes marked f32."""
    if not program.endswith('.json'):
        raise WeightsError(f'{program}: ONNX export needs a .json program (Paddle 3 export)')
    with open(program, encoding='utf-8') as f:
        text = f.read()
    copy = os.path.join(folder, os.path.basename(program))
    with open(copy, 'w', encoding='utf-8') as f:
        f.write(text.replace('"0.a_f64"', '"0.a_f32"'))
    return copy


def _static_shapes(model):
    """{tensor name: [dims] (0 where unknown)} for the tensors shape inference reaches."""
    import onnx
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {t.name: list(t.dims) for t in inferred.graph.initializer}
    for info in list(inferred.graph.value_info) + list(inferred.graph.input):
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = [d.dim_value if d.HasField('dim_value') else 0 for d in dims]
    return shapes


def restore_offset_groups(model):
    """Set ``offset_group`` on every DeformConv of an onnx ModelProto (in place).

    Returns:
        the number of DeformConv nodes.
    """
    import onnx
    shapes = _static_shapes(model)
    count = 0
    for node in model.graph.node:
        if node.op_type != 'DeformConv':
            continue
        count += 1
        kh, kw = (shapes.get(node.input[1]) or [0, 0, 0, 0])[2:4]
        channels = (shapes.get(node.input[2]) or [0, 0])[1]
        if not kh or not channels or channels % (2 * kh * kw):
            raise WeightsError(f'ONNX DeformConv {node.name}: cannot tell its deformable groups '
                               f'(offset channels {channels}, kernel {kh}x{kw})')
        kept = [a for a in node.attribute if a.name != 'offset_group']
        del node.attribute[:]
        node.attribute.extend(kept + [onnx.helper.make_attribute(
            'offset_group', channels // (2 * kh * kw))])
    return count


def export_onnx(model_path, onnx_path=None):
    """Convert an exported Paddle inference model to ONNX, atomically.

    Args:
        model_path: the exported model (prefix ``DIR/NAME``, a file of it or its folder).
        onnx_path: destination; default ``<prefix>.onnx``.

    The model's ``.edvr.yml`` is copied beside the ``.onnx`` file when they differ.

    Returns:
        the path written.
    """
    require_onnx_tools()
    paddle2onnx, onnx = require('paddle2onnx', 'ONNX export'), require('onnx', 'ONNX export')
    program, params, info = find_model_files(model_path)
    onnx_path = onnx_path or params[:-len(PARAMS_EXTENSION)] + '.onnx'
    folder = os.path.dirname(os.path.abspath(onnx_path))
    if not os.path.isdir(folder):
        raise ConfigError(f'{onnx_path}: the folder {folder} does not exist')
    info_copy = onnx_path[:-len('.onnx')] + INFO_EXTENSION
    copy_info = info and onnx_path.endswith('.onnx') and \
        os.path.abspath(info) != os.path.abspath(info_copy)
    with stopping.task(f'converting {program} to ONNX', f'{onnx_path} was not written'), \
            writer.scratch_folder(onnx_path) as tmp:
        converted = os.path.join(tmp, 'model.onnx')
        paddle2onnx.export(_program_with_float32_attributes(program, tmp), params,
                           save_file=converted, opset_version=OPSET,
                           enable_onnx_checker=True, optimize_tool='None')
        if not os.path.isfile(converted):
            raise EDVRError(f'{program}: paddle2onnx wrote no model')
        model = onnx.load(converted)
        restore_offset_groups(model)
        onnx.checker.check_model(model)
        onnx.save(model, converted)
        if copy_info:
            shutil.copy(info, os.path.join(tmp, 'info'))  # the predictor reads it beside the model
        writer.move_into_place(converted, onnx_path)
        if copy_info:
            writer.move_into_place(os.path.join(tmp, 'info'), info_copy)
    return onnx_path


def max_difference(model_path, onnx_path, shape, seed=0):
    """Largest |ONNX - Paddle| output difference on one random input of ``shape``.

    Args:
        model_path: the exported Paddle model.
        onnx_path: its ONNX conversion.
        shape: input shape (b, t, c, h, w); h and w divisible by the size multiple.
    """
    frames = np.random.default_rng(seed).random(shape, dtype=np.float32)
    paddle_out = Predictor(model_path, device='cpu', runtime='paddle_inference').runner(frames)
    onnx_out = run_onnx(onnx_session(onnx_path), frames)
    if paddle_out.shape != onnx_out.shape:
        raise EDVRError(f'{onnx_path}: output shape {onnx_out.shape} differs from Paddle\'s '
                        f'{paddle_out.shape}')
    return float(np.abs(paddle_out - onnx_out).max())
