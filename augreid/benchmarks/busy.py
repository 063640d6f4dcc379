"""Re-ID training on a busy machine: images/s at augreid's thread count, quiet and beside CPU-bound processes, against
the share of the CPUs that fair scheduling would give it."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from typing import Iterator

# what `--omp-wait-policy` may ask of the timed run's libgomp (read when torch loads it); `augreid` is the
# environment as it is, which augreid's own runs get
WAIT_POLICIES = ("augreid", "unset", "passive", "active")
WAIT_POLICY, SPIN_COUNT = "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"

# a plain Python busy loop that ends with its parent, should the bench die without stopping it
BUSY_LOOP = ("import os\n"
             "parent = os.getppid()\n"
             "while os.getppid() == parent:\n"
             "    for _ in range(1_000_000):\n"
             "        pass\n")

# torch first, so that libgomp reads exactly the environment the bench gives; the CPU seconds the process got per
# second of its run tell the scheduler's share apart from what each CPU second achieved
TIMED_RUN = ("import json, sys, time, torch\n"
             "from augreid.benchmarks.reid import reid_images_per_second\n"
             "model, height, width, batch, threads, seconds = json.loads(sys.argv[1])\n"
             "wall, cpu = time.perf_counter(), time.process_time()\n"
             "rate = reid_images_per_second(model, (height, width), batch, threads, True, torch.device('cpu'), "
             "seconds)\n"
             "cpus = (time.process_time() - cpu) / (time.perf_counter() - wall)\n"
             "print(json.dumps({'images_per_second': rate, 'cpus': cpus}))\n")


# the reference: a plain single-threaded CPU-bound process, timed the same way, shows the share any one thread keeps
# beside the load on this machine (the scheduler's imbalance, and what a CPU second does with a busy sibling)
REFERENCE_RUN = ("import json, sys, time\n"
                 "seconds = json.loads(sys.argv[1])[-1]\n"
                 "wall, cpu, loops = time.perf_counter(), time.process_time(), 0\n"
                 "while loops < 5 or time.perf_counter() - wall < seconds:\n"
                 "    for _ in range(100_000):\n"
                 "        pass\n"
                 "    loops += 1\n"
                 "elapsed, used = time.perf_counter() - wall, time.process_time() - cpu\n"
                 "print(json.dumps({'images_per_second': loops / elapsed, 'cpus': used / elapsed}))\n")


def proportional_share(threads: int, load: int, cpus: int) -> float:
    """The fraction of its quiet CPUs a run of `threads` keeps beside `load` CPU-bound processes on `cpus` cores when
    every runnable thread gets an equal share: T * min(1, C / (T + B)) against min(T, C) when quiet, which is
    C * T / ((T + B) * min(T, C)) once the threads outnumber the cores."""
    return threads * min(1.0, cpus / (threads + load)) / min(threads, cpus)


def run_environment(policy: str, environ: dict[str, str]) -> dict[str, str]:
    """The timed run's environment under `--omp-wait-policy`: `unset` is libgomp's own default (spin about 3 ms at
    each wait), `augreid` what augreid's runs get (a user's own wait policy or spin count kept)."""
    env = dict(environ)
    if policy == "unset":
        env.pop(WAIT_POLICY, None)
        env.pop(SPIN_COUNT, None)
    elif policy != "augreid":
        env[WAIT_POLICY] = policy.upper()
        env.pop(SPIN_COUNT, None)  # the policy's own spin count
    return env


def timed_run(settings: list, env: dict[str, str], program: str = TIMED_RUN) -> dict:
    """Training images/s of one fresh process (OpenMP's settings are read when it loads torch), and the CPUs' worth
    of time it got."""
    done = subprocess.run([sys.executable, "-c", program, json.dumps(settings)], env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise RuntimeError(f"bench busy: the timed re-ID run failed: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def background_load(count: int) -> Iterator[list[subprocess.Popen]]:
    """`count` CPU-bound processes for the length of the context, stopped however it ends (an error, Ctrl-C)."""
    processes: list[subprocess.Popen] = []
    try:
        for _ in range(count):
            processes.append(subprocess.Popen([sys.executable, "-c", BUSY_LOOP], stdin=subprocess.DEVNULL))
        yield processes
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()


def bench_busy(model: str, size: tuple[int, int], batch: int, threads: int, cpus: int, load: int, min_seconds: float,
               policy: str) -> dict:
    """Images/s of one re-ID run of `threads`, quiet, then beside `load` busy processes; the share it keeps."""
    env = run_environment(policy, os.environ)
    settings = [model, *size, batch, threads, min_seconds]
    load_average = round(os.getloadavg()[0], 2)
    quiet, reference_quiet = timed_run(settings, env), timed_run(settings, env, REFERENCE_RUN)
    with background_load(load):
        loaded, reference_loaded = timed_run(settings, env), timed_run(settings, env, REFERENCE_RUN)
    share, fair = loaded["images_per_second"] / quiet["images_per_second"], proportional_share(threads, load, cpus)
    reference = reference_loaded["images_per_second"] / reference_quiet["images_per_second"]
    return {"model": model, "size": list(size), "batch": batch, "threads": threads, "cpus": cpus, "load": load,
            "omp_wait_policy": policy, "wait_policy_set": env.get(WAIT_POLICY), "spin_count_set": env.get(SPIN_COUNT),
            "load_average_before": load_average, "quiet_images_per_second": round(quiet["images_per_second"], 2),
            "loaded_images_per_second": round(loaded["images_per_second"], 2), "share": round(share, 3),
            "quiet_cpus": round(quiet["cpus"], 3), "loaded_cpus": round(loaded["cpus"], 3),
            "cpu_share": round(loaded["cpus"] / quiet["cpus"], 3),
            "proportional_share": round(fair, 3), "keeps_proportional_share": share >= fair,
            "reference_share": round(reference, 3), "keeps_reference_share": share >= reference}


def print_busy(result: dict) -> None:
    height, width = result["size"]
    policy = f"{WAIT_POLICY}={result['wait_policy_set'] or '(unset)'}"
    if result["spin_count_set"] is not None:
        policy += f" {SPIN_COUNT}={result['spin_count_set']}"
    print(f"re-ID training, {result['model']} at {height}x{width}, batch {result['batch']}, {result['threads']} "
          f"threads on {result['cpus']} CPUs, {policy} (--omp-wait-policy {result['omp_wait_policy']}); load "
          f"average before {result['load_average_before']}")
    print(f"quiet: {result['quiet_images_per_second']:.1f} images/s")
    processes = "process" if result["load"] == 1 else "processes"
    print(f"beside {result['load']} busy {processes}: {result['loaded_images_per_second']:.1f} images/s")
    print(f"share kept: {result['share']:.3f}; proportional share: {result['proportional_share']:.3f} "
          f"(T*min(1, C/(T+B))/min(T,C), C={result['cpus']} T={result['threads']} B={result['load']})")
    print(f"CPU time got: {result['quiet_cpus']:.2f} CPUs quiet, {result['loaded_cpus']:.2f} beside the load, a share "
          f"of {result['cpu_share']:.3f}; images per CPU second beside the load: "
          f"{result['share'] / result['cpu_share']:.3f} of quiet")
    print(f"reference: one CPU-bound Python thread beside the same load keeps {result['reference_share']:.3f}")
    if result["keeps_proportional_share"]:
        print("verdict: the run keeps at least its proportional share")
    elif result["keeps_reference_share"]:
        print("verdict: the run keeps at least what a single-threaded CPU-bound process keeps here")
    else:
        print("verdict: the run keeps less than its proportional share and less than a single thread's")
