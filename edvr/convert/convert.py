# SPDX-License-Identifier: Apache-2.0
"""Convert a BasicSR or mmagic EDVR checkpoint into a PaddleGAN-layout ``.pdparams``.

Steps: read the PyTorch file without torch (`torch_checkpoint`), find the
network's weights and rename them (`basicsr`, `mmagic`), infer the
architecture from the shapes (`infer_arch`), check that the result is exactly
an `EDVRNet` of that architecture (every key and shape), optionally check a
config against it, and write ``{'generator': state_dict}`` atomically.
"""
import inspect
from collections import OrderedDict

import numpy as np

from edvr.config import load_config
from edvr.convert.basicsr import basicsr_state, basicsr_to_paddle
from edvr.convert.infer_arch import infer_edvr_args
from edvr.convert.mmagic import mmagic_state, mmagic_to_paddle
from edvr.convert.torch_checkpoint import load_torch_checkpoint
from edvr.weights import save_atomic
from edvr.errors import ConfigError, WeightsError
from edvr.models.edvr_net import EDVRNet

SOURCES = ('auto', 'basicsr', 'mmagic')
ARG_ORDER = ('in_nf', 'out_nf', 'scale_factor', 'nf', 'nframes', 'groups', 'front_RBs',
             'back_RBs', 'center', 'predeblur', 'HR_in', 'w_TSA')


def detect_source(obj, where):
    """'basicsr' or 'mmagic' from the layout of a loaded checkpoint."""
    if isinstance(obj, dict):
        if 'state_dict' in obj:
            return 'mmagic'
        if 'params' in obj or 'params_ema' in obj:
            return 'basicsr'
        keys = [str(k) for k in obj]
        if any(k.startswith(('generator.', 'pcd_alignment.')) for k in keys):
            return 'mmagic'
        if any(k.startswith(('pcd_align.', 'module.pcd_align.')) for k in keys):
            return 'basicsr'
        shown = ', '.join(keys[:6])
    else:
        shown = type(obj).__name__
    raise WeightsError(f'{where}: not a BasicSR or mmagic EDVR checkpoint (found: {shown}); '
                       f'if it is one, say which with --from basicsr|mmagic')


def _as_float32(state, where):
    out = OrderedDict()
    for key, value in state.items():
        if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
            kind = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise WeightsError(f'{where}: {key} is {kind}, expected a floating-point tensor')
        out[key] = value.astype(np.float32)
    return out


def check_fits_edvr(state, args, where):
    """Order ``state`` like EDVRNet(**args).state_dict(), after checking every key and shape."""
    own = EDVRNet(**args).state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f'{k} {list(state[k].shape)} vs {list(own[k].shape)}'
                  for k in own if k in state and list(state[k].shape) != list(own[k].shape)]
    problems = [f'{label}: {"; ".join(keys[:6])}' + (f' ({len(keys)} in all)' if len(keys) > 6 else '')
                for label, keys in (('missing', missing), ('unexpected', unexpected),
                                    ('shape mismatch', mismatched)) if keys]
    if problems:
        raise WeightsError(f'{where}: the weights do not form an EDVRNet with {_args_text(args)} '
                           f'({" | ".join(problems)})')
    return OrderedDict((k, state[k]) for k in own)


def _args_text(args):
    return ', '.join(f'{k}={args[k]}' for k in ARG_ORDER)


def convert_checkpoint(src, source='auto'):
    """Read ``src`` and return EDVRNet weights with their architecture.

    Args:
        src: BasicSR or mmagic EDVR checkpoint (``.pth``).
        source: 'auto', 'basicsr' or 'mmagic'.

    Returns:
        (state: OrderedDict of EDVRNet key -> float32 array in EDVRNet's order,
         args: EDVRNet constructor arguments,
         info: dict with 'source' and 'found' (where the weights were in the file)).

    Raises:
        WeightsError: unreadable, refused or not an EDVR checkpoint of that source.
    """
    if source not in SOURCES:
        raise ConfigError(f'--from {source!r}: expected one of {", ".join(SOURCES)}')
    obj = load_torch_checkpoint(src)
    if source == 'auto':
        source = detect_source(obj, src)
    if source == 'basicsr':
        raw, found = basicsr_state(obj, src)
        state = basicsr_to_paddle(raw, src)
    else:
        raw, found = mmagic_state(obj, src)
        state = mmagic_to_paddle(raw, src)
    state = _as_float32(state, src)
    args = infer_edvr_args(state, src)
    state = check_fits_edvr(state, args, src)
    return state, args, {'source': source, 'found': found}


def config_mismatches(args, config_path):
    """Differences between ``args`` and ``model.generator`` of a config, as text lines."""
    generator = load_config(config_path).get('model', {}).get('generator')
    if not generator or generator.get('name') != 'EDVRNet':
        raise ConfigError(f'{config_path}: model.generator is not an EDVRNet')
    defaults = {k: p.default for k, p in inspect.signature(EDVRNet).parameters.items()}
    lines = []
    for key in ARG_ORDER:
        value = generator.get(key, defaults[key])
        if key == 'center' and value is None:
            value = generator.get('nframes', defaults['nframes']) // 2
        if isinstance(args[key], bool):
            value = bool(value)
        if value != args[key]:
            lines.append(f'model.generator.{key}: config {value}, weights {args[key]}')
    return lines


def config_snippet(args):
    """The ``model.generator`` YAML block matching ``args``."""
    lines = ['model:', '  generator:', '    name: EDVRNet']
    lines += [f'    {k}: {args[k]}' for k in ARG_ORDER]
    return '\n'.join(lines)


def write_paddle_weights(state, dst):
    """Write ``{'generator': state}`` to ``dst`` atomically, as our and PaddleGAN's weight files."""
    try:
        save_atomic({'generator': state}, dst)
    except OSError as exc:
        raise WeightsError(f'{dst}: cannot write ({exc.strerror or exc})') from None
