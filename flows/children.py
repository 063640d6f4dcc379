"""The study's child flow runs, each started as soon as the children it needs have finished.

A re-ID run needs the backbone it starts from, a generator's cells need its training, its scoring also the first
full-set run; nothing else waits. Children whose needs are met start in the order given (the slow trainings
first), `parallel` at a time in this process (threads whose work runs in as many worker processes), or all at once
as flow runs of the deployments `<child>/<fan_out>`, which the work pool's workers take as they free up. So no
core idles while a generator trains and the cells that need no generator are waiting.
"""
from __future__ import annotations

import contextvars
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import Callable

from prefect import Flow, get_run_logger
from prefect.deployments import run_deployment

from augreid.core.threads import thread_count
from flows.workers import worker_processes


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
    if fan_out is not None:  # every ready child at once: the pool's workers take them as they free up
        return _schedule(children, partial(_on_pool, fan_out), len(children))
    if parallel == 1:
        return _schedule(children, _here, 1)
    with worker_processes(parallel, thread_count()):
        return _schedule(children, _here, parallel)


def _here(child: Child) -> Callable[[], Counter]:
    # each thread runs its child flow in a copy of this flow's context: Prefect links them as children
    context, parameters = contextvars.copy_context(), child.parameters()
    return lambda: Counter(context.run(child.flow, **parameters))


def _on_pool(fan_out: str, child: Child) -> Callable[[], Counter]:
    """A flow run of the child's deployment, waited for by Prefect's `run_deployment`."""
    name, parameters = f"{child.flow.name}/{fan_out}", child.parameters()
    context = contextvars.copy_context()  # the parent flow run's: the child run is linked to it

    def run() -> Counter:
        flow_run = context.run(run_deployment, name, parameters=parameters, timeout=None)
        if not flow_run.state.is_completed():
            raise RuntimeError(f"{name}: flow run {flow_run.id} ended {flow_run.state.name}: {flow_run.state.message}")
        return Counter()

    get_run_logger().info("%s handed to the work pool", child.key)
    return run


def _schedule(children: list[Child], start: Callable[[Child], Callable[[], Counter]], at_once: int) -> Counter:
    """Start each child once its needs have finished, `at_once` at a time, in the order given."""
    seconds, pending, finished = Counter(), list(children), set()
    running: dict[Future, str] = {}
    with ThreadPoolExecutor(at_once) as pool:
        while pending or running:
            for child in ready(pending, finished)[:at_once - len(running)]:
                pending.remove(child)
                running[pool.submit(start(child))] = child.key
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
