# SPDX-License-Identifier: Apache-2.0
"""Write ``.pdparams`` pickles the way other Paddle and numpy versions did, and hostile ones.

`save_pickle` pickles with any protocol (0 to 4); numpy arrays are written the
way numpy pickles them (``_reconstruct(ndarray, (0,), b'b')`` then
``__setstate__``) with the rebuild function named as numpy 1.x
(``numpy.core.multiarray``) or 2.x (``numpy._core.multiarray``) names it; a
`Global` from `tests.convert.torch_writer` writes any ``module.name`` so a test
can build a pickle asking for a forbidden callable.
"""
import numpy as np

from tests.convert import torch_writer
from tests.convert.torch_writer import Call, Global  # noqa: F401  (re-exported for tests)
from tests.engine.test_checkpoint import _RecordingUnpickler

NUMPY_MODULES = {1: 'numpy.core.multiarray', 2: 'numpy._core.multiarray'}


class _Pickler(torch_writer._Pickler):
    def __init__(self, file, protocol, numpy_major):
        super().__init__(file, legacy=False, protocol=protocol)
        self.numpy_module = NUMPY_MODULES[numpy_major]

    def reducer_override(self, obj):
        if type(obj) is np.ndarray:
            state = obj.__reduce__()[2]
            return (Global(self.numpy_module, '_reconstruct'),
                    (Global('numpy', 'ndarray'), (0,), b'b'), state)
        return NotImplemented


def save_pickle(obj, path, protocol=4, numpy_major=2):
    """Pickle ``obj`` to ``path`` as numpy ``numpy_major`` (1 or 2) and ``protocol`` write it."""
    with open(path, 'wb') as f:
        _Pickler(f, protocol, numpy_major).dump(obj)


def globals_of(path):
    """Every ``module.name`` a trusted pickle file asks for (it is loaded: never on hostile files)."""
    with open(path, 'rb') as f:
        reader = _RecordingUnpickler(f)
        reader.load()
    return reader.globals
