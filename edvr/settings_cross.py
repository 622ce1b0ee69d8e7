# SPDX-License-Identifier: Apache-2.0
"""Settings that are each well-typed but mean nothing together, caught before anything runs.

Called by `edvr.settings.check_settings` after every key's type and range is checked:
a cosine schedule whose floor lies above its start (the rate would rise), more loader
workers than the machine can start, and unknown keys in the documented mappings
``demo_data`` and ``export_model``. Imports only `edvr.errors`.
"""
import difflib
import os

from edvr.errors import ConfigError

# root + edvr.prepare demo builder's arguments (tests/test_settings_cross.py keeps them equal)
DEMO_DATA_KEYS = ('root', 'num_train_clips', 'num_frames', 'num_test_frames', 'gt_size', 'scale',
                  'held_out', 'seed')
EXPORT_MODEL_KEYS = ('name', 'inputs_num')


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def max_workers():
    """Loader worker processes one process may start: 4 per available core, at least 16,
    and at most half of the user's process limit."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    limit = max(16, 4 * cores)
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_NPROC)[0]
        if soft != resource.RLIM_INFINITY:
            limit = min(limit, max(soft // 2, 1))
    except (ImportError, ValueError, OSError):
        pass
    return limit


def _unknown_keys(mapping, known, where):
    for key in mapping:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=3, cutoff=0.6)
            hint = f'did you mean {", ".join(close)}?' if close else f'known keys: {", ".join(known)}'
            raise ConfigError(f'{where}.{key}: unknown key; {hint}')


def check_schedule(cfg):
    """eta_min must not lie above the learning rate, and both must be >= 0."""
    sched = cfg.get('lr_scheduler') or {}
    rate, floor = sched.get('learning_rate'), sched.get('eta_min')
    if _number(rate) and rate <= 0:
        raise ConfigError(f'lr_scheduler.learning_rate: expected a number > 0, got {rate!r}')
    if _number(floor) and floor < 0:
        raise ConfigError(f'lr_scheduler.eta_min: expected a number >= 0, got {floor!r}')
    if _number(rate) and _number(floor) and floor > rate:
        raise ConfigError(f'lr_scheduler.eta_min: {floor!r} is above lr_scheduler.learning_rate '
                          f'{rate!r} (the rate would rise during training); expected eta_min '
                          f'<= learning_rate')


def check_workers(cfg):
    """num_workers of each dataset within what this machine can start."""
    most = max_workers()
    for split, block in (cfg.get('dataset') or {}).items():
        workers = block.get('num_workers') if isinstance(block, dict) else None
        if _number(workers) and workers > most:
            raise ConfigError(f'dataset.{split}.num_workers: {workers!r} worker processes; this '
                              f'machine can start at most {most}')


def check_documented_mappings(cfg):
    """No unknown key in ``demo_data`` or an ``export_model`` entry; entries well-typed."""
    demo = cfg.get('demo_data')
    if isinstance(demo, dict):
        _unknown_keys(demo, DEMO_DATA_KEYS, 'demo_data')
        if not isinstance(demo.get('root'), str) or not demo['root']:
            raise ConfigError(f'demo_data.root: expected a folder, got {demo.get("root")!r}')
    for i, entry in enumerate(cfg.get('export_model') or []):
        where = f'export_model.{i}'
        if not isinstance(entry, dict):
            raise ConfigError(f'{where}: expected a mapping {{name: generator, inputs_num: 1}}, '
                              f'got {entry!r}')
        _unknown_keys(entry, EXPORT_MODEL_KEYS, where)
        if not isinstance(entry.get('name'), str):
            raise ConfigError(f'{where}.name: expected a net name such as generator, got '
                              f'{entry.get("name")!r}')
        count = entry.get('inputs_num', 1)
        if not (isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= 16):
            raise ConfigError(f'{where}.inputs_num: expected a whole number from 1 to 16, got '
                              f'{count!r}')


def check_all(cfg):
    """Every cross-check of this module."""
    check_documented_mappings(cfg)
    check_schedule(cfg)
    check_workers(cfg)
