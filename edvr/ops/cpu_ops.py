# SPDX-License-Identifier: Apache-2.0
"""Build (once, on first use) and load the C++ CPU column kernels.

The sources in ``edvr/ops/csrc/`` are compiled with the machine's C++ compiler
through `paddle.utils.cpp_extension.load` into a cache directory
(``$EDVR_CACHE_DIR``, default ``~/.cache/edvr``), keyed by the source text and
path, the compiler flags, the Paddle and Python versions and the host, so later
processes load the built library in about a second (the first build takes ~12 s).
Set ``EDVR_CPU_OPS=0`` to never build or use them. When the build fails, one
log line says why and callers fall back to the pure-Paddle kernels.
"""
import contextlib
import hashlib
import logging
import os
import platform
import sys
import time
import warnings

import paddle

from edvr.utils.device import tune_cpu_runtime

logger = logging.getLogger(__name__)

_CSRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'csrc')
SOURCES = [os.path.join(_CSRC, name) for name in (
    'cpu_conv_ops.cc', 'cpu_direct_conv.cc', 'cpu_winograd_conv.cc', 'cpu_fused_conv_op.cc',
    'cpu_dcn_forward.cc')]
HEADERS = [os.path.join(_CSRC, 'fused_conv.h')]
NAME = 'edvr_cpu_conv_ops'
_state = {'ops': None, 'tried': False, 'error': None, 'build_seconds': None, 'flags': None}


def _paddle_libs():
    return os.path.join(os.path.dirname(paddle.__file__), 'libs')


def _flag_sets():
    """Compiler/linker flag sets to try, best first: OpenMP on Paddle's own Intel
    runtime (one thread pool with MKL), OpenMP on GCC's runtime, no OpenMP, and no
    OpenMP without ``-march=native`` (for compilers that lack it)."""
    cflags = ['-O3', '-march=native', '-std=c++17']
    libs = _paddle_libs()
    sets = []
    if os.path.exists(os.path.join(libs, 'libiomp5.so')):
        sets.append(('openmp-iomp5', cflags + ['-fopenmp'],
                     [f'-L{libs}', '-l:libiomp5.so', f'-Wl,-rpath,{libs}']))
    sets.append(('openmp-gomp', cflags + ['-fopenmp'], ['-fopenmp']))
    sets.append(('serial', cflags + ['-Wno-unknown-pragmas'], []))
    sets.append(('portable', ['-O2', '-std=c++17', '-Wno-unknown-pragmas'], []))
    return sets


def cache_dir():
    """Where built extensions are kept."""
    root = os.environ.get('EDVR_CACHE_DIR') or os.path.join(os.path.expanduser('~'), '.cache',
                                                            'edvr')
    return os.path.join(root, 'cpu_ops')


def _build_dir(tag, cflags, ldflags):
    digest = hashlib.sha256()
    for source in SOURCES + HEADERS:
        with open(source, 'rb') as f:
            digest.update(f.read())
    # The source paths too: paddle's loader rebuilds when a build dir is shared by two paths.
    digest.update(repr((SOURCES, tag, cflags, ldflags, paddle.__version__, sys.version,
                        platform.machine(), platform.node())).encode())
    return os.path.join(cache_dir(), f'{tag}-{digest.hexdigest()[:16]}')


@contextlib.contextmanager
def _lock(path):
    """An exclusive file lock, so concurrent processes build one at a time."""
    import fcntl  # Linux only, like the build
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _build(tag, cflags, ldflags):
    with warnings.catch_warnings():  # Paddle warns that ccache is missing; it is optional
        warnings.filterwarnings('ignore', message='No ccache found')
        from paddle.utils import cpp_extension
    build_dir = _build_dir(tag, cflags, ldflags)
    os.makedirs(build_dir, exist_ok=True)
    with _lock(build_dir + '.lock'), open(os.devnull, 'w') as devnull, \
            contextlib.redirect_stdout(devnull):
        return cpp_extension.load(name=NAME, sources=SOURCES, extra_cxx_cflags=cflags,
                                  extra_ldflags=ldflags, build_directory=build_dir,
                                  verbose=False)


def load_cpu_ops():
    """The compiled ops module (``edvr_im2col``, ``edvr_col2im``, ``edvr_dcn_im2col``,
    ``edvr_dcn_col2im``, ``edvr_conv_fused``, ``edvr_dcn_forward``), or None when
    disabled, not on Linux or the build failed."""
    if _state['tried']:
        return _state['ops']
    _state['tried'] = True
    if os.environ.get('EDVR_CPU_OPS', '1').strip().lower() in ('0', 'false', 'no', 'off'):
        _state['error'] = 'disabled by EDVR_CPU_OPS=0'
        return None
    if not sys.platform.startswith('linux'):
        _state['error'] = f'not built on {sys.platform} (Linux only)'
        logger.warning('C++ CPU conv ops: %s; using the Paddle kernels', _state['error'])
        return None
    start = time.perf_counter()
    errors = []
    for tag, cflags, ldflags in _flag_sets():
        try:
            ops = _build(tag, cflags, ldflags)
            missing = [op for op in ('edvr_dcn_col2im', 'edvr_conv_fused', 'edvr_dcn_forward')
                       if not hasattr(ops, op)]
            if missing:
                raise RuntimeError(f'the built module lacks {", ".join(missing)}')
        except Exception as exc:  # noqa: BLE001 - any build failure means: fall back
            text = str(exc).strip()
            errors.append(f'{tag}: {text.splitlines()[-1] if text else type(exc).__name__}')
            continue
        _state.update(ops=ops, flags=tag, build_seconds=time.perf_counter() - start)
        tune_cpu_runtime()  # the column kernels' large buffers need the allocator tuning
        return ops
    _state['error'] = '; '.join(errors)
    logger.warning('C++ CPU conv ops could not be built (%s); using the Paddle kernels',
                   _state['error'][:300])
    return None


def cpu_ops_status():
    """dict: whether the ops are loaded, the flag set used, seconds to build/load, any error."""
    return {'loaded': _state['ops'] is not None, 'flags': _state['flags'],
            'build_seconds': _state['build_seconds'], 'error': _state['error']}
