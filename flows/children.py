"""The study's child flow runs, each started as soon as the children it needs have finished.

A re-ID run needs the backbone it starts from, a generator's cells need its training, its scoring also the first
full-set run; nothing else waits. Children whose needs are met start in the order given (the slow trainings
first), `parallel` at a time in this process (threads whose work runs in as many worker processes), or all at once
as flow runs of the deployments `<child>/<fan_out>`, which the work pool's workers take as they free up. So no
core idles while a generator trains and the cells that need no generator are waiting.

On a pool, a child whose machine was lost is marked Crashed by the server (automations.yaml) and handed to the pool
again, where another worker takes it; when a child fails, the children no worker has taken yet are cancelled.
"""
from __future__ import annotations

import contextvars
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import Callable
from uuid import UUID

from prefect import Flow, get_client, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterParentFlowRunId, FlowRunFilterState,
                                            FlowRunFilterStateType)
from prefect.client.schemas.objects import StateType
from prefect.context import FlowRunContext
from prefect.deployments import run_deployment
from prefect.states import Cancelled

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
        parent = FlowRunContext.get().flow_run.id
        return _schedule(children, partial(_on_pool, fan_out), len(children), partial(cancel_queued_children, parent))
    if parallel == 1:
        return _schedule(children, _here, 1)
    with worker_processes(parallel, thread_count()):
        return _schedule(children, _here, parallel)


def _here(child: Child) -> Callable[[], Counter]:
    # each thread runs its child flow in a copy of this flow's context: Prefect links them as children
    context, parameters = contextvars.copy_context(), child.parameters()
    return lambda: Counter(context.run(child.flow, **parameters))


RESUBMITS = 2  # how often a crashed child goes back to the pool before the parent gives up


class ChildCrashed(RuntimeError):
    """The child's process died (its machine or worker was lost), not its code: another worker may run it."""


def crashed(_task, _task_run, state) -> bool:  # `retry_condition_fn`: retry a crashed child, not a failed one
    return isinstance(state.result(raise_on_failure=False), ChildCrashed)


@task(task_run_name="{key}", retries=RESUBMITS, retry_condition_fn=crashed, cache_policy=NO_CACHE)
def hand_to_pool(key: str, name: str, parameters: dict) -> None:
    """A flow run of the deployment `name`, waited for by Prefect's `run_deployment`; a crashed one is retried as
    a new flow run, which any worker may take (the dead one never will). Its finished steps are reused: the
    child's tasks are cached."""
    flow_run = run_deployment(name, parameters=parameters, timeout=None)
    message = f"{name}: flow run {flow_run.id} ended {flow_run.state.name}: {flow_run.state.message}"
    if flow_run.state.is_crashed():
        raise ChildCrashed(message)
    if not flow_run.state.is_completed():
        raise RuntimeError(message)


def _on_pool(fan_out: str, child: Child) -> Callable[[], Counter]:
    name, parameters = f"{child.flow.name}/{fan_out}", child.parameters()
    context = contextvars.copy_context()  # the parent flow run's: the child run is linked to it

    def run() -> Counter:
        context.run(hand_to_pool, child.key, name, parameters)
        return Counter()

    get_run_logger().info("%s handed to the work pool", child.key)
    return run


def cancel_queued_children(parent: UUID) -> None:
    """Cancel the parent's children that no worker has taken yet: after a failure they would run for nothing
    (the running ones finish, their results cached for the next run)."""
    queued = FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent]),
                           state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])))
    with get_client(sync_client=True) as client:
        for flow_run in client.read_flow_runs(flow_run_filter=queued):
            client.set_flow_run_state(flow_run.id, Cancelled(message="The parent flow run failed."))
            get_run_logger().info("%s cancelled: the parent flow run failed", flow_run.name)


def _schedule(children: list[Child], start: Callable[[Child], Callable[[], Counter]], at_once: int,
              stop_queued: Callable[[], None] = lambda: None) -> Counter:
    """Start each child once its needs have finished, `at_once` at a time, in the order given; on a failure,
    `stop_queued` stops the children started but not yet running."""
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
                stop_queued()
                wait(running)  # the running ones finish; nothing new starts
                raise failed.exception()
            for future in done:
                seconds.update(future.result())
                finished.add(running.pop(future))
    return seconds
