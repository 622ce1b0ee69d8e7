# SPDX-License-Identifier: Apache-2.0
"""Build (once, on first use) and load the C++ CPU kernels of `edvr.ops`.

`SOURCES` is the one list to edit when adding a kernel (see README.md in this folder):
each ``csrc/`` source file with the Paddle ops it registers. The build compiles those
sources, which may include any header in ``csrc/``, with the machine's C++ compiler
through `paddle.utils.cpp_extension.load`, into a cache directory (``$EDVR_CACHE_DIR``,
default ``~/.cache/edvr``) keyed on the content of the sources and headers (not their
path, so every checkout and installation of the same sources shares one build), the
compiler flags, the Paddle and Python versions and the host. Compiling prints one line
and takes ~30 s; later processes load the built library in about a second, quietly
(the compiler's and Paddle's output go to ``build.log`` in the cache directory).
Set ``EDVR_CPU_OPS=0`` to never build or use them. When the build fails, one
log line says why and callers fall back to the pure-Paddle kernels.
"""
import contextlib
import glob
import hashlib
import logging
import os
import platform
import shutil
import sys
import time
import warnings

import paddle

from edvr.utils.paddle_compat import cpp_extension_load, version_key

logger = logging.getLogger(__name__)

CSRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'csrc')
# Each C++ source in csrc/ and the Paddle ops it registers (PD_BUILD_OP).
SOURCES = {
    'cpu_conv_columns.cc': ('edvr_im2col', 'edvr_col2im'),
    'cpu_dcn_columns.cc': ('edvr_dcn_im2col', 'edvr_dcn_col2im'),
    'cpu_direct_conv.cc': (),          # the direct kernel behind edvr_conv_fused
    'cpu_winograd_conv.cc': (),        # the Winograd kernel behind edvr_conv_fused
    'cpu_bf16_conv.cc': (),            # the direct bfloat16 kernel behind edvr_conv_bf16
    'cpu_fused_conv_op.cc': ('edvr_conv_fused', 'edvr_conv_split_sigmoid'),
    'cpu_dcn_forward.cc': ('edvr_dcn_forward',),
    'cpu_upsample.cc': ('edvr_upsample2x',),
    'cpu_bf16_narrow.cc': (),          # the bfloat16 narrow kernel (64 -> 3) behind edvr_conv_bf16
    'cpu_bf16_conv_op.cc': ('edvr_conv_bf16', 'edvr_bf16_probe'),
    'cpu_bf16_winograd.cc': (),        # the bfloat16 Winograd kernel behind edvr_conv_bf16
    'cpu_bf16_dcn.cc': ('edvr_dcn_bf16',),
    'cpu_winograd_weight_grad.cc': ('edvr_conv_weight_winograd',),
    'cpu_activation_backward.cc': ('edvr_activation_backward',),
    'cpu_dcn_backward.cc': ('edvr_dcn_backward',),
}
NAME = 'edvr_cpu_conv_ops'
BUILD_SECONDS = 30   # a first build on a 2-core machine (measured), for the message
_DONE = 'built.ok'
_state = {'ops': None, 'tried': False, 'error': None, 'build_seconds': None, 'flags': None,
          'compiled': False}


def ops_names():
    """Every op the built module must have, in `SOURCES` order."""
    return [op for ops in SOURCES.values() for op in ops]


def source_paths(csrc=None):
    """The paths of `SOURCES` in ``csrc`` (default: this package's ``csrc/``)."""
    return [os.path.join(csrc or CSRC, name) for name in SOURCES]


def build_inputs(csrc=None):
    """Every file the build reads: `source_paths` and all headers of ``csrc``."""
    return source_paths(csrc) + sorted(glob.glob(os.path.join(csrc or CSRC, '*.h')))


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
    for path in build_inputs():
        with open(path, 'rb') as f:
            digest.update(f'{os.path.basename(path)}\0'.encode() + f.read() + b'\0')
    digest.update(repr((tag, cflags, ldflags, version_key(), sys.version,
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


@contextlib.contextmanager
def _output_to(path):
    """Send this process's stdout and stderr (also those of the compiler it starts), Paddle's
    extension logger and its ccache warning to the file ``path``."""
    ext_logger = logging.getLogger('utils.cpp_extension')
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    disabled = ext_logger.disabled
    try:
        with open(path, 'w') as log, warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='No ccache found')
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            ext_logger.disabled = True
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        ext_logger.disabled = disabled


def _build(tag, cflags, ldflags):
    """The ops module built with these flags, compiled first when the cache lacks it."""
    build_dir = _build_dir(tag, cflags, ldflags)
    os.makedirs(build_dir, exist_ok=True)
    with _lock(build_dir + '.lock'):
        # The build reads copies in the build dir, so the paths Paddle records are the same
        # for every checkout of these sources and a cached build is reused from anywhere.
        src_dir = os.path.join(build_dir, 'csrc')
        compile_now = not os.path.exists(os.path.join(build_dir, _DONE))
        if compile_now:
            shutil.rmtree(src_dir, ignore_errors=True)
            os.makedirs(src_dir)
            for path in build_inputs():
                shutil.copy(path, src_dir)
            if not _state['compiled']:
                print(f'building the CPU kernels once, ~{BUILD_SECONDS} s', file=sys.stderr,
                      flush=True)
            _state['compiled'] = True
        with _output_to(os.path.join(build_dir, 'build.log')):
            ops = cpp_extension_load(name=NAME, sources=source_paths(src_dir),
                                     extra_cxx_cflags=cflags, extra_ldflags=ldflags,
                                     build_directory=build_dir, verbose=False)
        missing = [op for op in ops_names() if not hasattr(ops, op)]
        if missing:
            raise RuntimeError(f'the built module lacks {", ".join(missing)}')
        if compile_now:
            open(os.path.join(build_dir, _DONE), 'w').close()
    return ops


def load_cpu_ops():
    """The compiled ops module (the ops of `SOURCES`), or None when disabled, not on Linux
    or the build failed."""
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
        except Exception as exc:  # noqa: BLE001 - any build failure means: fall back
            text = str(exc).strip()
            errors.append(f'{tag}: {text.splitlines()[-1] if text else type(exc).__name__}')
            continue
        _state.update(ops=ops, flags=tag, build_seconds=time.perf_counter() - start)
        return ops
    _state['error'] = '; '.join(errors)
    logger.warning('C++ CPU conv ops could not be built (%s; compiler output in build.log '
                   'under %s); using the Paddle kernels', _state['error'][:300], cache_dir())
    return None


def cpu_ops_status():
    """dict: whether the ops are loaded, the flag set used, whether this process compiled
    them, seconds to build/load, any error."""
    return {'loaded': _state['ops'] is not None, 'flags': _state['flags'],
            'compiled': _state['compiled'], 'build_seconds': _state['build_seconds'],
            'error': _state['error']}
