# SPDX-License-Identifier: Apache-2.0
"""Where to run: GPU when Paddle has CUDA and sees one, else CPU with all its cores."""
import ctypes
import os
import sys

import paddle

from edvr.errors import ConfigError
from edvr.utils.paddle_compat import set_math_threads


def available_cores():
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


_threads = {'count': None}


def set_cpu_threads(num_threads):
    """Set Paddle's CPU math threads (its default here is one), which the C++ column
    kernels (`edvr.ops`) use too. Returns the count set. (The CPU runtime tuning is
    `tune_cpu_runtime`.)"""
    num_threads = max(int(num_threads), 1)
    set_math_threads(num_threads)
    _threads['count'] = num_threads
    return num_threads


def env_threads():
    """The EDVR_NUM_THREADS environment variable as a positive int, or None when unset."""
    text = os.environ.get('EDVR_NUM_THREADS', '').strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f'environment variable EDVR_NUM_THREADS={text!r}: expected a '
                          f'positive whole number')
    return int(text)


def cpu_threads():
    """The math threads last set with `set_cpu_threads`, else EDVR_NUM_THREADS, else 1
    (Paddle's own default)."""
    if _threads['count'] is None:
        return env_threads() or 1
    return _threads['count']


def _cpu_vendor():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('vendor_id'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return ''


def use_fast_mkl_path():
    """Let Paddle's bundled MKL use its AVX2 code on AMD CPUs (it picks a slow generic
    path for non-Intel CPUs otherwise: 2.6x slower float32 matmuls measured here).

    Sets MKL_DEBUG_CPU_TYPE=5 unless the variable is already set; it only takes
    effect before MKL's first call in the process. Numerics stay float32
    (rounding-level differences only). Returns whether the variable is now 5.
    """
    if 'MKL_DEBUG_CPU_TYPE' not in os.environ and _cpu_vendor() == 'AuthenticAMD':
        os.environ['MKL_DEBUG_CPU_TYPE'] = '5'
    return os.environ.get('MKL_DEBUG_CPU_TYPE') == '5'


def keep_freed_memory():
    """Make glibc reuse freed memory instead of returning it to the system.

    Paddle's CPU tensors of more than a few MB are otherwise mapped fresh for
    every operation and pay one page fault per 4 KB (here an element-wise add
    of a 20 MB tensor took 13 ms instead of 1.4 ms). The process keeps its
    high-water memory afterwards. Linux/glibc only; returns whether it applied.
    """
    if not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL('libc.so.6')
        m_trim_threshold, m_mmap_max = -1, -4
        return bool(libc.mallopt(m_mmap_max, 0)) and \
            bool(libc.mallopt(m_trim_threshold, 2 ** 31 - 1))
    except (OSError, AttributeError):
        return False


def _tuning_off():
    return os.environ.get('EDVR_CPU_TUNING', '1').strip().lower() in ('0', 'false', 'off')


_tuned = {'done': False, 'applied': {}}


def tune_cpu_runtime():
    """Apply `use_fast_mkl_path` and `keep_freed_memory` once per process (CPU runs),
    unless EDVR_CPU_TUNING=0. Returns {'mkl_avx2': bool, 'keep_memory': bool}.

    Process-wide, so never done on import: entry points call it first thing (the Trainer,
    the Predictor, the tools), before any matrix product, since MKL reads its variable at
    its first call and every process should compute with the same code path."""
    if not _tuned['done']:
        _tuned['done'] = True
        off = _tuning_off()
        _tuned['applied'] = {'mkl_avx2': not off and use_fast_mkl_path(),
                             'keep_memory': not off and keep_freed_memory()}
    return dict(_tuned['applied'])


def launcher_gpu(local_rank=0, local_world_size=1):
    """The GPU index this process should use.

    ``paddle.distributed.launch`` names each process's card(s) in
    FLAGS_selected_gpus (relative to CUDA_VISIBLE_DEVICES), and
    ``init_parallel_env`` binds the communicator to the first one (Paddle's
    ``ParallelEnv().device_id``); the model must live on that same card. Without
    a launcher: the local rank when several processes share the machine, else 0.
    """
    selected = os.environ.get('FLAGS_selected_gpus', '').split(',')[0].strip()
    if selected:
        if not selected.isdigit():
            raise ConfigError(f'environment variable FLAGS_selected_gpus='
                              f'{os.environ["FLAGS_selected_gpus"]!r}: expected GPU indices like 0 or 0,1')
        return int(selected)
    return int(local_rank) if local_world_size > 1 else 0


def select_device(local_rank=0, local_world_size=1, cpu_threads=None):
    """Pick and set the device; returns a description for the log.

    Args:
        local_rank: this process's index on the machine.
        local_world_size: processes on this machine (they share its CPU cores).
        cpu_threads: math threads on CPU; default: the environment variable
            EDVR_NUM_THREADS, else the cores divided among processes.
    """
    if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        device = f'gpu:{launcher_gpu(local_rank, local_world_size)}'
        paddle.set_device(device)
        return f'GPU ({device}, {paddle.device.cuda.get_device_name()})'
    paddle.set_device('cpu')
    threads = cpu_threads or env_threads()
    threads = set_cpu_threads(threads or max(available_cores() // max(local_world_size, 1), 1))
    why = 'Paddle built without CUDA' if not paddle.is_compiled_with_cuda() else 'no GPU visible'
    return f'CPU ({threads} math threads; {why})'
