"""`make serve`: a local Prefect server on 127.0.0.1 and the deployment `augment-and-evaluate/local`, served from
this process until Ctrl-C, which stops both.

The server keeps its SQLite database under PREFECT_HOME (`.prefect/` in the repo when started by `make serve`).
Runs are started from another shell with
`PREFECT_API_URL=http://127.0.0.1:4200/api prefect deployment run 'augment-and-evaluate/local' --watch`.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from augreid.core.cli import ArgumentParser

HOST = "127.0.0.1"
DEPLOYMENT = "local"


def api_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/api"


def start_server(host: str, port: int, log: str | None = None, base_env: dict | None = None) -> subprocess.Popen:
    """`prefect server start` in its own process group (so that stopping it stops its children too).

    The host and port go in as settings, not only as flags: the UI learns the API's address from them
    (`/ui-settings`), and would otherwise send the browser to port 4200. Prompts are off and stdin is closed: in a
    terminal, Prefect would otherwise ask to switch (and rewrite) the user's profile. `base_env` (default: this
    process's environment) carries the server's home."""
    env = {**(base_env or os.environ), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_API_HOST": host, "PREFECT_SERVER_API_PORT": str(port),
           "PREFECT_UI_API_URL": api_url(host, port), "PREFECT_CLI_PROMPT": "false",
           # runs' logs streamed to subscribers: `prefect deployment run --watch` then shows them, failures included
           "PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED": "true", "PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED": "true"}
    output = open(log, "ab") if log else None  # noqa: SIM115 (the child owns the file from here)
    return subprocess.Popen([sys.executable, "-m", "prefect", "--no-prompt", "server", "start", "--host", host,
                             "--port", str(port)],
                            env=env, stdin=subprocess.DEVNULL, stdout=output,
                            stderr=subprocess.STDOUT if output else None, start_new_session=True)


def wait_for_api(url: str, process: subprocess.Popen | None = None, timeout: float = 120.0) -> None:
    """Block until the API answers its health check; fail early when the server process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with status {process.returncode} before it answered")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"no answer from {url}/health within {timeout:.0f} s")


def stop(process: subprocess.Popen, grace: float = 15.0) -> None:
    """Stop a process group started here: SIGTERM, a second SIGTERM (Prefect workers and runners shut down
    gracefully on the first and exit on the second), then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace / 2 if sig == signal.SIGTERM else None)
        except subprocess.TimeoutExpired:
            continue
    try:  # whatever is left of the group (e.g. the uvicorn child)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m flows.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST, help="address the server binds to (default: loopback only)")
    parser.add_argument("--port", type=int, default=4200)
    parser.add_argument("--server-log", help="file for the server's output (default: this terminal)")
    args = parser.parse_args(argv)
    url = api_url(args.host, args.port)
    # `kill`, and closing the terminal (SIGHUP to the whole process group), stop the server too, even before serving
    # has begun: the server runs in a process group of its own, which neither signal reaches
    for stopping in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stopping, interrupt)
    server = start_server(args.host, args.port, args.server_log)
    try:
        wait_for_api(url, server)
        os.environ["PREFECT_API_URL"] = url  # before Prefect reads its settings
        from flows.augment_and_evaluate import augment_and_evaluate

        print(f"Prefect server at {url.removesuffix('/api')} (database under "
              f"{os.environ.get('PREFECT_HOME', '~/.prefect')}); Ctrl-C stops the server and the deployment.",
              flush=True)
        augment_and_evaluate.serve(name=DEPLOYMENT, limit=1, pause_on_shutdown=False)
    except KeyboardInterrupt:
        pass
    finally:
        stop(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
