"""asyncio mode: the loop runs inside a running asyncio loop without blocking it, and
flowtrace tasks may await asyncio awaitables while the other tasks keep running."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from _loop_support import Collector

from flowtrace import DeadlockError, EventLoop, sleep, spawn
from flowtrace.engine.queues import AsyncQueue
from flowtrace.events import IOWaitBegan, IOWaitEnded, LoopExited, LoopStarted


def test_tasks_await_asyncio_sleep_while_others_keep_running() -> None:
    log: list[str] = []
    rec = Collector([IOWaitBegan, IOWaitEnded, LoopStarted])

    async def aio_sleeper() -> str:
        log.append("aio start")
        await asyncio.sleep(0.05)
        log.append("aio end")
        return "slept"

    async def ticker() -> None:
        for i in range(3):
            log.append(f"tick {i}")
            await sleep(0)

    async def main() -> Any:
        handle = await spawn(aio_sleeper())
        await spawn(ticker())
        return await handle.join()

    async def driver() -> Any:
        return await EventLoop().run_until_complete_async(main(), join=True, instruments=[rec])

    assert asyncio.run(driver()) == "slept"
    assert log == ["aio start", "tick 0", "tick 1", "tick 2", "aio end"]
    started, began, ended = rec.events
    assert started.asyncio_mode is True
    assert (began.task_id, began.operation) == (1, "asyncio")
    assert (ended.task_id, ended.operation, ended.outcome) == (1, "asyncio", "ready")
    assert ended.target == began.target and "Future" in began.target


def test_the_asyncio_loop_is_not_blocked_while_the_flowtrace_loop_waits() -> None:
    beats: list[int] = []

    async def heartbeat(stop: asyncio.Event) -> None:
        while not stop.is_set():
            beats.append(1)
            await asyncio.sleep(0.005)

    async def main() -> float:
        return await sleep(0.1)  # a flowtrace (real-time) sleep

    async def driver() -> float | None:
        stop = asyncio.Event()
        beat = asyncio.create_task(heartbeat(stop))
        slept = await EventLoop().run_until_complete_async(main(), join=True)
        stop.set()
        await beat
        return slept

    slept = asyncio.run(driver())
    assert slept is not None and slept >= 0.1
    assert len(beats) >= 3  # the heartbeat ran during the flowtrace sleep


def test_asyncio_streams_read_from_a_loopback_server() -> None:
    async def handle_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        writer.write(b"echo: " + line)
        await writer.drain()
        writer.close()

    async def client(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello\n")
        await writer.drain()
        data = await reader.read()
        writer.close()
        return data

    async def counter(counts: list[int]) -> None:
        for _ in range(5):
            counts.append(1)
            await sleep(0.001)

    async def driver() -> tuple[Any, int]:
        server = await asyncio.start_server(handle_client, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        counts: list[int] = []

        async def main() -> Any:
            await spawn(counter(counts))
            return await (await spawn(client(port))).join()

        async with server:
            result = await EventLoop().run_until_complete_async(main(), join=True)
        return result, len(counts)

    assert asyncio.run(driver()) == (b"echo: hello\n", 5)


def test_futures_set_by_asyncio_code_and_their_errors() -> None:
    async def driver() -> list[Any]:
        aloop = asyncio.get_running_loop()
        good: asyncio.Future[str] = aloop.create_future()
        bad: asyncio.Future[str] = aloop.create_future()

        async def main() -> list[Any]:
            # Resolved by asyncio after the task parks on them (never before, however
            # slow the machine).
            aloop.call_soon(good.set_result, "value")
            out: list[Any] = [await good]
            aloop.call_soon(bad.set_exception, KeyError("nope"))
            try:
                await bad
            except KeyError as exc:
                out.append(repr(exc))
            out.append(await asyncio.gather(asyncio.sleep(0.001, "a"), asyncio.sleep(0, "b")))
            return out

        rec = Collector([IOWaitEnded])
        result = await EventLoop().run_until_complete_async(main(), join=True, instruments=[rec])
        assert [e.outcome for e in rec.events] == ["ready", "error", "ready"]
        return list(result or [])

    assert asyncio.run(driver()) == ["value", "KeyError('nope')", ["a", "b"]]


def test_cancelling_a_task_cancels_the_asyncio_future_it_awaits() -> None:
    async def driver() -> tuple[Any, bool]:
        aloop = asyncio.get_running_loop()
        future: asyncio.Future[str] = aloop.create_future()
        rec = Collector([IOWaitEnded])

        async def waiter() -> str:
            try:
                await future
            except BaseException as exc:
                return type(exc).__name__
            return "resolved"

        async def main() -> Any:
            handle = await spawn(waiter())
            await sleep(0.01)
            return await handle.cancel()

        result = await EventLoop().run_until_complete_async(main(), join=True, instruments=[rec])
        assert [(e.operation, e.outcome) for e in rec.events] == [("asyncio", "cancelled")]
        return result, future.cancelled()

    assert asyncio.run(driver()) == ("TaskCancelled", True)


def test_a_task_exception_reaches_the_async_caller_unchanged() -> None:
    error = ValueError("from a task")

    async def main() -> None:
        await asyncio.sleep(0)
        raise error

    async def driver() -> None:
        await EventLoop().run_until_complete_async(main(), join=True)

    with pytest.raises(ValueError) as info:
        asyncio.run(driver())
    assert info.value is error


def test_deadlock_is_detected_in_asyncio_mode() -> None:
    rec = Collector([LoopExited])

    async def main() -> None:
        await AsyncQueue[int]().get()

    async def driver() -> None:
        await EventLoop().run_until_complete_async(main(), join=True, instruments=[rec])

    with pytest.raises(DeadlockError, match=r"AsyncQueue#1\.get"):
        asyncio.run(driver())
    assert rec.events[0].outcome == "deadlock"


def test_create_task_from_another_thread_wakes_the_loop_in_asyncio_mode() -> None:
    loop = EventLoop()
    queue: AsyncQueue[str] = AsyncQueue()
    waiting = threading.Event()

    async def enqueue() -> None:
        await queue.put("from thread")

    async def main() -> str:
        waiting.set()
        return await queue.get()

    waker = loop.waker("feeder")

    def feeder() -> None:
        with waker:
            assert waiting.wait(5)
            waker.create_task(enqueue())

    async def driver() -> str | None:
        thread = threading.Thread(target=feeder)
        thread.start()
        try:
            return await loop.run_until_complete_async(main(), join=True)
        finally:
            thread.join()

    assert asyncio.run(driver()) == "from thread"


def test_create_task_from_asyncio_code_in_the_same_thread_wakes_the_loop() -> None:
    loop = EventLoop()
    queue: AsyncQueue[str] = AsyncQueue()

    async def enqueue() -> None:
        await queue.put("from asyncio")

    async def main() -> str:
        return await queue.get()

    waker = loop.waker("poke")  # asyncio code that will hand the loop a task

    async def poke() -> None:
        with waker:
            await asyncio.sleep(0.01)
            loop.create_task(enqueue())

    async def driver() -> str | None:
        task = asyncio.create_task(poke())
        result = await loop.run_until_complete_async(main(), join=True)
        await task
        return result

    assert asyncio.run(driver()) == "from asyncio"


def test_virtual_time_works_in_asyncio_mode() -> None:
    async def main() -> float:
        return await sleep(3600)

    async def driver() -> float | None:
        return await EventLoop(virtual_time=True).run_until_complete_async(main(), join=True)

    assert asyncio.run(driver()) == 3600.0


def test_asyncio_wait_for_times_out_inside_a_task() -> None:
    async def main() -> str:
        try:
            await asyncio.wait_for(asyncio.sleep(10), timeout=0.01)
        except TimeoutError:
            return "timed out"
        return "finished"

    async def driver() -> str | None:
        return await EventLoop().run_until_complete_async(main(), join=True)

    assert asyncio.run(driver()) == "timed out"


def test_a_busy_flowtrace_loop_still_lets_asyncio_run() -> None:
    ticks: list[int] = []

    async def asyncio_ticker() -> None:
        for i in range(3):
            ticks.append(i)
            await asyncio.sleep(0)

    async def busy() -> int:
        steps = 0
        while len(ticks) < 3:  # only asyncio can end this loop
            await sleep(0)
            steps += 1
        return steps

    async def driver() -> int | None:
        ticker = asyncio.create_task(asyncio_ticker())
        steps = await EventLoop().run_until_complete_async(busy(), join=True)
        await ticker
        return steps

    steps = asyncio.run(driver())
    assert steps is not None and steps > 0 and ticks == [0, 1, 2]


def test_the_async_entry_point_outside_asyncio_says_what_to_do() -> None:
    async def main() -> None:
        pass

    coro = EventLoop().run_until_complete_async(main())
    with pytest.raises(RuntimeError, match="inside a running asyncio loop"):
        coro.send(None)
