"""`run_module(module, *args)`: `subprocess.run([python, "-m", module, *args], capture_output=True, text=True)`,
answered by a process forked from `cli_server.py`, which made the imports once for this test process. A test of a
CLI's refusals runs in a fraction of a second instead of the 2-3 s that importing torch and torchreid takes.
Tests of how the interpreter itself starts (launchers, settings read at import) keep `subprocess`."""
from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).with_name("cli_server.py")
_server: tuple[subprocess.Popen, object] | None = None
_lock = threading.Lock()


def _started() -> tuple[subprocess.Popen, object]:
    global _server
    if _server is None or _server[0].poll() is not None:
        answers, channel = os.pipe()
        process = subprocess.Popen([sys.executable, str(SERVER), str(channel)], stdin=subprocess.PIPE, text=True,
                                   cwd=ROOT, pass_fds=(channel,))
        os.close(channel)
        _server = process, os.fdopen(answers)
        atexit.register(process.stdin.close)
    return _server


def run_module(module: str, *args: str, cwd: str | Path = ROOT, env: dict | None = None, input: str = "",
               timeout: float | None = 600, check: bool = False) -> subprocess.CompletedProcess:
    """Like `subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, input=input,
    capture_output=True, text=True, timeout=timeout, check=check)`."""
    argv = [sys.executable, "-m", module, *map(str, args)]
    with tempfile.TemporaryDirectory() as folder, _lock:
        streams = {name: Path(folder) / name for name in ("stdin", "stdout", "stderr")}
        streams["stdin"].write_text(input)
        request = {"module": module, "args": argv[3:], "cwd": str(Path(cwd).resolve()), "timeout": timeout,
                   "env": dict(os.environ if env is None else env), **{k: str(v) for k, v in streams.items()}}
        process, answers = _started()
        process.stdin.write(json.dumps(request) + "\n")
        process.stdin.flush()
        answer = json.loads(answers.readline())
        stdout, stderr = streams["stdout"].read_text(), streams["stderr"].read_text()
    if answer.get("timeout"):
        raise subprocess.TimeoutExpired(argv, timeout, stdout, stderr)
    done = subprocess.CompletedProcess(argv, answer["returncode"], stdout, stderr)
    if check:
        done.check_returncode()
    return done
