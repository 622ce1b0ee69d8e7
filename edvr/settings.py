# SPDX-License-Identifier: Apache-2.0
"""The trainer's own settings: one declared table, one checker, the cross-checks.

Every key the project reads outside a component constructor is declared in
`SETTINGS` with its type, allowed range, default and meaning. A section marked
``open`` also holds a component's constructor arguments (``dataset.train``
carries the dataset's arguments next to its loader keys); those undeclared
keys are left to the registry, which checks them when the component is built.
All other sections are closed: an undeclared key is an error naming close
matches. `docs/config.md` is generated from this table (`reference_markdown`).
"""
import difflib
from collections import namedtuple

from edvr.errors import ConfigError
from edvr.settings_cross import check_all as _cross_checks

Setting = namedtuple('Setting', 'kind default meaning low high')
Setting.__new__.__defaults__ = (None, None)

OFF = ' (0 = off)'

# kind: int, float, bool, str, list, mapping, pair (two numbers), int_or_bool,
# str_or_mapping, section (a closed mapping), open (section + component arguments).
SETTINGS = {
    'total_iters': Setting('int', None, 'iterations to train (required unless epochs is set)', 1),
    'epochs': Setting('int', None, 'passes over dataset.train, used when total_iters is not set', 1),
    'output_dir': Setting('str', 'output_dir', 'folder that receives one <config>-<time> run folder per run'),
    'checkpoints_dir': Setting('str', None, 'PaddleGAN key; accepted and unused'),
    'is_train': Setting('bool', None, 'PaddleGAN key; accepted and unused'),
    'min_max': Setting('pair', (0., 1.), 'value range (low, high) of image tensors'),
    'enable_visualdl': Setting('bool', False, 'write VisualDL records in the run folder'),
    'find_unused_parameters': Setting('bool', False, 'multi-process training: let DataParallel '
                                      'skip parameters without gradient (always on with TSA warm-up)'),
    'ema_decay': Setting('float', 0., 'decay of an exponential moving average of the weights '
                         'used for evaluation and weights files' + OFF, 0., 0.999999),
    'demo_data': Setting('str_or_mapping', None, 'build the demo clips here first (a folder, or '
                         '{root: ..., <make_demo_dataset arguments>})'),
    'export_model': Setting('list', [{'name': 'generator', 'inputs_num': 1}],
                            'nets to export (tools/export_model.py)'),
    'seed': Setting('int', None, 'run seed (--seed wins; unset: a random seed, logged)', 0),
    'model': Setting('section', None, 'the model component'),
    'model.name': Setting('str', None, 'model class (EDVRModel)'),
    'model.tsa_iter': Setting('int_or_bool', 0, 'iterations that train only the TSA module '
                              'first' + OFF, 0),
    'model.to_static': Setting('bool', False, 'run the generator as a static graph'),
    'model.generator': Setting('mapping', None, 'the network component (EDVRNet and its arguments)'),
    'model.pixel_criterion': Setting('mapping', None, 'the loss component (CharbonnierLoss)'),
    'dataset': Setting('section', None, 'the datasets'),
    'dataset.train': Setting('open', None, 'training dataset component plus the loader keys below'),
    'dataset.test': Setting('open', None, 'evaluation dataset component plus the loader keys below'),
    'dataset.*.name': Setting('str', None, 'dataset class (VSRREDSDataset, RepeatDataset, ...)'),
    'dataset.*.batch_size': Setting('int', 1, 'samples per batch and process', 1),
    'dataset.*.num_workers': Setting('int', 0, 'loader worker processes (0: load in the main process)', 0),
    'dataset.*.use_shared_memory': Setting('bool', True, 'workers pass batches through shared memory'),
    'lr_scheduler': Setting('open', None, 'learning-rate schedule component '
                            '(CosineAnnealingRestartLR, MultiStepDecay) and its arguments'),
    'lr_scheduler.name': Setting('str', None, 'schedule class'),
    'lr_scheduler.periods': Setting('list', None, 'CosineAnnealingRestartLR: steps of each cosine '
                                    'cycle (their sum should equal total_iters)'),
    'optimizer': Setting('open', None, 'optimizer component (Adam, AdamW) and its arguments'),
    'optimizer.name': Setting('str', None, 'optimizer class'),
    'optimizer.net_names': Setting('list', ['generator'], 'nets whose parameters are trained '
                                   '(EDVR trains its generator)'),
    'validate': Setting('section', None, 'evaluation during training'),
    'validate.interval': Setting('int', 0, 'evaluate on dataset.test every N iterations' + OFF, 0),
    'validate.save_img': Setting('bool', False, 'save restored test frames in visual_test/'),
    'validate.metrics': Setting('mapping', {'psnr': {'name': 'PSNR', 'crop_border': 0},
                                            'ssim': {'name': 'SSIM', 'crop_border': 0}},
                                '{any name: metric component (PSNR, SSIM)}'),
    'log_config': Setting('section', None, 'training log'),
    'log_config.interval': Setting('int', 10, 'log losses, speed and ETA every N iterations' + OFF, 0),
    'log_config.visiual_interval': Setting('int', 0, 'save an lq/output/gt image in visual_train/ '
                                           'every N iterations' + OFF, 0),
    'snapshot_config': Setting('section', None, 'checkpoints'),
    'snapshot_config.interval': Setting('int', 0, 'write weights and a full checkpoint every N '
                                        'iterations' + OFF + '; the last iteration always saves', 0),
    'snapshot_config.max_keep': Setting('int', 5, 'keep the newest N checkpoints (0 = keep all)', 0),
    'snapshot_config.best_metric': Setting('str', 'psnr', 'validate.metrics name whose best score '
                                           'writes best_weight.pdparams'),
}

UNUSED = ('checkpoints_dir', 'is_train')
_EXPECTED = {
    'int': 'an integer', 'float': 'a number', 'bool': 'true or false', 'str': 'a string',
    'list': 'a list', 'mapping': 'a mapping', 'section': 'a mapping', 'open': 'a mapping',
    'pair': 'two numbers (low, high), low < high', 'int_or_bool': 'an integer or false',
    'str_or_mapping': 'a folder or a mapping',
}


def _declared(path):
    """The Setting for a concrete key path (``dataset.train.batch_size``), or None."""
    if path in SETTINGS:
        return SETTINGS[path]
    parts = path.split('.')
    if len(parts) == 3 and parts[0] == 'dataset':
        return SETTINGS.get(f'dataset.*.{parts[2]}')
    return None


def _children(section):
    """Declared key names directly under ``section`` ('' = top level)."""
    prefix = f'{section}.' if section else ''
    names = []
    for path in SETTINGS:
        if section.startswith('dataset.') and path.startswith('dataset.*.'):
            names.append(path[len('dataset.*.'):])
        elif path.startswith(prefix) and '.' not in path[len(prefix):] and '*' not in path:
            names.append(path[len(prefix):])
    return names


def _is_int(value):
    return (isinstance(value, int) and not isinstance(value, bool)) or \
        (isinstance(value, float) and value.is_integer())


def _kind_ok(kind, value):
    return {
        'int': lambda v: _is_int(v),
        'float': lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        'bool': lambda v: isinstance(v, bool),
        'str': lambda v: isinstance(v, str),
        'list': lambda v: isinstance(v, (list, tuple)),
        'mapping': lambda v: isinstance(v, dict),
        'section': lambda v: isinstance(v, dict),
        'open': lambda v: isinstance(v, dict),
        'pair': lambda v: isinstance(v, (list, tuple)) and len(v) == 2 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in v) and v[0] < v[1],
        'int_or_bool': lambda v: isinstance(v, bool) or _is_int(v),
        'str_or_mapping': lambda v: isinstance(v, (str, dict)),
    }[kind](value)


def _range_text(setting):
    low, high = setting.low, setting.high
    if low is not None and high is not None:
        return f'between {low} and {high}'
    if low is not None:
        return f'>= {low}'
    return ''


def _expected(setting):
    """What a setting accepts, in words (``an integer >= 0 (0 = off)``)."""
    text = _EXPECTED[setting.kind]
    if setting.low is not None:
        text = f'{"an integer" if setting.kind == "int" else "a number"} {_range_text(setting)}'
        if OFF.strip() in setting.meaning:
            text += OFF
    return text


def _check_value(path, setting, value):
    in_range = not isinstance(value, (int, float)) or isinstance(value, bool) or (
        (setting.low is None or value >= setting.low) and (setting.high is None or value <= setting.high))
    if not _kind_ok(setting.kind, value) or not in_range:
        raise ConfigError(f'{path}: expected {_expected(setting)}, got {value!r}')


def _check_section(section, node, is_open):
    """Check every key of the mapping ``node`` found at ``section``."""
    names = _children(section)
    for key, value in node.items():
        path = f'{section}.{key}' if section else str(key)
        setting = _declared(path)
        if setting is None:
            if is_open:
                continue  # a constructor argument: the registry checks it
            close = difflib.get_close_matches(str(key), names, n=3, cutoff=0.6)
            hint = f'; did you mean {", ".join(close)}?' if close else \
                f'; known keys here: {", ".join(names)}'
            raise ConfigError(f'{path}: unknown setting{hint}')
        if value is None:
            continue  # null = the default (an empty section)
        _check_value(path, setting, value)
        if setting.kind in ('section', 'open'):
            _check_section(path, value, setting.kind == 'open')


def value(cfg, path):
    """The checked value at ``path`` (``log_config.interval``), or its declared default."""
    setting = _declared(path)
    if setting is None:
        raise KeyError(f'{path} is not a declared setting')
    node = cfg
    for part in path.split('.'):
        node = node.get(part) if isinstance(node, dict) else None
    return _typed(setting, node)


def _typed(setting, node):
    """A checked config value as the code uses it (an int for 'int'), or the default for None."""
    if node is None:
        return setting.default
    return int(node) if setting.kind == 'int' else node


def loader_value(block, key):
    """The checked loader ``key`` (``batch_size``, ``num_workers``, ``use_shared_memory``)
    of one dataset block (``dataset.train``'s mapping), or its declared default."""
    return _typed(SETTINGS[f'dataset.*.{key}'], block.get(key))


def check_settings(cfg, training=True):
    """Check ``cfg`` against `SETTINGS` and the cross-checks; touches no file.

    Args:
        cfg: the loaded and overridden config.
        training: True for a training run, False for --evaluate-only.

    Returns:
        list of warning lines (e.g. a schedule that does not span total_iters).

    Raises:
        ConfigError: one line naming the key path, the value and what is expected.
    """
    _check_section('', cfg, is_open=False)
    dataset = cfg.get('dataset') or {}
    if training:  # no dataset.train: reported when the datasets are built
        if dataset.get('train') and cfg.get('total_iters') is None and cfg.get('epochs') is None:
            raise ConfigError('total_iters: missing; set total_iters (an integer >= 1) or epochs')
    elif not dataset.get('test'):
        raise ConfigError('dataset.test: missing; --evaluate-only needs a test dataset')
    _check_frames_and_scale(cfg)
    _cross_checks(cfg)
    best = (cfg.get('snapshot_config') or {}).get('best_metric')
    metrics = value(cfg, 'validate.metrics')
    if best is not None and best not in metrics:
        raise ConfigError(f'snapshot_config.best_metric: {best!r} is not one of validate.metrics '
                          f'({", ".join(metrics) or "none"})')
    return _schedule_warnings(cfg) if training else []


PATH_KEYS = ('lq_folder', 'gt_folder', 'ann_file')


def input_paths(cfg):
    """(key path, path) of every dataset folder and meta file the config reads."""
    found = []
    for split, outer in (cfg.get('dataset') or {}).items():
        for path, block in _inner_datasets(outer, f'dataset.{split}'):
            found += [(f'{path}.{key}', block[key]) for key in PATH_KEYS
                      if isinstance(block.get(key), str) and block[key]]
    return found


def unused_keys(cfg):
    """Top-level keys present in ``cfg`` that are accepted only for compatibility."""
    return [key for key in UNUSED if key in cfg]


def _inner_datasets(block, path):
    """(path, mapping) of a dataset block and of the datasets it wraps (RepeatDataset)."""
    while isinstance(block, dict):
        yield path, block
        block, path = block.get('dataset'), f'{path}.dataset'


def _crop_scales(block, path):
    """(path, scale) of each SRPairedRandomCrop in a dataset's preprocess pipeline."""
    for i, step in enumerate(block.get('preprocess') or []):
        pipeline = step.get('pipeline') if isinstance(step, dict) else None
        for j, op in enumerate(pipeline or []):
            if isinstance(op, dict) and op.get('name') == 'SRPairedRandomCrop' and 'scale' in op:
                yield f'{path}.preprocess.{i}.pipeline.{j}.scale', op['scale']


def _check_frames_and_scale(cfg):
    generator = (cfg.get('model') or {}).get('generator') or {}
    nframes = generator.get('nframes')
    center = generator.get('center')
    scale = generator.get('scale_factor')
    for split, outer in ((cfg.get('dataset') or {}).items()):
        for path, block in _inner_datasets(outer, f'dataset.{split}'):
            frames = block.get('num_frames')
            if _is_int(nframes) and _is_int(frames) and frames != nframes:
                raise ConfigError(f'{path}.num_frames: {frames} frames per sample, but '
                                  f'model.generator.nframes is {nframes}; make them equal')
            if _is_int(frames) and _is_int(center) and center != frames // 2:
                raise ConfigError(f'model.generator.center: {center}, but the ground truth is the '
                                  f'middle frame of {path}.num_frames {frames} (index {frames // 2})')
            for crop_path, crop_scale in _crop_scales(block, path):
                if _is_int(scale) and crop_scale != scale:
                    raise ConfigError(f'{crop_path}: {crop_scale}, but model.generator.scale_factor'
                                      f' is {scale}; the GT/LQ size ratio must match it')


def _schedule_warnings(cfg):
    periods = (cfg.get('lr_scheduler') or {}).get('periods')
    total = cfg.get('total_iters')
    if not periods or not _is_int(total) or not all(_is_int(p) for p in periods):
        return []
    span = int(sum(periods))
    if span == total:
        return []
    after = (f'the rate stays at eta_min after iteration {span}' if span < total else
             'training stops before the schedule ends (the rate never reaches eta_min)')
    return [f'lr_scheduler.periods sum to {span} but total_iters is {int(total)}: {after}']


def reference_markdown():
    """The configuration reference page (docs/config.md) generated from `SETTINGS`."""
    lines = ['# Configuration reference', '',
             '<!-- Generated by `python -m edvr.settings docs/config.md`; edit edvr/settings.py. -->',
             '',
             'Every key below is checked before a run creates any folder or file. A mistyped key '
             'is an error naming close matches; a wrong type or out-of-range value is a one-line '
             'error naming the key, the value and what is expected (exit code 2). Keys of '
             'components (`model.generator`, `model.pixel_criterion`, the dataset classes, '
             '`lr_scheduler`, `optimizer`, `validate.metrics.*`) are their constructor arguments, '
             'checked by the registry when the component is built. `dataset.*` stands for '
             '`dataset.train` and `dataset.test`. An empty default means none.', '',
             '| key | type | allowed | default | meaning |', '|---|---|---|---|---|']
    for path, s in SETTINGS.items():
        default = '' if s.default is None else f'`{s.default}`'
        meaning = s.meaning.replace('<', '\\<')
        lines.append(f'| `{path}` | {s.kind} | {_range_text(s)} | {default} | {meaning} |')
    lines += ['', 'Accepted for PaddleGAN compatibility and unused (listed once in the log): '
              + ', '.join(f'`{k}`' for k in UNUSED) + '.', '']
    return '\n'.join(lines)


if __name__ == '__main__':
    import sys
    with open(sys.argv[1], 'w', encoding='utf-8') as out:
        out.write(reference_markdown())
