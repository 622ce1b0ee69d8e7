# SPDX-License-Identifier: Apache-2.0
"""Every difference between the PaddlePaddle versions this project runs on: 2.6.x and 3.x.

Nothing else in the package looks at Paddle's version or probes Paddle for an attribute
(``tests/test_paddle_compat.py`` checks). What differs:

* **The start** (`unsupported_paddle`): Paddle below 2.6, or none, gets one line naming
  the installed version and the install command. Read from the installed package's
  metadata, without importing Paddle, so it runs before anything else.
* **zlib**: Paddle 2.6's ``libpaddle.so`` exports its own zlib; when Python's ``zlib``
  module is first imported after Paddle, it binds to those symbols and decoding a PNG
  with Pillow (scikit-image's photographs, the demo data) segfaults in
  ``inflateReset2``. ``edvr/__init__.py`` imports ``zlib`` first, so any ``import
  edvr...`` before Paddle avoids it (a script that imports Paddle before ``edvr`` can
  ``import zlib`` first itself).
* **Autocast state** (`autocast_enabled`): ``paddle.amp.is_autocast_enabled`` exists on
  3.x only; 2.6 keeps the level on the dygraph tracer.
* **Dygraph-to-static**: 2.6 cannot translate a zero-argument ``super()`` inside code it
  converts (``RuntimeError: super(): no arguments``); a ``forward`` that static export
  traces calls its base class by name (``nn.Conv2D.forward(self, x)``). 2.6 also leaves
  converted ``forward`` methods on the sublayers it traced; `save_static` is the one
  export call and puts the dygraph ones back.
* **Exported programs** (`PROGRAM_EXTENSIONS`, `program_format`, `readable_program`):
  ``paddle.jit.save`` writes ``NAME.pdmodel`` on 2.6 and a PIR ``NAME.json`` on 3.x.
  2.6 cannot read a ``.json`` program; 3.x reads both.
* **Inference** (`inference_config`): one ``paddle.inference.Config`` for both
  (oneDNN off on the CPU, see there). TensorRT is refused on both, for a reason of each
  version (`tensorrt_refusal`).
* **The C++ kernel build** (`cpp_extension_load`, `version_key`): the same
  ``paddle.utils.cpp_extension.load`` on both; the build cache is keyed on the version.
* **CPU math threads** (`set_math_threads`): ``paddle.base.core.set_num_threads``.
* **ONNX export** (`onnx_export_refusal`): Paddle 3 only. paddle2onnx 2.x refuses
  Paddle < 3 at import; its 1.x line (for Paddle 2) stops at opset 18, below the
  ``DeformConv`` (opset 19) that EDVR needs. Running an ``.onnx`` file needs only
  onnxruntime, on either version.

The distributed and AMP calls the project makes (``init_parallel_env``,
``broadcast_object_list``, ``all_gather_object``, ``barrier``, ``DataParallel``,
``amp.auto_cast(level, dtype)``, ``amp.GradScaler``) are the same on both versions.
"""
import functools
import importlib.metadata
import importlib.util
import re

SUPPORTED = 'PaddlePaddle 2.6 or 3.x'
MINIMUM = (2, 6)
INSTALL_COMMAND = ('python -m pip install paddlepaddle==3.3.1 (CPU; GPU builds: see the '
                   'README, "Install")')
DISTRIBUTIONS = ('paddlepaddle', 'paddlepaddle-gpu')
# what paddle.jit.save writes: the program of Paddle 3 (PIR) and of Paddle 2
PIR_PROGRAM, LEGACY_PROGRAM = '.json', '.pdmodel'
PROGRAM_EXTENSIONS = (PIR_PROGRAM, LEGACY_PROGRAM)


def parse_version(text):
    """'2.6.2' -> (2, 6, 2); '3.0.0rc1' -> (3, 0, 0); a develop build ('0.0.0') -> (99,)."""
    numbers = tuple(int(n) for n in re.findall(r'\d+', str(text).split('+')[0])[:3])
    return (99,) if not any(numbers) else numbers


def _paddle_found():
    """Whether ``import paddle`` would find a module (without importing it)."""
    try:
        return importlib.util.find_spec('paddle') is not None
    except (ImportError, ValueError):
        return False


def installed_paddle():
    """[(distribution, version)] of the installed Paddle packages, read without importing
    Paddle; [] when ``import paddle`` would find nothing."""
    if not _paddle_found():
        return []
    found = []
    for name in DISTRIBUTIONS:
        try:
            found.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def unsupported_paddle():
    """The one-line reason this Paddle cannot run the project, or None when it can.

    A ``paddle`` module without package metadata (a source build) is trusted.
    """
    if not _paddle_found():
        return f'PaddlePaddle is not installed; edvr needs {SUPPORTED}: {INSTALL_COMMAND}'
    found = installed_paddle()
    old = [f'{name} {version}' for name, version in found if parse_version(version) < MINIMUM]
    if old:
        return (f'{" and ".join(old)} installed; edvr needs {SUPPORTED}: '
                f'{INSTALL_COMMAND}')
    return None


def two_paddles_warning():
    """A warning line when both the CPU and the GPU package are installed, else None."""
    found = installed_paddle()
    if len(found) < 2:
        return None
    both = ' and '.join(f'{name} {version}' for name, version in found)
    return (f'warning: {both} are both installed and share one "paddle" folder; keep one '
            f'(python -m pip uninstall -y paddlepaddle paddlepaddle-gpu, then install one)')


@functools.lru_cache(maxsize=None)
def paddle_version():
    """The imported Paddle's version as a tuple, e.g. (3, 3, 1) (read once: the layers ask
    on every call)."""
    import paddle
    return parse_version(paddle.__version__)


def version_key():
    """The imported Paddle's full version string (for build cache keys)."""
    import paddle
    return str(paddle.__version__)


def is_paddle2():
    """Whether the imported Paddle is a 2.x release."""
    return paddle_version() < (3,)


def autocast_enabled():
    """Whether the current dygraph code runs under ``paddle.amp.auto_cast``."""
    import paddle
    if not is_paddle2():
        return paddle.amp.is_autocast_enabled()
    from paddle.base import core
    from paddle.base.framework import _dygraph_tracer
    tracer = _dygraph_tracer()
    return bool(tracer) and tracer._amp_level != core.AmpLevel.O0


def save_static(layer, input_spec, path):
    """Trace ``layer`` into one static graph and write it with ``paddle.jit.save`` at
    ``path`` (``path`` + `program_format()` and ``.pdiparams``).

    The layer and its sublayers keep their dygraph ``forward`` afterwards: 3.x leaves
    the converted one on the layer, 2.6 on every sublayer it traced (whose converted code
    then fails in dygraph calls). The traced code must not call a zero-argument
    ``super()`` (2.6 cannot translate it): call the base class by name.
    """
    import paddle
    layers = [layer] + list(layer.sublayers())
    own = [sub.__dict__.get('forward') for sub in layers]
    try:
        static = paddle.jit.to_static(layer, input_spec=input_spec, full_graph=True)
        paddle.jit.save(static, path)
    finally:
        for sub, forward in zip(layers, own):
            if forward is None:
                sub.__dict__.pop('forward', None)
            else:
                sub.forward = forward


def saved_suffixes():
    """What ``paddle.jit.save`` writes here, program first: ``.json`` and ``.pdiparams`` on
    3.x; ``.pdmodel``, ``.pdiparams`` and ``.pdiparams.info`` (parameter names) on 2.6."""
    if is_paddle2():
        return LEGACY_PROGRAM, '.pdiparams', '.pdiparams.info'
    return PIR_PROGRAM, '.pdiparams'


def program_format():
    """The program extension ``paddle.jit.save`` writes here: '.json' or '.pdmodel'."""
    return saved_suffixes()[0]


def readable_program(program):
    """None when this Paddle's ``paddle.inference`` reads ``program``, else the one-line reason."""
    if program.endswith(PIR_PROGRAM) and is_paddle2():
        return (f'{program}: a Paddle 3 (PIR .json) model cannot be read by the installed '
                f'Paddle {version_key()}; export it again here with tools/export_model.py, '
                f'or run it with Paddle 3')
    return None


def inference_config(program, params, gpu_card=None, num_threads=1):
    """A ``paddle.inference.Config`` for an exported model.

    Args:
        program, params: the model's files (``.json`` or ``.pdmodel``; ``.pdiparams``).
        gpu_card: GPU index, or None for the CPU.
        num_threads: CPU math threads.
    """
    from paddle import inference
    config = inference.Config(program, params)
    if gpu_card is not None:
        config.enable_use_gpu(256, gpu_card)
    else:
        config.disable_gpu()
        # With oneDNN, Paddle 3.3's CPU predictor segfaults in
        # conv_activation_onednn_fuse_pass (conv + leaky_relu) for this model;
        # deleting only that pass then fails at run time (the oneDNN PIR
        # executor rejects an op attribute: "ConvertPirAttribute2RuntimeAttribute
        # not support ArrayAttribute<DoubleAttribute>"). Plain CPU kernels work,
        # on 2.6 as well.
        config.disable_mkldnn()
        config.set_cpu_math_library_num_threads(int(num_threads))
    config.disable_glog_info()
    return config


def tensorrt_refusal(tensorrt):
    """The one-line reason ``--run_mode trt_<tensorrt>`` is refused on this Paddle."""
    why = ('Paddle 2.6 .pdmodel models: not built or tested here' if is_paddle2()
           else 'Paddle 3 .json models need paddle.tensorrt.convert')
    return (f'--run_mode trt_{tensorrt}: TensorRT is not supported ({why}); '
            f'use --run_mode fluid with --device gpu')


def set_math_threads(num_threads):
    """Set Paddle's CPU math threads (``paddle.base.core.set_num_threads`` on both versions)."""
    from paddle.base import core
    core.set_num_threads(int(num_threads))


def cpp_extension_load(**kwargs):
    """``paddle.utils.cpp_extension.load(**kwargs)``: the same call on 2.6 and 3.x."""
    from paddle.utils import cpp_extension
    return cpp_extension.load(**kwargs)


def onnx_export_refusal():
    """None when ONNX export can run with this Paddle, else the one-line reason.

    On Paddle 2.6 no paddle2onnx can convert EDVR: 2.x refuses Paddle < 3 at import,
    and 1.x (the line for Paddle 2) writes up to opset 18 while the deformable
    convolutions need ONNX ``DeformConv`` (opset 19); 1.3.1 aborts the process there.
    """
    if not is_paddle2():
        return None
    return (f'--onnx: ONNX export needs Paddle 3 (installed: Paddle {version_key()}); '
            f'paddle2onnx for Paddle 2 writes up to opset 18 and the deformable convolutions '
            f'need DeformConv (opset 19); run the exported Paddle model instead '
            f'(tools/inference.py --model_path)')
