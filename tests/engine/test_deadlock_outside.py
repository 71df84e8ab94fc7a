"""Deadlock detection does not depend on what else the process runs.

Other threads and other asyncio tasks do not keep a blocked loop waiting: they only
delay the report by ``UNREGISTERED_GRACE`` (1 s). What the loop knows of does (sockets,
adopted asyncio futures, open ``loop.waker()`` registrations, threads that handed it a
task while they live); when only those are left and nothing runs for
``deadlock_timeout`` seconds, the watchdog raises the same ``DeadlockError``.

Flows that could hang before the fix are run in a daemon thread or a subprocess with
a bound, so a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _loop_support import Collector, outcome_in_daemon_thread

from flowtrace import DeadlockError, Event, EventLoop, FlowHDL, node, sleep, spawn
from flowtrace.engine.loop import UNREGISTERED_GRACE
from flowtrace.engine.queues import AsyncQueue
from flowtrace.events import DeadlockDetected

ROOT = Path(__file__).resolve().parents[2]

#: Generous bound for "promptly": the default watchdog is minutes, a detection is ms.
PROMPT = 5.0


def _flow_waiting_on_an_unset_event() -> FlowHDL:
    gate = Event()

    @node
    async def Waiter(x: int = 0) -> int:
        await gate.wait()
        return x

    with FlowHDL() as f:
        f.waiter = Waiter()
    return f


def _timed_run(f: FlowHDL) -> tuple[BaseException | None, float]:
    start = time.perf_counter()
    try:
        f.run_until_complete()
    except BaseException as exc:
        return exc, time.perf_counter() - start
    return None, time.perf_counter() - start


# ------------------------------------------------------------------ threads do not count


def test_a_flow_run_from_a_worker_thread_waiting_on_an_unset_event_is_a_deadlock() -> None:
    # The main thread (non-daemon) stays alive in join(): it must not count as a waker.
    f = _flow_waiting_on_an_unset_event()
    error, elapsed = outcome_in_daemon_thread(lambda: _timed_run(f))
    assert isinstance(error, DeadlockError)
    assert "waiter" in str(error) and "Event#1.wait()" in str(error)
    assert elapsed < PROMPT


def test_the_report_names_the_unregistered_threads_it_waited_for() -> None:
    f = _flow_waiting_on_an_unset_event()
    error, elapsed = outcome_in_daemon_thread(lambda: _timed_run(f))
    assert isinstance(error, DeadlockError)
    assert elapsed >= UNREGISTERED_GRACE
    assert (
        f"(waited {UNREGISTERED_GRACE:g} s for thread 'MainThread', alive but not "
        "registered: code that will hand the loop work holds `loop.waker()`)"
    ) in str(error)


def test_an_unregistered_thread_calling_in_within_the_grace_is_waited_for() -> None:
    # Flowno's own suite (test_create_task_runs2): a thread started before the run
    # calls create_task 0.1 s after the loop blocked on an empty queue.
    loop = EventLoop()
    queue: AsyncQueue[str] = AsyncQueue()

    async def put() -> None:
        await queue.put("hello")

    def caller() -> None:
        time.sleep(0.1)
        loop.create_task(put())

    async def main() -> str:
        return await queue.get()

    threading.Thread(target=caller).start()
    assert outcome_in_daemon_thread(lambda: loop.run_until_complete(main(), join=True)) == ("hello")


def test_a_live_thread_pool_does_not_turn_detection_off() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert pool.submit(int, "7").result() == 7  # its worker threads are alive now
        f = _flow_waiting_on_an_unset_event()
        error, elapsed = outcome_in_daemon_thread(lambda: _timed_run(f))
    assert isinstance(error, DeadlockError)
    assert elapsed < PROMPT


def test_the_stalled_stream_example_deadlocks_beside_a_live_thread_pool() -> None:
    # In the main thread of a fresh process, as a user script would run it.
    program = (
        "import runpy\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "pool = ThreadPoolExecutor(max_workers=1)\n"
        "pool.submit(int).result()\n"
        f"runpy.run_path({str(ROOT / 'examples' / 'deadlock.py')!r}, run_name='__main__')\n"
        "pool.shutdown()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "DeadlockError:",
        "  producer: running, blocked on Event#1.wait() (not set)",
        "  reader: stalled reading input 0 (`items`) from producer (executing)",
    ]


def test_a_pending_unrelated_asyncio_task_does_not_turn_detection_off() -> None:
    f = _flow_waiting_on_an_unset_event()

    async def driver() -> BaseException | None:
        unrelated = asyncio.create_task(asyncio.sleep(3600))  # every server has some
        try:
            await asyncio.wait_for(f.run_until_complete_async(), 10)
        except (DeadlockError, TimeoutError) as exc:
            return exc
        finally:
            unrelated.cancel()
        return None

    start = time.perf_counter()
    error = asyncio.run(driver())
    assert isinstance(error, DeadlockError), error
    assert time.perf_counter() - start < PROMPT


def test_a_thread_that_handed_the_loop_a_task_counts_while_it_lives() -> None:
    loop = EventLoop()
    queue: AsyncQueue[int] = AsyncQueue()
    running = threading.Event()
    first_sent = threading.Event()

    async def put(item: int) -> None:
        await queue.put(item)

    def feeder() -> None:
        assert running.wait(5)
        loop.create_task(put(1))  # from now on a known waker, while it is alive
        first_sent.set()
        time.sleep(0.2)  # the loop is idle meanwhile, with nothing but this thread
        loop.create_task(put(2))

    async def main() -> list[int]:
        running.set()
        while not first_sent.is_set():
            await sleep(0.005)
        return [await queue.get(), await queue.get()]

    thread = threading.Thread(target=feeder, daemon=True)
    thread.start()
    try:
        assert loop.run_until_complete(main(), join=True) == [1, 2]
    finally:
        thread.join(5)


def test_once_a_feeding_thread_ended_a_blocked_loop_is_a_deadlock() -> None:
    loop = EventLoop()
    queue: AsyncQueue[int] = AsyncQueue()
    sent = threading.Event()

    running = threading.Event()

    async def put(item: int) -> None:
        await queue.put(item)

    def feeder() -> None:
        assert running.wait(5)
        loop.create_task(put(1))
        sent.set()

    async def main() -> None:
        running.set()
        while not sent.is_set():
            await sleep(0.005)
        await queue.get()
        await queue.get()  # nobody else will put

    threading.Thread(target=feeder, daemon=True).start()
    error = outcome_in_daemon_thread(lambda: loop.run_until_complete(main(), join=True))
    assert isinstance(error, DeadlockError)
    assert "AsyncQueue#1.get()" in str(error)


# ------------------------------------------------------------------ wakers


def test_an_open_waker_keeps_a_blocked_loop_waiting_and_closing_it_reports_at_once() -> None:
    loop = EventLoop(deadlock_timeout=None)
    queue: AsyncQueue[int] = AsyncQueue()
    waker = loop.waker("feeder")
    closed_at: list[float] = []

    async def main() -> None:
        await queue.get()

    def close_later() -> None:
        time.sleep(0.2)
        closed_at.append(time.perf_counter())
        waker.close()

    threading.Thread(target=close_later, daemon=True).start()
    error = outcome_in_daemon_thread(lambda: loop.run_until_complete(main(), join=True))
    ended = time.perf_counter()
    assert isinstance(error, DeadlockError)
    assert closed_at, "the run ended before the waker was closed"
    assert ended - closed_at[0] < PROMPT
    assert waker.closed


def test_a_waker_can_be_used_as_a_context_manager_and_hands_over_tasks() -> None:
    loop = EventLoop()
    queue: AsyncQueue[str] = AsyncQueue()

    async def put() -> None:
        await queue.put("via waker")

    waker = loop.waker()
    assert repr(waker).endswith("open>")

    def feeder() -> None:
        with waker:
            time.sleep(0.05)
            waker.create_task(put())

    threading.Thread(target=feeder, daemon=True).start()

    async def main() -> str:
        return await queue.get()

    assert outcome_in_daemon_thread(lambda: loop.run_until_complete(main(), join=True)) == (
        "via waker"
    )
    assert waker.closed


# ------------------------------------------------------------------ the watchdog


def test_the_watchdog_reports_an_open_waker_that_never_delivers() -> None:
    loop = EventLoop(deadlock_timeout=0.2)
    queue: AsyncQueue[int] = AsyncQueue()
    waker = loop.waker("silent feeder")

    async def main() -> None:
        await queue.get()

    start = time.perf_counter()
    error = outcome_in_daemon_thread(lambda: loop.run_until_complete(main(), join=True))
    elapsed = time.perf_counter() - start
    waker.close()
    assert isinstance(error, DeadlockError)
    assert 0.2 <= elapsed < PROMPT
    message = str(error)
    assert message.startswith("deadlock (watchdog): nothing ran for ")
    assert "deadlock_timeout=0.2 s" in message and "waker 'silent feeder'" in message
    assert "AsyncQueue#1.get()" in message


def test_the_watchdog_reports_an_asyncio_future_nobody_resolves_naming_the_node() -> None:
    rec = Collector([DeadlockDetected])

    @node
    async def Awaiter(x: int = 0) -> int:
        await asyncio.get_running_loop().create_future()  # nobody will resolve it
        return x

    with FlowHDL(deadlock_timeout=0.2) as f:
        f.awaiter = Awaiter()

    async def driver() -> None:
        await f.run_until_complete_async(instruments=[rec])

    start = time.perf_counter()
    with pytest.raises(DeadlockError) as info:
        asyncio.run(asyncio.wait_for(driver(), 10))
    assert 0.2 <= time.perf_counter() - start < PROMPT
    message = str(info.value)
    assert message.startswith("deadlock (watchdog)")
    assert "1 asyncio future(s)" in message and "node 'awaiter'" in message
    (detected,) = rec.of(DeadlockDetected)
    assert [w.node_id for w in detected.waiting] == ["awaiter"]


def test_progress_restarts_the_watchdog() -> None:
    # Six waits on asyncio futures, 0.15 s each: 0.9 s in all, never 0.6 s without
    # progress (the margin absorbs a slow, shared machine).
    loop = EventLoop(deadlock_timeout=0.6)

    async def main() -> int:
        aloop = asyncio.get_running_loop()
        for _ in range(6):
            future: asyncio.Future[None] = aloop.create_future()
            aloop.call_later(0.15, future.set_result, None)
            await future
        return 6

    async def driver() -> int | None:
        return await loop.run_until_complete_async(main(), join=True)

    assert asyncio.run(driver()) == 6


def test_a_timer_is_progress_to_come_so_the_watchdog_leaves_sleepers_alone() -> None:
    loop = EventLoop(deadlock_timeout=0.05)
    waker = loop.waker()

    async def main() -> float:
        return await sleep(0.2)  # longer than the watchdog's time, with a waker open

    try:
        slept = loop.run_until_complete(main(), join=True)
        assert slept is not None and slept >= 0.2
    finally:
        waker.close()


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_deadlock_timeout_must_be_positive_or_none(bad: float) -> None:
    with pytest.raises(ValueError, match="deadlock_timeout must be a positive number"):
        EventLoop(deadlock_timeout=bad)


# ------------------------------------------------------------------ spawned tasks


def test_a_blocked_spawned_task_is_named_as_a_task_of_its_node() -> None:
    gate = Event()

    async def helper() -> None:
        await gate.wait()

    @node
    async def Spawner(x: int = 0) -> int:
        await spawn(helper())
        return x

    with FlowHDL() as f:
        f.spawner = Spawner()
    with pytest.raises(DeadlockError) as info:
        f.run_until_complete()
    message = str(info.value)
    assert "node 'spawner' " not in message  # the node finished; its task waits
    assert (
        "task 'test_a_blocked_spawned_task_is_named_as_a_task_of_its_node.<locals>.helper'"
        " (spawned by node 'spawner') blocked on Event#1.wait() (not set)" in message
    )
    assert "while nodes or their tasks still wait" in message
    assert info.value.waiting == [
        (
            "test_a_blocked_spawned_task_is_named_as_a_task_of_its_node.<locals>.helper",
            "task (spawned by node 'spawner') blocked on Event#1.wait() (not set)",
        )
    ]


def test_a_long_offloaded_call_is_progress_to_come_not_a_stall() -> None:
    # Work running on an executor ends by itself: the watchdog must not cut it short.
    from flowtrace.offload import offload

    @node
    async def Slow(x: int = 0) -> float:
        return float(await offload(time.sleep, 0.5) is None)

    with FlowHDL(deadlock_timeout=0.1) as f:
        f.slow = Slow()
    with ThreadPoolExecutor(max_workers=1) as pool:
        error = outcome_in_daemon_thread(lambda: f.run_until_complete(executors={"default": pool}))
    assert error is None
    assert f.slow.get_data() == (1.0,)
