"""Run an augreid CLI several times, each run killed with SIGKILL just before its Nth write is made final.

`python kill_at_write.py PLAN.json` reads {"module": M, "runs": [{"kill_at": N, "args": [...], "log": PATH}, ...],
"results": PATH}, imports M once, then for each run in order forks a process that runs `python -m M ARGS...` with
`os.replace`, `os.rename` and `os.symlink` wrapped: the Nth call (1-based) sends SIGKILL to the process instead of
running, as a `kill -9` at that moment would. Every rename is where an atomic write becomes final, and every link
is a write of its own. With N = 0 nothing is killed. Each run's output goes to its log; RESULTS gets, per run, its
return code (-9 when killed) and how many such calls it made, so that a test knows how many kill points there are.
Forking from one process that has imported M spares each run the imports (seconds each, dozens of runs).
"""
import importlib
import json
import os
import runpy
import signal
import sys
import threading
import traceback

from cli_server import exit_code  # this script's folder is first on sys.path until main() runs

kill_at, calls = 0, 0
lock = threading.Lock()  # generate writes its images on a thread


def killing(original):
    def wrapped(*args, **kwargs):
        global calls
        with lock:
            calls += 1
            if calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)
    return wrapped


def run_child(module: str, run: dict, calls_path: str) -> None:
    """In the forked process: run the module as `python -m` would, then leave without returning."""
    global kill_at
    kill_at, code = run["kill_at"], 1
    log = os.open(run["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.argv = [module, *run["args"]]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as error:
        code = exit_code(error)
    except BaseException:
        traceback.print_exc()
    finally:
        with open(calls_path, "w") as handle:
            handle.write(str(calls))
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def run_forked(module: str, run: dict) -> dict:
    calls_path = f"{run['log']}.calls"
    pid = os.fork()
    if pid == 0:
        run_child(module, run, calls_path)
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    made = int(open(calls_path).read()) if os.path.exists(calls_path) else None
    return {"returncode": code, "calls": made}


def main() -> None:
    sys.path[0] = os.getcwd()  # as `python -m` run in the checkout: its code, whatever else is installed
    with open(sys.argv[1]) as handle:
        plan = json.load(handle)
    importlib.import_module(plan["module"])  # its imports, once; no torch op runs before the forks
    del sys.modules[plan["module"]]  # each run executes it afresh as __main__
    os.replace, os.rename, os.symlink = killing(os.replace), killing(os.rename), killing(os.symlink)
    results = [run_forked(plan["module"], run) for run in plan["runs"]]
    with open(plan["results"], "w") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main()
