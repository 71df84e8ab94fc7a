"""Sleeps of any length: ``inf`` waits for a cancellation (alone, a deadlock), a huge
finite sleep simply sleeps (the selector never sees a timeout it cannot take), NaN is
refused at the call. And what a task spawned by a node that never ends does to a run."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from _loop_support import Collector, outcome_in_daemon_thread, run

from flowtrace import (
    DeadlockError,
    EventLoop,
    FlowHDL,
    TaskCancelled,
    TaskHandle,
    node,
    sleep,
    spawn,
)
from flowtrace.events import SleepBegan, SleepEnded


def test_an_infinite_sleep_with_nothing_else_to_run_is_a_deadlock() -> None:
    async def main() -> None:
        await sleep(float("inf"))

    start = time.perf_counter()
    with pytest.raises(DeadlockError, match=r"sleep\(inf\), which only a cancellation ends"):
        EventLoop().run_until_complete(main(), join=True)
    assert time.perf_counter() - start < 5.0


def test_an_infinite_sleep_in_a_node_is_a_deadlock_naming_the_node() -> None:
    @node
    async def Forever(x: int = 0) -> int:
        await sleep(float("inf"))
        return x

    with FlowHDL() as f:
        f.forever = Forever()
    for virtual_time in (False, True):
        with pytest.raises(DeadlockError, match=r"node 'forever' running, blocked on sleep\(inf"):
            f.run_until_complete(virtual_time=virtual_time)


def test_an_infinite_sleep_ends_when_cancelled() -> None:
    rec = Collector([SleepBegan, SleepEnded])

    async def sleeper() -> str:
        try:
            await sleep(float("inf"))
        except TaskCancelled:
            return "cancelled"
        return "woke"

    async def main() -> Any:
        handle = await spawn(sleeper())
        await sleep(0.5)
        return await handle.cancel()

    assert run(main(), instruments=[rec]) == "cancelled"
    # Schema 2.0: a sleep without end has no duration and no deadline (JSON has no inf).
    infinite = [e for e in rec.of(SleepBegan) if e.duration is None]
    assert len(infinite) == 1 and infinite[0].deadline is None
    ended = [e for e in rec.of(SleepEnded) if e.task_id == infinite[0].task_id]
    assert [e.cancelled for e in ended] == [True]


def _cancel_a_huge_sleep_from_outside(loop: EventLoop, seconds: float) -> Any:
    """A task sleeps ``seconds`` (the earliest timer, so the loop blocks on it); a
    thread hands the loop a canceller 0.1 s later."""
    sleeping = threading.Event()
    holder: list[TaskHandle[Any]] = []

    async def sleeper() -> str:
        try:
            await sleep(seconds)
        except TaskCancelled:
            return "cancelled"
        return "woke"

    async def canceller() -> None:
        await holder[0].cancel()

    async def main() -> Any:
        holder.append(await spawn(sleeper()))
        sleeping.set()
        return await holder[0].join()

    waker = loop.waker("canceller")

    def outside() -> None:
        with waker:
            assert sleeping.wait(5)
            time.sleep(0.1)
            waker.create_task(canceller())

    threading.Thread(target=outside, daemon=True).start()
    return main


@pytest.mark.parametrize("seconds", [1e12, 1e300])
def test_a_huge_finite_sleep_blocks_without_overflowing_the_selector(seconds: float) -> None:
    loop = EventLoop()
    main = _cancel_a_huge_sleep_from_outside(loop, seconds)
    # The sleeper's join returns what it returned while handling the cancellation.
    assert loop.run_until_complete(main(), join=True) == "cancelled"


def test_a_huge_finite_sleep_in_asyncio_mode_blocks_without_overflow() -> None:
    loop = EventLoop()
    main = _cancel_a_huge_sleep_from_outside(loop, 1e12)

    async def driver() -> Any:
        return await loop.run_until_complete_async(main(), join=True)

    assert asyncio.run(asyncio.wait_for(driver(), 10)) == "cancelled"


def test_a_huge_sleep_on_the_virtual_clock_completes_at_once() -> None:
    async def main() -> float:
        return await sleep(1e12)

    assert run(main()) == 1e12


def test_sleeping_nan_seconds_is_refused_at_the_call() -> None:
    async def main() -> None:
        await sleep(float("nan"))

    error = outcome_in_daemon_thread(lambda: run(main()))
    assert isinstance(error, ValueError)
    assert str(error) == "sleep() needs a number of seconds, got nan"


def test_a_node_sleeping_nan_seconds_fails_with_that_error() -> None:
    @node
    async def Nap(x: int = 0) -> int:
        await sleep(float("nan"))
        return x

    with FlowHDL() as f:
        f.nap = Nap()
    error = outcome_in_daemon_thread(f.run_until_complete)
    assert isinstance(error, ValueError) and "needs a number of seconds" in str(error)


def test_a_run_waits_for_a_task_its_node_spawned_until_that_task_is_cancelled() -> None:
    # As in Flowno, a run lasts as long as the tasks its nodes spawn: a ticker that
    # never ends keeps it going until something cancels it (docs/DESIGN.md §12).
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(await sleep(1.0))

    @node
    async def Start(x: int = 0) -> Any:
        return await spawn(ticker())

    @node
    async def Stop(handle: Any) -> int:
        await sleep(3.5)
        await handle.cancel()
        return len(ticks)

    with FlowHDL() as f:
        f.start = Start()
        f.stop = Stop(f.start)
    f.run_until_complete(virtual_time=True)
    assert f.stop.get_data() == (3,)
