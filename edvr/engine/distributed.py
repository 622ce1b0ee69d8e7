# SPDX-License-Identifier: Apache-2.0
"""Decisions shared by all training processes: rank 0 decides, every rank follows.

With one process every function here is a plain pass-through, so the single
process path runs no collective at all.
"""
import paddle.distributed as dist

from edvr import weights
from edvr.errors import EDVRError, WeightsError

SHARED_FOLDER_HINT = 'output_dir must be one folder shared by all machines'


def join_process_group():
    """Join the launcher's process group when there are several processes.

    Safe to call more than once (Paddle returns the existing group).

    Returns:
        (rank, world_size)
    """
    world_size = dist.get_world_size()
    if world_size > 1:
        dist.init_parallel_env()
    return dist.get_rank(), world_size


def from_rank0(value):
    """Rank 0's ``value`` (any picklable object) on every rank."""
    if dist.get_world_size() == 1:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def gather(value):
    """``[value of rank 0, value of rank 1, ...]`` on every rank."""
    if dist.get_world_size() == 1:
        return [value]
    values = []
    dist.all_gather_object(values, value)
    return values


def decide_on_rank0(decide, *args):
    """Call ``decide(*args)`` on rank 0 only and return its result on every rank."""
    return from_rank0(decide(*args) if dist.get_rank() == 0 else None)


def read_checkpoint_everywhere(path):
    """Read the full checkpoint ``path`` on every rank, or fail on every rank.

    Each rank reports whether it could read the file before any rank goes on,
    so a rank that cannot read it stops all of them with one error instead of
    leaving the others waiting in a collective. The ranks must also agree on
    the checkpoint's iteration and seed (same file everywhere).

    Raises:
        WeightsError: naming the path and the first rank that failed, or the
            disagreeing (iteration, seed) of each rank.
    """
    state, error = None, None
    try:
        state = weights.read_checkpoint(path)
    except EDVRError as exc:
        error = str(exc)
    errors = gather(error)
    failed = [rank for rank, message in enumerate(errors) if message]
    if failed:
        where = '' if len(errors) == 1 else f' (process {failed[0]} of {len(errors)}; {SHARED_FOLDER_HINT})'
        raise WeightsError(f'{errors[failed[0]]}{where}')
    seen = gather((int(state['iter']), int(state['seed'])))
    if len(set(seen)) > 1:
        per_rank = ', '.join(f'process {rank}: iteration {it}, seed {seed}'
                             for rank, (it, seed) in enumerate(seen))
        raise WeightsError(f'--resume {path}: the processes read different checkpoints '
                           f'({per_rank}); {SHARED_FOLDER_HINT}')
    return state
