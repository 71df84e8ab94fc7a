"""The offload API: node bodies and single calls run on an executor of the run, the
node's task waits without blocking the loop, and the trace says where each ran."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from _events import Collector

from flowtrace import FlowHDL, Stream, node, sleep
from flowtrace.events import (
    NodeErrored,
    OffloadFinished,
    OffloadStarted,
    OffloadSubmitted,
    StreamItemConsumed,
)
from flowtrace.offload import OffloadError, offload, offload_to

from .offload_workloads import (
    GATE,
    AsyncSquare,
    AwaitsOnWorker,
    DivMod,
    Nap,
    Square,
    WorkerPid,
    add,
    nap,
    pid,
    wait_for_gate,
)


def test_a_node_body_marked_offload_runs_in_a_worker_process(pool: ProcessPoolExecutor) -> None:
    with FlowHDL() as f:
        f.w = WorkerPid(7)
    events = Collector()
    f.run_until_complete(executors={"default": pool}, instruments=[events])
    x, worker_pid = f.w.get_data()[0]
    assert x == 7 and worker_pid != os.getpid()
    (submitted,) = events.of(OffloadSubmitted)
    (started,) = events.of(OffloadStarted)
    (finished,) = events.of(OffloadFinished)
    assert (submitted.node_id, submitted.executor, submitted.function, submitted.body) == (
        "w",
        "default",
        "WorkerPid",
        True,
    )
    assert submitted.executor_kind == "ProcessPoolExecutor, 2 workers"
    assert started.pid == worker_pid and started.worker == f"pid {worker_pid}"
    assert started.queue_ns >= 0 and started.started_t_ns >= submitted.t_ns
    assert finished.outcome == "returned" and finished.run_ns is not None
    assert submitted.seq < started.seq < finished.seq


def test_offload_inside_a_node_passes_positional_and_keyword_arguments(
    pool: ProcessPoolExecutor,
) -> None:
    @node
    async def Combine(a: int, b: int) -> tuple[int, int]:
        return await offload(add, a, b, scale=10), await offload(pid)

    with FlowHDL() as f:
        f.c = Combine(1, 2)
    f.run_until_complete(executors=pool)
    total, worker_pid = f.c.get_data()[0]
    assert total == 30 and worker_pid != os.getpid()


def test_a_named_executor_is_used_by_executor_nodes_and_offload_to(
    threads: ThreadPoolExecutor,
    pool: ProcessPoolExecutor,
) -> None:
    @node
    async def OnThreads(x: int) -> int:
        remote_pid: int = await offload_to("io", pid)
        return remote_pid - os.getpid() + x

    with FlowHDL() as f:
        f.sq = Square(9)
        f.t = OnThreads(5)
    events = Collector([OffloadSubmitted, OffloadStarted])
    f.run_until_complete(executors={"cpu": pool, "io": threads}, instruments=[events])
    assert f.sq.get_data() == (81,)
    assert f.t.get_data() == (5,)  # the thread pool runs in this very process
    by_node = {e.node_id: e for e in events.of(OffloadSubmitted)}
    assert by_node["sq"].executor == "cpu" and by_node["t"].executor == "io"
    workers = {e.node_id: e.worker for e in events.of(OffloadStarted)}
    assert workers["t"].startswith("thread offload-test")


def test_async_bodies_and_multiple_outputs_offload_too(pool: ProcessPoolExecutor) -> None:
    with FlowHDL() as f:
        f.a = AsyncSquare(4)
        f.d = DivMod(17, 5)
    f.run_until_complete(executors=pool)
    assert f.a.get_data() == (16,)
    assert f.d.get_data() == (3, 2)


def test_an_offloaded_async_body_that_awaits_fails_with_a_clear_error(
    pool: ProcessPoolExecutor,
) -> None:
    with FlowHDL() as f:
        f.a = AwaitsOnWorker(1)
    events = Collector([OffloadFinished])
    with pytest.raises(RuntimeError, match="no event loop runs"):
        f.run_until_complete(executors=pool, instruments=[events])
    (finished,) = events.of(OffloadFinished)
    assert finished.outcome == "raised" and finished.error is not None
    assert finished.error.type == "RuntimeError"


def test_other_nodes_keep_running_while_a_node_waits_for_its_call(
    threads: ThreadPoolExecutor,
) -> None:
    # The offloaded call cannot finish before the ticker has ticked five times (it
    # waits for the gate the ticker opens), so the loop must run the ticker meanwhile.
    GATE.clear()

    @node
    async def Waits(x: int) -> bool:
        return bool(await offload(wait_for_gate, 30.0))

    @node
    async def Ticker(n: int) -> AsyncIterator[int]:
        for i in range(n):
            await sleep(0.01)
            yield i
        GATE.set()

    @node(stream_in=["ticks"])
    async def Count(ticks: Stream[int]) -> int:
        count = 0
        async for _ in ticks:
            count += 1
        return count

    with FlowHDL() as f:
        f.waits = Waits(0)
        f.ticks = Ticker(5)
        f.count = Count(f.ticks)
    events = Collector([OffloadSubmitted, OffloadFinished, StreamItemConsumed])
    f.run_until_complete(executors=threads, instruments=[events])
    (submitted,) = events.of(OffloadSubmitted)
    (finished,) = events.of(OffloadFinished)
    during = [e for e in events.of(StreamItemConsumed) if submitted.seq < e.seq < finished.seq]
    assert len(during) == 5  # every tick was consumed while the call waited
    assert f.waits.get_data() == (True,) and f.count.get_data() == (5,)


def test_a_call_in_flight_is_not_a_deadlock(pool: ProcessPoolExecutor) -> None:
    # The only node waits on its call: nothing in the loop can run, no timer or socket
    # is pending, yet the worker will wake it.
    with FlowHDL() as f:
        f.n = Nap(0.2)
    f.run_until_complete(executors=pool)
    assert f.n.get_data() == (0.2,)


def test_a_call_in_flight_counts_as_a_waker_when_no_other_thread_lives() -> None:
    # In a process of its own, with an executor whose threads are daemons: only the
    # call in flight keeps the loop from reporting a deadlock.
    program = Path(__file__).with_name("_in_flight_program.py")
    done = subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(42,)"


def test_offload_works_when_the_flow_runs_inside_asyncio(pool: ProcessPoolExecutor) -> None:
    @node
    async def Mixed(x: int) -> int:
        await asyncio.sleep(0.01)
        total: int = await offload(add, x, 1)
        return total

    with FlowHDL() as f:
        f.m = Mixed(41)
        f.w = WorkerPid(3)

    async def main() -> None:
        await f.run_until_complete_async(executors=pool)

    asyncio.run(main())
    assert f.m.get_data() == (42,)
    assert f.w.get_data()[0][1] != os.getpid()


def test_without_executors_a_default_process_pool_is_made_and_shut_down_at_run_end() -> None:
    before = {p.pid for p in multiprocessing.active_children()}
    with FlowHDL() as f:
        f.w = WorkerPid(1)
    f.run_until_complete()
    assert f.w.get_data()[0][1] != os.getpid()
    after = {p.pid for p in multiprocessing.active_children()}
    assert after <= before  # the run's own pool is gone with the run


def test_a_run_that_offloads_nothing_starts_no_pool() -> None:
    @node
    async def Plain(x: int) -> int:
        return x

    before = {p.pid for p in multiprocessing.active_children()}
    with FlowHDL() as f:
        f.p = Plain(1)
    f.run_until_complete()
    assert {p.pid for p in multiprocessing.active_children()} == before


def test_an_unknown_executor_name_fails_the_node_naming_it(pool: ProcessPoolExecutor) -> None:
    with FlowHDL() as f:
        f.sq = Square(3)
    events = Collector([NodeErrored])
    with pytest.raises(OffloadError, match=r"no executor named 'cpu' .*executors given: gpu"):
        f.run_until_complete(executors={"gpu": pool}, instruments=[events])
    assert events.of(NodeErrored)[0].node_id == "sq"


def test_executors_must_be_executors() -> None:
    with FlowHDL() as f:
        f.sq = Square(3)
    with pytest.raises(TypeError, match=r"executors\['cpu'\] must be a concurrent.futures"):
        f.run_until_complete(executors={"cpu": 4})
    with pytest.raises(TypeError, match="executor names must be strings"):
        f.run_until_complete(executors={1: ThreadPoolExecutor(1)})


def test_offload_outside_a_running_flow_is_a_clear_error() -> None:
    with pytest.raises(OffloadError, match="inside a node of a running flow"):
        asyncio.run(offload(pid))


def test_the_decorator_refuses_what_cannot_be_offloaded() -> None:
    with pytest.raises(TypeError, match="cannot offload the streaming node Gen"):

        @node(offload=True)
        async def Gen(x: int) -> AsyncIterator[int]:
            yield x

    with pytest.raises(TypeError, match="stateful node class Acc"):

        @node(offload=True)
        class Acc:
            total = 0

            async def call(self, x: int) -> int:
                return x

    with pytest.raises(ValueError, match="contradicts itself"):
        node(offload=False, executor="cpu")
    with pytest.raises(TypeError, match="takes the name of an executor"):
        node(executor=ThreadPoolExecutor(1))  # type: ignore[call-overload]


def test_results_are_the_same_as_running_in_the_loop(pool: ProcessPoolExecutor) -> None:
    @node
    async def InLoop(x: int) -> int:
        return x * x

    results = []
    for offloaded in (True, False):
        with FlowHDL() as f:
            f.a = (Square if offloaded else InLoop)(6)
        f.run_until_complete(executors={"cpu": pool})
        results.append(f.a.get_data())
    assert results[0] == results[1] == (36,)


def test_a_call_is_submitted_in_program_order(pool: ProcessPoolExecutor) -> None:
    @node
    async def Several(n: int) -> list[float]:
        out = []
        for i in range(n):
            out.append(await offload(nap, 0.0, i))
        return out

    with FlowHDL() as f:
        f.s = Several(3)
    events = Collector([OffloadSubmitted, OffloadFinished])
    f.run_until_complete(executors=pool, instruments=[events])
    assert f.s.get_data() == ([0, 1, 2],)
    assert [(type(e).__name__, e.call_id) for e in events.events] == [
        ("OffloadSubmitted", 0),
        ("OffloadFinished", 0),
        ("OffloadSubmitted", 1),
        ("OffloadFinished", 1),
        ("OffloadSubmitted", 2),
        ("OffloadFinished", 2),
    ]
