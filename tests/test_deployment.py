"""End to end, as a user runs it: a real Prefect server on a free loopback port, the deployment served by
`python -m flows.serve` (what `make serve` runs) and started with `prefect deployment run ... --watch`; then the
work-pool scale-out of prefect.yaml with two process workers on a PostgreSQL-backed server, one of them lost. Every
process started here is stopped, also when a test fails."""
from __future__ import annotations

import json
import os
import pty
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from flows.serve import HOST, api_url, start_server, stop, wait_for_api

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
PREFECT = [sys.executable, "-m", "prefect"]
RUN_TIMEOUT = 600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture()
def prefect_env(tmp_path):
    """A Prefect of its own: home (SQLite database) in tmp_path, API on a free loopback port."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_API_URL=api_url(HOST, port),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", PREFECT_WORKER_QUERY_SECONDS="2",
               PREFECT_WORKER_PREFETCH_SECONDS="2", PYTHONPATH=str(REPO))
    return {"port": port, "env": env, "url": api_url(HOST, port)}


@pytest.fixture()
def processes():
    """Processes a test starts, each in its own process group; all stopped at teardown, whatever happened."""
    started: list[subprocess.Popen] = []
    yield started
    for process in reversed(started):
        stop(process)


def spawn(processes: list, args: list[str], env: dict, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(args, cwd=REPO, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    processes.append(process)
    return process


def prefect(args: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(PREFECT + args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def api(url: str, path: str, body: dict | None = None):
    request = urllib.request.Request(f"{url}{path}", method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for_deployment(url: str, name: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serving stopped early:\n{log.read_text()[-3000:]}"
        try:
            api(url, f"/deployments/name/{name}")
            return
        except (OSError, ValueError):
            time.sleep(1)
    raise TimeoutError(f"deployment {name} did not appear within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def artifact(url: str, key: str) -> str:
    artifacts = api(url, "/artifacts/filter", {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC"})
    assert artifacts, f"no artifact with key {key}"
    return artifacts[0]["data"]


def table_vi_artifact(url: str) -> str:
    return artifact(url, "table-vi")


def table_rows(markdown: str) -> dict[str, list[str]]:
    """generator -> its cells, from the Table VI markdown."""
    rows = [line.split("|")[1:-1] for line in markdown.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows[1:]}


def deployment_run_args(name: str, params: dict) -> list[str]:
    args = ["deployment", "run", name, "--watch", "--watch-interval", "2"]
    for key, value in params.items():
        args += ["--param", f"{key}={json.dumps(value)}"]
    return args


def run_deployment_cli(name: str, env: dict, params: dict) -> subprocess.CompletedProcess:
    no_wrapping = {**env, "COLUMNS": "1000"}
    return prefect(deployment_run_args(name, params), no_wrapping, timeout=RUN_TIMEOUT)


def test_served_deployment_runs_the_study_and_publishes_table_vi(prefect_env, processes, tmp_path):
    env, url = prefect_env["env"], prefect_env["url"]
    log = tmp_path / "serve.log"
    serve = spawn(processes, [sys.executable, "-m", "flows.serve", "--port", str(prefect_env["port"])], env, log)
    wait_for_deployment(url, "augment-and-evaluate/local", serve, log)

    output = tmp_path / "study"
    run = run_deployment_cli("augment-and-evaluate/local", env, {
        "config": str(TINY), "portions": [0.5, 1.0], "generators": ["pona", "none"], "seeds": [0],
        "output": str(output)})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:] + log.read_text()[-3000:]
    assert "Completed" in run.stdout

    rows = table_rows(table_vi_artifact(url))
    assert list(rows) == ["pona", "none"]
    assert all(len(cells) == 2 and all(cells) for cells in rows.values())
    assert rows["pona"][1] == rows["none"][1]  # the shared p = 1.0 run
    assert (output / "report" / "table_vi.csv").is_file() and (output / "report" / "gallery_pona.png").is_file()
    comparisons = artifact(url, "comparisons")
    assert "| pona | none | 0.5 | 1 |" in comparisons and "pona vs none at p=0.5: " in comparisons
    assert comparisons == (output / "report" / "comparisons.md").read_text()

    for params, reason in (({"portions": [1.5]}, "'portions[0]'"), ({"generators": ["external:vunet"]}, "'generators[0]'")):
        bad = run_deployment_cli("augment-and-evaluate/local", env, {
            "config": str(TINY), "portions": [0.5], "generators": ["pona"], "output": str(tmp_path / "bad"), **params})
        assert bad.returncode != 0 and reason in bad.stdout + bad.stderr, bad.stdout + bad.stderr
    assert not (tmp_path / "bad").exists()  # refused by the API: no flow run was even created
    missing = run_deployment_cli("augment-and-evaluate/local", env, {
        "config": str(tmp_path / "absent.yaml"), "portions": [0.5], "generators": ["none"]})
    assert missing.returncode != 0
    assert "refused: " in missing.stdout and "absent.yaml: config file does not exist" in missing.stdout, missing.stdout

    stop(serve)  # what Ctrl-C on `make serve` does: the server goes down with the deployment
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/health", timeout=2)


def test_serve_on_another_port_in_a_terminal_never_prompts_and_its_ui_names_that_port(prefect_env, processes,
                                                                                       tmp_path):
    """`PORT=... make serve` in a real terminal: Prefect must not ask to switch (and rewrite) the user's profile,
    and the UI must call the API on the port it serves, not on 4200."""
    port = prefect_env["port"]
    env = {key: value for key, value in prefect_env["env"].items() if key != "PREFECT_API_URL"}
    terminal, child_end = pty.openpty()
    serve = subprocess.Popen([sys.executable, "-m", "flows.serve", "--port", str(port)], cwd=REPO, env=env,
                             stdin=child_end, stdout=child_end, stderr=child_end, start_new_session=True)
    os.close(child_end)
    processes.append(serve)
    shown = bytearray()
    threading.Thread(target=read_terminal, args=(terminal, shown), daemon=True).start()
    wait_for_api(api_url(HOST, port), serve, timeout=90)
    with urllib.request.urlopen(f"http://{HOST}:{port}/ui-settings", timeout=10) as response:
        assert json.loads(response.read())["api_url"] == api_url(HOST, port)
    assert "profile" not in shown.decode(errors="replace")
    assert not (Path(env["PREFECT_HOME"]) / "profiles.toml").exists()


def test_closing_the_terminal_of_make_serve_stops_its_server(prefect_env, processes, tmp_path):
    """A closed terminal sends SIGHUP to `make serve`'s process group; the Prefect server, in a group of its own,
    must stop with it (it used to keep answering, orphaned, and the next `make serve` met it)."""
    import signal

    port, home = prefect_env["port"], tmp_path / "prefect-home"
    env = {key: value for key, value in prefect_env["env"].items() if key != "PREFECT_API_URL"}
    make = spawn(processes, ["make", "serve", f"PORT={port}", f"PREFECT_ENV=PREFECT_HOME={home} "
                             "PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 PREFECT_SERVER_API_HOST=127.0.0.1"],
                 env, tmp_path / "serve.log")
    wait_for_api(api_url(HOST, port), make, timeout=90)
    os.killpg(make.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{api_url(HOST, port)}/health", timeout=1).close()
        except OSError:
            break  # nothing answers on the port any more
        time.sleep(0.5)
    else:
        pytest.fail(f"the server still answers 10 s after SIGHUP:\n{(tmp_path / 'serve.log').read_text()[-2000:]}")


def read_terminal(terminal: int, into: bytearray) -> None:
    """Keep a pseudo-terminal drained (a full one would block the process writing to it)."""
    while True:
        try:
            data = os.read(terminal, 4096)
        except OSError:  # the other end closed
            return
        if not data:
            return
        into.extend(data)


def postgres_binaries() -> Path | None:
    """The folder of PostgreSQL's server programs: on PATH, else Debian's /usr/lib/postgresql/VERSION/bin (newest)."""
    on_path = shutil.which("initdb")
    folders = [Path(on_path).resolve().parent] if on_path else []
    folders += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    return next((f for f in folders if all((f / name).is_file() for name in ("initdb", "postgres", "createdb"))), None)


def unprivileged(folder: Path) -> list[str]:
    """The prefix that runs a command as `nobody`, owner of `folder`, when this is root: PostgreSQL refuses root."""
    if os.geteuid() != 0:
        return []
    nobody = pwd.getpwnam("nobody")
    os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    return ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups", "--"]


@pytest.fixture()
def postgres():
    """A PostgreSQL server of its own on a free loopback port, with an empty database `prefect`; its URL for
    Prefect. Requested before `processes`, so it stops after the Prefect server that uses it."""
    binaries = postgres_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server (initdb, postgres) on PATH or under /usr/lib/postgresql/*/bin: install "
                    "Debian's package `postgresql` (.ci/run does where it can)")
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root, and no `setpriv` to run PostgreSQL as an unprivileged user")
    home = Path(tempfile.mkdtemp(prefix="augreid-postgres-"))  # not under tmp_path: `nobody` must reach it
    as_user, port, server = unprivileged(home), free_port(), None
    try:
        initdb = subprocess.run(as_user + [str(binaries / "initdb"), "-D", str(home / "data"), "-U", "prefect",
                                           "--auth=trust", "-E", "UTF8"], capture_output=True, text=True, timeout=120)
        assert initdb.returncode == 0, f"initdb failed: {initdb.stdout}{initdb.stderr}"
        server = subprocess.Popen(as_user + [str(binaries / "postgres"), "-D", str(home / "data"), "-p", str(port),
                                             "-c", f"listen_addresses={HOST}", "-k", str(home)],
                                  stdout=open(home / "postgres.log", "wb"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        create_database(binaries, port, server, home / "postgres.log")
        yield f"postgresql+asyncpg://prefect@{HOST}:{port}/prefect"
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(home, ignore_errors=True)


def create_database(binaries: Path, port: int, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """`createdb prefect`, once the server accepts connections."""
    deadline = time.monotonic() + timeout
    while True:
        assert server.poll() is None, f"PostgreSQL exited:\n{log.read_text()[-2000:]}"
        created = subprocess.run([str(binaries / "createdb"), "-h", HOST, "-p", str(port), "-U", "prefect",
                                  "prefect"], capture_output=True, text=True, timeout=30)
        if created.returncode == 0:
            return
        assert time.monotonic() < deadline, f"createdb failed: {created.stderr}\n{log.read_text()[-2000:]}"
        time.sleep(0.5)


CRASH_WITHIN = 45  # the test's automation: 1.5 heartbeats (30 s, Prefect's minimum) instead of automations.yaml's 3


def create_crash_automation(env: dict) -> None:
    """automations.yaml, as the docs have it created, with a shorter wait for the lost heartbeat."""
    with open(REPO / "automations.yaml") as file:
        automation = yaml.safe_load(file)["automations"][0]
    automation["trigger"]["within"] = CRASH_WITHIN
    created = prefect(["automation", "create", "--from-json", json.dumps(automation)], env)
    assert created.returncode == 0, created.stdout + created.stderr


def running_cell(url: str, cells: str, timeout: float = 300) -> dict:
    """A cell's flow run that is running, with its process known. The automation expects a heartbeat within its
    wait of the Running state too, so the kill need not wait for the first beat to be stored (events reach the
    database seconds late, and a tiny cell may be over by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in api(url, "/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [cells]},
                                                                "state": {"type": {"any_": ["RUNNING"]}}}}):
            if run["infrastructure_pid"]:
                return run
        time.sleep(0.5)
    raise TimeoutError(f"no cell ran within {timeout:.0f} s")


def parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[1])


def worker_of(pid: int, workers: dict[str, subprocess.Popen]) -> str:
    """Which of the workers started the process `pid`."""
    while pid > 1:
        for name, worker in workers.items():
            if worker.pid == pid:
                return name
        pid = parent_pid(pid)
    raise AssertionError("the cell's process belongs to no worker")


def kill_machine(run: dict, workers: dict[str, subprocess.Popen]) -> str:
    """kill -9 of the worker that runs `run` and of the run's process, as a lost machine; returns the worker."""
    pid = int(run["infrastructure_pid"].rpartition(":")[2])
    name = worker_of(pid, workers)
    os.kill(pid, signal.SIGKILL)
    os.killpg(workers[name].pid, signal.SIGKILL)
    workers[name].wait(timeout=10)
    return name


def state_history(url: str, run_id: str) -> list[dict]:
    return api(url, f"/flow_run_states/?flow_run_id={run_id}")


def test_pool_on_postgresql_survives_a_worker_killed_mid_cell(postgres, prefect_env, processes, tmp_path):
    """prefect.yaml's pool on a PostgreSQL-backed server, with two GPU workers; one of them and its cell are
    killed (kill -9: a lost machine). The cell is marked Crashed within the automation's bound, handed to the pool
    again, run by the other worker, and Table VI is the in-process run's."""
    env, url = {**prefect_env["env"], "PREFECT_API_DATABASE_CONNECTION_URL": postgres}, prefect_env["url"]
    server = start_server(HOST, prefect_env["port"], log=str(tmp_path / "server.log"), base_env=env)
    processes.append(server)
    wait_for_api(url, server)
    for args in (["work-pool", "create", "augreid", "--type", "process"], ["--no-prompt", "deploy", "--all"]):
        done = prefect(args, env)
        assert done.returncode == 0, done.stdout + done.stderr
    create_crash_automation(env)
    workers = {gpu: spawn(processes, PREFECT + ["worker", "start", "--pool", "augreid", "--work-queue", "gpu",
                                                "--limit", "1", "--name", f"gpu-{gpu}"],
                          {**env, "CUDA_VISIBLE_DEVICES": gpu}, tmp_path / f"worker-{gpu}.log")
               for gpu in ("0", "1")}  # one worker per GPU, as documented; on CPU the variable only labels the worker
    spawn(processes, PREFECT + ["worker", "start", "--pool", "augreid", "--work-queue", "orchestrator",
                                "--name", "orchestrator"], env, tmp_path / "orchestrator.log")

    config = tmp_path / "lasting-cells.yaml"  # re-ID cells of a few seconds, caught running on a busy machine
    recipe = yaml.safe_load(TINY.read_text())
    recipe["reid"]["epochs"] = 6
    config.write_text(yaml.safe_dump(recipe))
    study = {"config": str(config), "portions": [0.5, 1.0], "generators": ["pona", "none", "duplicate"], "seeds": [0]}
    run = spawn(processes, PREFECT + deployment_run_args("augment-and-evaluate/pool", {
        **study, "output": str(tmp_path / "pool")}), {**env, "COLUMNS": "1000"}, tmp_path / "run.log")
    cells = api(url, "/deployments/name/augment-and-reid/pool")["id"]
    victim = running_cell(url, cells)
    killed = kill_machine(victim, workers)
    killed_at = time.time()
    in_process = spawn(processes, [sys.executable, "-m", "flows.augment_and_evaluate", "--config", str(config),
                                   "--portions", "0.5", "1.0", "--generators", "pona", "none", "duplicate",
                                   "--seeds", "0", "--output", str(tmp_path / "in-process")],
                       {**env, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}, tmp_path / "in-process.log")
    assert run.wait(timeout=RUN_TIMEOUT) == 0, "".join(p.read_text()[-3000:] for p in tmp_path.glob("*.log"))
    assert in_process.wait(timeout=RUN_TIMEOUT) == 0, (tmp_path / "in-process.log").read_text()[-3000:]

    crashed = next(s for s in state_history(url, victim["id"]) if s["type"] == "CRASHED")
    assert "No heartbeat" in crashed["message"]
    detected = datetime.fromisoformat(crashed["timestamp"]).timestamp() - killed_at
    assert detected < CRASH_WITHIN + 20, f"crash detected {detected:.0f} s after the kill"
    runs = api(url, "/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [cells]}}})
    assert sorted(r["state_type"] for r in runs) == ["COMPLETED"] * 4 + ["CRASHED"]  # the crashed cell ran again
    assert sum(r["parameters"] == victim["parameters"] for r in runs) == 2
    survivor = ({"0", "1"} - {killed}).pop()
    metrics = [json.loads(p.read_text()) for p in (tmp_path / "pool" / "reid").glob("*/metrics.json")]
    assert [m["cuda_visible_devices"] for m in metrics] == [survivor] * 4  # each worker took cells; one was lost
    pool, here = tmp_path / "pool" / "report", tmp_path / "in-process" / "report"
    for table in ("table_vi.csv", "table_vi.md"):
        assert (pool / table).read_text() == (here / table).read_text()
    assert list(table_rows((tmp_path / "pool" / "report" / "table_vi.md").read_text())) == ["pona", "none", "duplicate"]
