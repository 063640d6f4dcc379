"""Run an augreid CLI and kill it with SIGKILL just before its Nth write is made final.

`python kill_at_write.py N COUNT_FILE MODULE ARGS...` runs `python -m MODULE ARGS...` with `os.replace`,
`os.rename` and `os.symlink` wrapped: the Nth call (1-based) sends SIGKILL to the process instead of running, as a
`kill -9` at that moment would. Every rename is where an atomic write becomes final, and every link is a write
of its own. With N = 0 nothing is killed, and the number of such calls is written to COUNT_FILE when the run
ends, so that a test knows how many kill points there are.
"""
import os
import runpy
import signal
import sys
import threading

kill_at, count_file, module = int(sys.argv[1]), sys.argv[2], sys.argv[3]
calls = 0
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


os.replace, os.rename, os.symlink = killing(os.replace), killing(os.rename), killing(os.symlink)
sys.argv = [module, *sys.argv[4:]]
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
finally:
    with open(count_file, "w") as handle:
        handle.write(str(calls))
