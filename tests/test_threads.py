"""One thread per run unless overridden; the CPUs a process may use: affinity, a container's CPU quota."""
import subprocess
import sys

import pytest

from augreid.core import threads
from augreid.core.errors import InputError
from augreid.core.threads import thread_count, usable_cpus


@pytest.fixture
def four_cpus(monkeypatch, tmp_path):
    monkeypatch.delenv(threads.OVERRIDE, raising=False)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(threads, "CGROUP_V2", tmp_path / "cpu.max")
    monkeypatch.setattr(threads, "CGROUP_V1", (tmp_path / "quota", tmp_path / "period"))
    return tmp_path


def test_a_run_takes_one_thread_whatever_the_cpus_of_its_affinity(four_cpus):
    assert usable_cpus() == 4
    assert thread_count() == 1


@pytest.mark.parametrize("files, expected", [
    ({"cpu.max": "150000 100000\n"}, 1),  # cgroup v2: 1.5 CPUs' worth of time
    ({"cpu.max": "300000 100000\n"}, 3),
    ({"cpu.max": "max 100000\n"}, 4),  # no quota: the affinity decides
    ({"cpu.max": "800000 100000\n"}, 4),  # a quota above the affinity
    ({"quota": "200000\n", "period": "100000\n"}, 2),  # cgroup v1
    ({"quota": "-1\n", "period": "100000\n"}, 4),
])
def test_a_containers_cpu_quota_limits_the_usable_cpus(four_cpus, files, expected):
    for name, text in files.items():
        (four_cpus / name).write_text(text)
    assert usable_cpus() == expected


def test_the_override_wins_and_a_bad_one_is_refused(four_cpus, monkeypatch):
    monkeypatch.setenv(threads.OVERRIDE, "3")
    assert thread_count() == 3
    for bad in ("0", "two", "-1", ""):
        monkeypatch.setenv(threads.OVERRIDE, bad)
        with pytest.raises(InputError, match=f"^AUGREID_THREADS={bad}: must be a whole number"):
            thread_count()


def test_every_step_fits_torchs_threads_before_its_work(tmp_path):
    """The threads a step's `main` sees are the fitted ones, and a bad override is one line with exit status 2."""
    probe = ("import sys, torch; from augreid.core.cli import command\n"
             "def main(argv): print(torch.get_num_threads())\n"
             "command(main)(sys.argv[1:])")
    env = {"PATH": "/usr/bin:/bin", threads.OVERRIDE: "3"}
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0 and shown.stdout.strip() == "3"
    refused = subprocess.run([sys.executable, "-m", "augreid.pairs", "--help"], capture_output=True, text=True,
                             env={**env, threads.OVERRIDE: "many"}, timeout=120)
    assert refused.returncode == 2 and refused.stderr == "error: AUGREID_THREADS=many: must be a whole number of " \
                                                          "threads, at least 1\n"


def test_a_flows_library_calls_run_at_augreids_thread_count(monkeypatch):
    """A pool worker's flow run is started by Prefect, not by a step's CLI: its library calls fit the threads."""
    import torch

    from flows.workers import in_worker

    original = torch.get_num_threads()
    try:
        monkeypatch.delenv(threads.OVERRIDE, raising=False)
        torch.set_num_threads(2)
        assert in_worker(torch.get_num_threads) == 1
        monkeypatch.setenv(threads.OVERRIDE, "3")
        assert in_worker(torch.get_num_threads) == 3
    finally:
        torch.set_num_threads(original)
