# SPDX-License-Identifier: Apache-2.0
"""Name -> class registries and the single `build_from_config` used everywhere.

A config entry such as ``{name: CharbonnierLoss, eps: 1e-12}`` picks the class
registered under ``name`` and passes the remaining keys to its constructor.
"""
import difflib
import inspect

from edvr.errors import ConfigError


class Registry:
    """A named table of components filled by the `register` decorator."""

    def __init__(self, kind):
        self.kind = kind
        self._table = {}

    def register(self, obj=None, name=None):
        """Register ``obj`` under ``name`` (default: its ``__name__``).

        Usable as ``@REG.register``, ``@REG.register()`` or
        ``REG.register(obj, name='Alias')``.
        """
        def add(item):
            key = name or item.__name__
            if key in self._table and self._table[key] is not item:
                raise ValueError(f'{self.kind} {key!r} is already registered')
            self._table[key] = item
            return item
        return add if obj is None else add(obj)

    def get(self, name):
        if name not in self._table:
            close = difflib.get_close_matches(str(name), list(self._table), n=3, cutoff=0.5)
            hint = f'; did you mean {", ".join(close)}?' if close else \
                f'; known: {", ".join(sorted(self._table))}'
            raise ConfigError(f'unknown {self.kind} {name!r}{hint}')
        return self._table[name]

    def __contains__(self, name):
        return name in self._table

    def names(self):
        return sorted(self._table)


DATASETS = Registry('dataset')
PREPROCESS = Registry('preprocess op')
TRANSFORMS = Registry('transform')
MODELS = Registry('model')
NETWORKS = Registry('network')
LOSSES = Registry('loss')
LR_SCHEDULERS = Registry('lr_scheduler')
OPTIMIZERS = Registry('optimizer')
METRICS = Registry('metric')


def build_from_config(cfg, registry, where='', **default_args):
    """Build the component ``cfg['name']`` from ``registry``.

    Args:
        cfg: mapping with a ``name`` key; it is copied, never modified.
        registry: the `Registry` to look the name up in.
        where: the config key path of ``cfg`` (e.g. ``model.generator``), used
            in error messages.
        **default_args: keyword arguments used when ``cfg`` does not set them.

    Raises:
        ConfigError: unknown name, or constructor arguments that do not fit;
            the message names the key path, the component and its arguments.
    """
    label = where or registry.kind
    if not isinstance(cfg, dict) or 'name' not in cfg:
        raise ConfigError(f'{label}: expected a mapping with a "name" key, got {cfg!r}')
    args = dict(default_args)
    args.update({k: v for k, v in cfg.items() if k != 'name'})
    try:
        cls = registry.get(cfg['name'])
    except ConfigError as exc:
        raise ConfigError(f'{label}.name: {exc}') from None
    _check_arguments(cls, args, label, cfg['name'])
    try:
        return cls(**args)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f'{label}: building {cfg["name"]} with keys '
                          f'{sorted(args)} failed: {exc}') from exc


def _check_arguments(cls, args, label, name):
    """Reject unknown and missing constructor arguments with a clear message."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        accepted = None
    else:
        accepted = [n for n, p in params.items()
                    if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if accepted is not None:
        unknown = [k for k in args if k not in accepted]
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(key, accepted, n=3, cutoff=0.5)
            hint = f'; did you mean {", ".join(close)}?' if close else \
                f'; accepted: {", ".join(accepted)}'
            raise ConfigError(f'{label}.{key}: unknown argument of {name}{hint}')
    missing = [n for n, p in params.items()
               if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               and n not in args]
    if missing:
        raise ConfigError(f'{label}: {name} needs argument(s) {", ".join(missing)}')
