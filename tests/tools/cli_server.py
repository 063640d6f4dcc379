"""Runs `python -m MODULE ARGS...` requests in processes forked from this one, which has made the imports once.

Read by `tests/tools/forked_cli.py`: one JSON request per line on stdin ({"module", "args", "cwd", "env",
"stdin", "stdout", "stderr", "timeout"}, paths of files), one JSON answer per line on the channel given as the
first argument ({"returncode"} or {"timeout": true}). Each request's process has the request's environment,
working directory and standard streams, and runs the module as `python -m` would (`runpy`, as `__main__`), so a
CLI's exit status and output are what a fresh interpreter gives; only the seconds of imports are saved.
"""
import importlib
import json
import os
import runpy
import signal
import sys
import time
import traceback

# the libraries every step imports; no torch operation runs here, so the forks start clean (no OpenMP threads)
PRELOADED = ("augreid.reid", "augreid.generate", "augreid.train_generator", "augreid.quality")


def exit_code(error: SystemExit) -> int:
    if error.code is None or isinstance(error.code, int):
        return error.code or 0
    print(error.code, file=sys.stderr)
    return 1


def redirect(path: str, fd: int, flags: int) -> None:
    opened = os.open(path, flags, 0o644)
    os.dup2(opened, fd)
    os.close(opened)


def run_child(request: dict) -> None:
    """In the forked process: take the request's surroundings, run the module, leave without returning."""
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        redirect(request["stdin"], 0, os.O_RDONLY)
        redirect(request["stdout"], 1, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        redirect(request["stderr"], 2, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        sys.path[0] = request["cwd"]  # `python -m` puts the working directory first
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as error:
        code = exit_code(error)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def wait(pid: int, timeout: float | None) -> dict:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return {"returncode": -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)}
        if deadline is not None and time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"timeout": True}
        time.sleep(0.005)


def serve(channel) -> None:
    for line in sys.stdin:
        request = json.loads(line)
        sys.argv = [request["module"], *request["args"]]
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            channel.close()
            run_child(request)
        channel.write(json.dumps(wait(pid, request["timeout"])) + "\n")
        channel.flush()


def main() -> None:
    sys.path[0] = os.getcwd()  # as `python -m` run in the checkout: its code, whatever else is installed
    channel = os.fdopen(int(sys.argv[1]), "w")
    for module in PRELOADED:
        if not hasattr(importlib.import_module(module), "__path__"):
            del sys.modules[module]  # a request executes it afresh as __main__ (a package: its __main__)
    serve(channel)


if __name__ == "__main__":
    main()
