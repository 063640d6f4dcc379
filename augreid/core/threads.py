"""How many CPU threads a run uses: the CPUs it may use (affinity, then the cgroup's quota), shared among the runs
beside it. `AUGREID_THREADS=N` overrides the choice.

The count depends on the machine, never on its momentary load, so that a seed gives the same numbers on one
machine whatever else runs there (thread counts change the order of float sums).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from augreid.core.errors import InputError

OVERRIDE = "AUGREID_THREADS"
CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1 = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def usable_cpus() -> int:
    """The CPUs this process may use: its affinity, within the cgroup's CPU quota (a container's limit)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cgroup_quota()
    return max(1, min(cpus, math.floor(quota))) if quota else cpus


def cgroup_quota() -> float | None:
    """CPUs' worth of the cgroup's quota (`cpu.max` of cgroup v2, or v1's quota / period); None without one."""
    try:
        if CGROUP_V2.is_file():
            quota, period = CGROUP_V2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        quota, period = (int(path.read_text()) for path in CGROUP_V1)
        return quota / period if quota > 0 else None
    except (OSError, ValueError):
        return None


def thread_count(beside: int = 1) -> int:
    """The threads each of `beside` runs side by side should use (`AUGREID_THREADS` if set)."""
    override = os.environ.get(OVERRIDE)
    if override is not None:
        if not override.isdigit() or int(override) < 1:
            raise InputError(f"{OVERRIDE}={override}: must be a whole number of threads, at least 1")
        return int(override)
    return max(1, usable_cpus() // beside)


def fit_threads(beside: int = 1) -> int:
    """Set torch's intra-op threads to `thread_count(beside)`; returns it."""
    threads = thread_count(beside)
    torch.set_num_threads(threads)
    return threads
