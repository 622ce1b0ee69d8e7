# SPDX-License-Identifier: Apache-2.0
"""Reading an exported model's ``.edvr.yml``: what a predictor needs beyond the program.

Written by `edvr.deploy.export.network_info`: ``num_frames``, ``scale``,
``size_multiple`` (positive integers) and ``min_max`` (two numbers, low < high).
Exports made since the library runtime for exported models also record
``network`` (the generator's constructor arguments: a mapping with a ``name``,
plain values only) and ``weights_sha256`` (the SHA-256 of ``NAME.pdparams``
beside the file); the two come together or not at all, and files without them
stay valid. A file that does not parse, is not a mapping, or holds a wrong value
is one WeightsError naming the file and the key.
"""
import re

from edvr.errors import WeightsError
from edvr.utils.yaml_reader import read_yaml_file

POSITIVE_KEYS = ('num_frames', 'scale', 'size_multiple')
NETWORK_KEYS = ('network', 'weights_sha256')
_SHA256 = re.compile(r'^[0-9a-f]{64}$')
_PLAIN = (type(None), bool, int, float, str)


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
    _check_network(info, where)
    return info


def _check_network(info, where):
    present = [key for key in NETWORK_KEYS if key in info]
    if not present:
        return
    if len(present) == 1:
        missing = next(key for key in NETWORK_KEYS if key not in info)
        raise WeightsError(f'{where}: {present[0]} without {missing}; export the model again')
    network = info['network']
    if not (isinstance(network, dict) and isinstance(network.get('name'), str)
            and all(isinstance(k, str) and isinstance(v, _PLAIN) for k, v in network.items())):
        raise WeightsError(f'{where}: network: expected a mapping with a name and plain '
                           f'values (the network\'s constructor arguments), got {network!r:.80}')
    digest = info['weights_sha256']
    if not (isinstance(digest, str) and _SHA256.match(digest)):
        raise WeightsError(f'{where}: weights_sha256: expected 64 lowercase hex digits, got '
                           f'{digest!r:.80}')


def read_model_info(path):
    """The exported model's ``.edvr.yml`` as a checked dict ({} for None or an empty file)."""
    if not path:
        return {}
    info = read_yaml_file(path, 'an exported model description (.edvr.yml)', WeightsError)
    return check_model_info({} if info is None else info, path)
