"""Worker processes for children run side by side on one machine.

Each training seeds torch's generator, and that generator is one per process: two trainings in threads of one
process would draw from it in turn, and their numbers would depend on timing. In worker processes each draws from
its own (and Python's lock no longer serialises their data handling). The child flows stay threads of the flow's
process, so Prefect still links them to their parent; only the library calls inside their tasks go to a worker.
"""
from __future__ import annotations

import contextlib
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from contextvars import ContextVar
from typing import Callable, Iterator, TypeVar

import torch

from augreid.core.threads import fit_threads

Result = TypeVar("Result")
POOL: ContextVar[Executor | None] = ContextVar("augreid_worker_pool", default=None)


def in_worker(function: Callable[..., Result], *args, **kwargs) -> Result:
    """`function(*args, **kwargs)` in a worker process when the flow runs children side by side, else here; either
    way at augreid's thread count (`core/threads.py`), also in a pool worker's flow run, which no CLI started."""
    pool = POOL.get()
    if pool is not None:
        return pool.submit(function, *args, **kwargs).result()
    fit_threads()  # at two threads beside other work, a run gave other sums from one time to the next
    return function(*args, **kwargs)


@contextlib.contextmanager
def worker_processes(count: int, threads: int) -> Iterator[None]:
    """`count` fresh processes (spawned: no copy of this one's threads or CUDA state), each with `threads` of
    torch's intra-op threads, serving `in_worker` calls made in this context and its copies."""
    with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                             initializer=torch.set_num_threads, initargs=(threads,)) as pool:
        token = POOL.set(pool)
        try:
            yield
        finally:
            POOL.reset(token)
