# SPDX-License-Identifier: Apache-2.0
"""Where to run: GPU when Paddle has CUDA and sees one, else CPU with all its cores."""
import os

import paddle


def available_cores():
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def set_cpu_threads(num_threads):
    """Set Paddle's CPU math threads (its default here is one). Returns the count set."""
    num_threads = max(int(num_threads), 1)
    setter = getattr(paddle.base.core, 'set_num_threads', None)
    if setter is not None:
        setter(num_threads)
    return num_threads


def select_device(local_rank=0, local_world_size=1, cpu_threads=None):
    """Pick and set the device; returns a description for the log.

    Args:
        local_rank: this process's index on the machine.
        local_world_size: processes on this machine (they share its CPU cores).
        cpu_threads: math threads on CPU; default: the environment variable
            EDVR_NUM_THREADS, else the cores divided among processes.
    """
    if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        device = f'gpu:{int(os.environ.get("FLAGS_selected_gpus", local_rank)) if local_world_size > 1 else 0}'
        paddle.set_device(device)
        return f'GPU ({device}, {paddle.device.cuda.get_device_name()})'
    paddle.set_device('cpu')
    cpu_threads = cpu_threads or os.environ.get('EDVR_NUM_THREADS')
    threads = set_cpu_threads(cpu_threads or max(available_cores() // max(local_world_size, 1), 1))
    why = 'Paddle built without CUDA' if not paddle.is_compiled_with_cuda() else 'no GPU visible'
    return f'CPU ({threads} math threads; {why})'
