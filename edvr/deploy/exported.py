# SPDX-License-Identifier: Apache-2.0
"""Which runtime runs an exported model, and opening it with that runtime.

An export carries its program (``NAME.json``, or ``NAME.pdmodel`` on Paddle 2.6) with
``NAME.pdiparams``, run by ``paddle.inference`` (CPU or GPU) and, converted, by ONNX
runtimes. Exports made by this version also carry the generator's weights in the
project's format (``NAME.pdparams``) and, in ``NAME.edvr.yml``, its constructor
arguments (``network``) and the SHA-256 of those weights. On the CPU such an export is
rebuilt as the library's network and run as `Predictor.from_config` runs it: the C++
kernels and the per-frame feature cache, about 4-5x faster than ``paddle.inference``
with outputs equal to float rounding (figures in benchmarks/README.md).

Runtimes (``runtime=``):

* ``'auto'``: the library on the CPU when the export carries its network, else
  ``paddle.inference`` (older exports, GPUs);
* ``'library'``: the library's network on the chosen device; an export without a
  network record is refused in one line;
* ``'paddle_inference'``: the program, as ``paddle.inference`` runs it.

A ``.onnx`` file always runs with onnxruntime on the CPU.
"""
import os

import paddle

from edvr.deploy.export import INFO_EXTENSION, WEIGHTS_EXTENSION, file_sha256, find_model_files
from edvr.deploy.runners import DygraphRunner, InferenceRunner, parse_device, read_info
from edvr.errors import ConfigError, WeightsError

RUNTIMES = ('auto', 'library', 'paddle_inference')


def check_runtime(runtime):
    """Raise ConfigError unless ``runtime`` is one of `RUNTIMES`."""
    if runtime not in RUNTIMES:
        raise ConfigError(f'runtime {runtime!r}: expected one of {", ".join(RUNTIMES)}')


def choose_runtime(runtime, card, info):
    """'library' or 'paddle_inference' for ``runtime`` on device ``card`` ('cpu' or an index)."""
    if runtime != 'auto':
        return runtime
    return 'library' if card == 'cpu' and 'network' in info else 'paddle_inference'


def open_exported(model_path, device=None, num_threads=None, runtime='auto',
                  feature_cache_mib=0):
    """The runner of an exported model and what its ``.edvr.yml`` says.

    Args:
        model_path: ``DIR/NAME`` (or its program/params file, or a folder holding one
            model), or a ``.onnx`` file.
        device: 'cpu', 'gpu' or 'gpu:N'; None: the GPU if there is one.
        num_threads: CPU math threads.
        runtime: one of `RUNTIMES`.
        feature_cache_mib: memory for per-frame features (library runtime only).

    Returns:
        (runner, info dict, info file or None, the runtime used: 'library',
        'paddle_inference' or 'onnxruntime').

    Raises:
        WeightsError: missing or damaged model files, weights that do not match the
            export, or ``runtime='library'`` for an export without a network record.
        ConfigError: a runtime or device this model or build cannot use.
    """
    check_runtime(runtime)
    if str(model_path).endswith('.onnx'):
        if runtime != 'auto':
            raise ConfigError(f'--runtime {runtime}: {model_path} is an ONNX model, run by '
                              f'onnxruntime; give the Paddle model DIR/NAME instead')
        from edvr.deploy.onnx_runner import OnnxRunner, onnx_model_files
        _, info_file = onnx_model_files(str(model_path))
        runner = OnnxRunner(str(model_path), device, num_threads)
        return runner, read_info(info_file), info_file, 'onnxruntime'
    program, params, info_file = find_model_files(model_path)
    info = read_info(info_file)
    card = parse_device(device)
    chosen = choose_runtime(runtime, card, info)
    if chosen == 'paddle_inference':
        return InferenceRunner(program, params, device, num_threads), info, info_file, chosen
    if 'network' not in info:
        raise WeightsError(f'{info_file or program}: exported without the network record '
                           f'that --runtime library needs (made by an older version); '
                           f'export it again, or use --runtime paddle_inference')
    paddle.set_device('cpu' if card == 'cpu' else f'gpu:{card}')
    net = library_network(info, info_file)
    return DygraphRunner(net, num_threads, feature_cache_mib), info, info_file, chosen


def library_network(info, info_file):
    """The export's network rebuilt from ``info['network']`` with the weights beside it.

    The weights (``NAME.pdparams`` beside ``NAME.edvr.yml``) are checked against the
    recorded SHA-256, read by the restricted reader and checked key by key and shape
    by shape; the network's frames, scale and size multiple must equal the record.
    """
    from edvr import components  # noqa: F401  (registers every component)
    from edvr.registry import NETWORKS, build_from_config
    from edvr.weights import generator_state, read_state, set_generator_state

    weights = info_file[:-len(INFO_EXTENSION)] + WEIGHTS_EXTENSION
    fallback = 'export the model again, or use --runtime paddle_inference'
    if not os.path.isfile(weights):
        raise WeightsError(f'{weights}: weights of the exported network not found (named by '
                           f'{os.path.basename(info_file)}); {fallback}')
    if file_sha256(weights) != info['weights_sha256']:
        raise WeightsError(f'{weights}: does not match {os.path.basename(info_file)} (its '
                           f'SHA-256 differs: changed, or from another export); {fallback}')
    try:
        net = build_from_config(info['network'], NETWORKS, where=f'{info_file}: network')
    except ConfigError as exc:
        raise WeightsError(str(exc)) from None
    set_generator_state(net, generator_state(read_state(weights), weights), weights)
    facts = {'num_frames': getattr(net, 'nframes', None),
             'scale': getattr(net, 'scale_factor', None),
             'size_multiple': getattr(net, 'size_multiple', None)}
    wrong = [f'{key} {info[key]} vs network {facts[key]}' for key in facts
             if key in info and facts[key] is not None and int(facts[key]) != info[key]]
    if wrong:
        raise WeightsError(f'{info_file}: the recorded network does not fit the other facts '
                           f'({"; ".join(wrong)}); {fallback}')
    net.eval()
    return net
