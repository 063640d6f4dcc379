"""The study's child flow runs, each started as soon as the children it needs have finished.

A re-ID run needs the backbone it starts from, a generator's cells need its training, its scoring also the first
full-set run; nothing else waits. Children whose needs are met start in the order given (the slow trainings
first), `parallel` at a time in this process (threads whose work runs in as many worker processes), or all at once
as flow runs of the deployments `<child>/<fan_out>`, which the work pool's workers take as they free up. So no
core idles while a generator trains and the cells that need no generator are waiting.
"""
from __future__ import annotations

import contextvars
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable

from prefect import Flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment

from augreid.core.device import cores
from flows.workers import worker_processes

POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Child:
    key: str
    flow: Flow
    parameters: Callable[[], dict]  # called once what it needs has finished (their results are on disk then)
    needs: tuple[str, ...] = ()


def ready(pending: list[Child], finished: set[str]) -> list[Child]:
    return [child for child in pending if all(need in finished for need in child.needs)]


def check_needs(children: list[Child]) -> None:
    keys = {child.key for child in children}
    missing = sorted({need for child in children for need in child.needs} - keys)
    if missing:
        raise ValueError(f"a child needs '{missing[0]}', which is not among the children")


def run_children(children: list[Child], fan_out: str | None, parallel: int = 1) -> Counter:
    """Run every child; returns when all have completed, with the seconds they spent here by kind of work (none
    for flow runs on a pool). The first failure stops new starts; it is raised once the running ones end."""
    check_needs(children)
    if fan_out is not None:
        return _on_pool(children, fan_out)
    if parallel == 1:
        return _here(children, ThreadPoolExecutor(1), 1)
    with worker_processes(parallel, cores() // parallel):
        return _here(children, ThreadPoolExecutor(parallel), parallel)


def _here(children: list[Child], pool: ThreadPoolExecutor, parallel: int) -> Counter:
    seconds, pending, finished = Counter(), list(children), set()
    running: dict[Future, str] = {}
    with pool:
        while pending or running:
            for child in ready(pending, finished)[:parallel - len(running)]:
                pending.remove(child)
                # each thread runs its child flow in a copy of this flow's context: Prefect links them as children
                running[pool.submit(contextvars.copy_context().run, child.flow, **child.parameters())] = child.key
            if not running:
                raise ValueError(f"children wait on each other: {', '.join(child.key for child in pending)}")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            failed = next((future for future in done if future.exception() is not None), None)
            if failed is not None:
                wait(running)  # the running ones finish; nothing new starts
                raise failed.exception()
            for future in done:
                seconds.update(future.result())
                finished.add(running.pop(future))
    return seconds


def _on_pool(children: list[Child], fan_out: str) -> Counter:
    pending, finished, runs = list(children), set(), {}
    with get_client(sync_client=True) as client:
        while pending or runs:
            for child in ready(pending, finished):
                pending.remove(child)
                name = f"{child.flow.name}/{fan_out}"
                runs[run_deployment(name, parameters=child.parameters(), timeout=0).id] = (child.key, name)
                get_run_logger().info("%s handed to the work pool", child.key)
            time.sleep(POLL_SECONDS)
            for run_id, (key, name) in list(runs.items()):
                state = client.read_flow_run(run_id).state
                if state is not None and state.is_final():
                    if not state.is_completed():
                        raise RuntimeError(f"{name}: flow run {run_id} ended {state.name}: {state.message}")
                    del runs[run_id]
                    finished.add(key)
    return Counter()
