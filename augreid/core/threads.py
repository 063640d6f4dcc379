"""How many CPU threads a run uses: one, unless `AUGREID_THREADS=N` says otherwise; a machine's CPUs are used by
runs side by side (the flow's `--parallel`, the CPUs a process may use counted by `usable_cpus`).

One thread per run, because on the CPU two runs of one thread each do about twice the work of one run of two
(`bench reid`), and a run of two threads beside busy processes keeps 3-20% of its quiet speed, against 39% (a fair
share: 40%) at one thread: libgomp's threads spin at each barrier while their partner waits for a CPU (`bench
busy`, bench/RESULTS.md). And because a seed then gives the same numbers whatever the machine's CPU count or
momentary load (thread counts change the order of float sums).
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


def thread_count() -> int:
    """The intra-op threads of one run: `AUGREID_THREADS` if set, else one."""
    override = os.environ.get(OVERRIDE)
    if override is None:
        return 1
    if not override.isdigit() or int(override) < 1:
        raise InputError(f"{OVERRIDE}={override}: must be a whole number of threads, at least 1")
    return int(override)


def fit_threads() -> int:
    """Set torch's intra-op threads to `thread_count()`; returns it."""
    threads = thread_count()
    torch.set_num_threads(threads)
    return threads
