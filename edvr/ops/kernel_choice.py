# SPDX-License-Identifier: Apache-2.0
"""A process-wide choice among interchangeable kernels (set, else an environment variable, else 'auto')."""
import os

import paddle

from edvr.errors import ConfigError


class KernelChoice:
    """The kernel chosen for one kind of layer.

    Args:
        what: the layers' name in messages, e.g. 'DCN kernel'.
        env: environment variable read when nothing was set.
        names: the allowed names, 'auto' first.
    """

    def __init__(self, what, env, names):
        self.what, self.env, self.names = what, env, tuple(names)
        self.name = None

    def set(self, name):
        """Choose ``name`` for every layer of this kind."""
        if name not in self.names:
            raise ConfigError(f'{self.what} {name!r}: expected one of {", ".join(self.names)}')
        self.name = name

    @paddle.jit.not_to_static
    def get(self):
        """The chosen name; initially the environment variable's value or 'auto'."""
        if self.name is None:
            name = os.environ.get(self.env, 'auto').strip().lower() or 'auto'
            if name not in self.names:
                raise ConfigError(f'environment variable {self.env}={name!r}: '
                                  f'expected one of {", ".join(self.names)}')
            self.name = name
        return self.name
