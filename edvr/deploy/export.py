# SPDX-License-Identifier: Apache-2.0
"""Exporting trained networks as static Paddle inference models.

`export_model` builds the config's model, loads the weights and writes one
inference model per entry of the config's ``export_model`` list (PaddleGAN's
key, e.g. ``[{name: generator, inputs_num: 1}]``) under
``<output_dir>/<model_name>``: ``.json`` (the program; ``.pdmodel`` on Paddle
2.6), ``.pdiparams`` (its weights), ``.edvr.yml`` (what the `Predictor`
needs to know: frames per window, scale, size multiple, value range) and, for a
network built from the config, ``.pdparams``: the same weights in the project's
weights format, whose SHA-256 and the network's constructor arguments the
``.edvr.yml`` records, so that a CPU `Predictor` can rebuild the network and run
it with the library's kernels (`edvr.deploy.exported`). The program and its
``.pdiparams`` stay what ``paddle.inference`` (GPU), ONNX and other runtimes run.

Batch, height and width stay dynamic (input spec ``[None, t, c, None, None]``);
the frame count and channels are fixed by ``inputs_size``. Files are written
into a temporary folder beside the destination and renamed into place, the
program file last, so a crash never leaves a half-written file under a real
name and a present program file means a complete model.
"""
import hashlib
import inspect
import os

import paddle
import yaml

from edvr.errors import ConfigError, WeightsError
from edvr.settings import value
from edvr.utils import writer
from edvr.utils.paddle_compat import PROGRAM_EXTENSIONS, program_format, save_static

PARAMS_EXTENSION = '.pdiparams'
INFO_EXTENSION = '.edvr.yml'
WEIGHTS_EXTENSION = '.pdparams'   # the generator's weights in the project's format
_PLAIN = (type(None), bool, int, float, str)


def parse_inputs_size(text):
    """``'1,5,3,180,320'`` (``;`` between inputs) -> [[1, 5, 3, 180, 320]]."""
    try:
        shapes = [[int(v) for v in part.split(',')]
                  for part in str(text).split(';') if part.strip()]
    except ValueError:
        shapes = []
    if not shapes or any(len(s) < 3 or min(s) < 1 for s in shapes):
        raise ConfigError(f'--inputs_size {text!r}: expected positive ints such as '
                          f'"1,5,3,180,320" (b, t, c, h, w), ";" between inputs')
    return shapes


def dynamic_input_spec(shape, name='x'):
    """InputSpec of ``shape`` with batch, height and width left dynamic."""
    return paddle.static.InputSpec([None] + list(shape[1:-2]) + [None, None], 'float32', name)


def network_info(net, min_max=(0., 1.)):
    """What a predictor needs to know about ``net`` beyond its program (a plain dict)."""
    return {'num_frames': int(getattr(net, 'nframes', 1)),
            'scale': int(getattr(net, 'scale_factor', 1)),
            'size_multiple': int(getattr(net, 'size_multiple', 1)),
            'min_max': [float(v) for v in min_max]}


def network_record(net_cfg):
    """A network's config with every constructor default filled in (plain values only).

    Args:
        net_cfg: mapping with a registered ``name`` (e.g. ``model.generator``).

    Returns:
        dict ``{'name': ..., argument: value, ...}``, or None when ``net_cfg`` is not a
        registered network or an argument is not a plain value (the export then
        carries no network record and runs with ``paddle.inference`` only).
    """
    from edvr.registry import NETWORKS
    if not isinstance(net_cfg, dict) or net_cfg.get('name') not in NETWORKS:
        return None
    cls = NETWORKS.get(net_cfg['name'])
    record = {'name': str(net_cfg['name'])}
    for arg in list(inspect.signature(cls).parameters.values()):
        if arg.kind in (arg.POSITIONAL_OR_KEYWORD, arg.KEYWORD_ONLY) and \
                arg.default is not arg.empty:
            record[arg.name] = arg.default
    record.update({str(k): v for k, v in net_cfg.items() if k != 'name'})
    if not all(isinstance(v, _PLAIN) for v in record.values()):
        return None
    return record


def file_sha256(path):
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path):
    with open(path, 'rb') as f:
        os.fsync(f.fileno())


def save_inference_model(net, prefix, input_shapes, info=None, network=None):
    """Write ``net`` as a static inference model at ``prefix`` (atomically).

    The network runs in eval mode while it is traced (static graphs run Paddle's own
    kernels: `edvr.ops` chooses them whatever kernel is set); its mode and its
    ``forward`` are restored afterwards.

    Args:
        net: the dygraph network.
        prefix: destination path without extension (``DIR/NAME``); DIR is created.
        input_shapes: one example shape per input, e.g. [[1, 5, 3, 180, 320]].
        info: dict written as ``prefix.edvr.yml``, or None for none.
        network: `network_record` of ``net`` (needs ``info``): the weights are also
            written as ``prefix.pdparams`` and ``info`` gains ``network`` and
            ``weights_sha256``; None writes neither.

    Returns:
        list of the files written.
    """
    folder, name = os.path.split(os.path.abspath(prefix))
    os.makedirs(folder, exist_ok=True)
    specs = [dynamic_input_spec(s, f'x{i}' if i else 'x') for i, s in enumerate(input_shapes)]
    was_training = net.training
    own_forward = net.__dict__.get('forward')
    try:
        with writer.scratch_folder(prefix) as tmp:
            net.eval()
            save_static(net, specs, os.path.join(tmp, name))
            if network is not None and info is not None:
                info = dict(info, **_save_weights(net, os.path.join(tmp, name), network))
            if info is not None:
                with open(os.path.join(tmp, name + INFO_EXTENSION), 'w', encoding='utf-8') as f:
                    yaml.safe_dump(info, f, sort_keys=False)
            written = sorted(os.listdir(tmp), key=lambda n: n.endswith(PROGRAM_EXTENSIONS))
            for file_name in written:  # the program file goes last
                _fsync(os.path.join(tmp, file_name))
                writer.move_into_place(os.path.join(tmp, file_name),
                                       os.path.join(folder, file_name))
            return [os.path.join(folder, n) for n in written]
    finally:
        if own_forward is None:
            net.__dict__.pop('forward', None)
        else:
            net.forward = own_forward
        if was_training:
            net.train()


def _save_weights(net, tmp_prefix, network):
    """Write ``net``'s weights beside the program; the ``.edvr.yml`` keys that record them."""
    from edvr.weights import save_weights_file
    path = tmp_prefix + WEIGHTS_EXTENSION
    save_weights_file(net.state_dict(), path)
    return {'network': dict(network), 'weights_sha256': file_sha256(path)}


def _net_state(state, name, single, path):
    """The state dict of net ``name`` inside a weights file's dict."""
    inner = state.get(name)
    if isinstance(inner, dict):
        return inner
    if single and name == 'generator' and not any(isinstance(v, dict) for v in state.values()):
        return state  # a bare state dict
    raise WeightsError(f'{path}: no weights for net {name!r} (top-level keys: '
                       f'{", ".join(map(str, list(state)[:8]))})')


def export_model(cfg, weights=None, inputs_size='1,5,3,180,320', output_dir='inference_model',
                 model_name=None):
    """Build the config's model, load ``weights`` and export its nets.

    Args:
        cfg: loaded config (AttrDict) with ``model`` and optionally ``export_model``.
        weights: ``.pdparams`` file (``{'generator': ...}`` or a bare state dict);
            None exports the freshly initialised weights.
        inputs_size: example input shapes, ``'b,t,c,h,w'``, ``;`` between inputs.
        output_dir: destination folder (created).
        model_name: file name of the model; default ``<model class>_<net>``
            (PaddleGAN's, e.g. ``edvrmodel_generator``). With several nets it
            becomes ``<model_name>_<net>``.

    Returns:
        dict {model prefix (``output_dir/name``): [the files written]}, in export order.
    """
    from edvr import components  # noqa: F401  (registers every component)
    from edvr.registry import MODELS, build_from_config
    from edvr.utils.output_paths import check_output_folder
    from edvr.weights import read_state, set_generator_state

    check_output_folder(output_dir, 'output_dir')
    shapes = parse_inputs_size(inputs_size)
    entries = list(value(cfg, 'export_model') or value({}, 'export_model'))  # [] means the default
    needed = sum(int(e.get('inputs_num', 1)) for e in entries)
    if len(shapes) != needed:
        raise ConfigError(f'--inputs_size {inputs_size!r}: {len(shapes)} shape(s) given, the '
                          f'config\'s export_model needs {needed}')
    model = build_from_config(cfg.get('model'), MODELS, where='model')
    state = read_state(weights) if weights else None
    min_max = tuple(value(cfg, 'min_max'))
    written, first = {}, 0
    for entry in entries:
        name = entry.get('name')
        if name not in model.nets:
            raise ConfigError(f'export_model: net {name!r} is not one of the model\'s nets '
                              f'({", ".join(model.nets)})')
        net = model.nets[name]
        own = shapes[first:first + int(entry.get('inputs_num', 1))]
        first += len(own)
        _check_shape(net, own[0], inputs_size)
        if state is not None:
            set_generator_state(net, _net_state(state, name, len(entries) == 1, weights), weights)
        if model_name:
            file_name = model_name if len(entries) == 1 else f'{model_name}_{name}'
        else:
            file_name = f'{type(model).__name__.lower()}_{name}'
        prefix = os.path.join(output_dir, file_name)
        written[prefix] = save_inference_model(
            net, prefix, own, network_info(net, min_max),
            network_record((cfg.get('model') or {}).get(name)))
    return written


def _check_shape(net, shape, text):
    frames = getattr(net, 'nframes', None)
    if frames is not None and (len(shape) != 5 or shape[1] != frames):
        raise ConfigError(f'--inputs_size {text!r}: the network takes (b, t, c, h, w) '
                          f'with t = {frames} frames')


def find_model_files(model_path):
    """(program file, params file, info file or None) of an exported model.

    Args:
        model_path: the prefix ``DIR/NAME``, one of its files (program, ``.pdiparams``,
            ``.pdparams``), or a folder holding exactly one exported model.

    Raises:
        WeightsError: no complete model there (names what is missing).
    """
    path = str(model_path)
    for ext in PROGRAM_EXTENSIONS + (PARAMS_EXTENSION, WEIGHTS_EXTENSION):
        if path.endswith(ext):
            path = path[:-len(ext)]
    if os.path.isdir(path):
        found = sorted({n[:-len(ext)] for n in os.listdir(path) for ext in PROGRAM_EXTENSIONS
                        if n.endswith(ext)})
        if len(found) != 1:
            what = 'no exported model' if not found else f'several models ({", ".join(found)})'
            raise WeightsError(f'{model_path}: {what} in this folder; give --model_path DIR/NAME')
        path = os.path.join(path, found[0])
    preferred = sorted(PROGRAM_EXTENSIONS, key=lambda ext: ext != program_format())  # ours first
    program = next((path + ext for ext in preferred if os.path.isfile(path + ext)), None)
    if program is None:
        raise WeightsError(f'{model_path}: exported model not found (expected {path}.json or '
                           f'{path}.pdmodel; make one with tools/export_model.py)')
    params = path + PARAMS_EXTENSION
    if not os.path.isfile(params):
        raise WeightsError(f'{params}: weights of the exported model not found')
    info = path + INFO_EXTENSION
    return program, params, info if os.path.isfile(info) else None
