# SPDX-License-Identifier: Apache-2.0
"""Reading an exported model's ``.edvr.yml``: what a predictor needs beyond the program.

Written by `edvr.deploy.export.network_info`: ``num_frames``, ``scale``,
``size_multiple`` (positive integers) and ``min_max`` (two numbers, low < high).
A file that does not parse, is not a mapping, or holds a wrong value is one
WeightsError naming the file and the key.
"""
from edvr.errors import WeightsError
from edvr.utils.yaml_reader import read_yaml_file

POSITIVE_KEYS = ('num_frames', 'scale', 'size_multiple')


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_model_info(info, where):
    """Check the mapping ``info`` read from ``where``; returns it.

    Raises:
        WeightsError: naming the key, the value and what is expected.
    """
    if not isinstance(info, dict):
        raise WeightsError(f'{where}: expected a mapping of model facts, got '
                           f'{type(info).__name__}; re-export the model')
    for key in POSITIVE_KEYS:
        if key in info and not (_is_int(info[key]) and 1 <= info[key] <= 1024):
            raise WeightsError(f'{where}: {key}: expected a whole number from 1 to 1024, got '
                               f'{info[key]!r}')
    if 'min_max' in info:
        pair = info['min_max']
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)
                and pair[0] < pair[1]):
            raise WeightsError(f'{where}: min_max: expected two numbers low < high, got {pair!r}')
    return info


def read_model_info(path):
    """The exported model's ``.edvr.yml`` as a checked dict ({} for None or an empty file)."""
    if not path:
        return {}
    info = read_yaml_file(path, 'an exported model description (.edvr.yml)', WeightsError)
    return check_model_info({} if info is None else info, path)
