"""The loop's event stream: every loop event kind is emitted with the right fields, and
a nontrivial program emits the identical sequence under any ``PYTHONHASHSEED``.

Run as a script, this file prints the event sequence of :func:`program` (used by the
determinism test in subprocesses).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from _loop_support import Collector

from flowtrace import EventLoop, TaskCancelled, current_event_loop, sleep, spawn
from flowtrace.engine.queues import AsyncQueue, AsyncSetQueue, QueueClosedError
from flowtrace.engine.sockets import socket
from flowtrace.engine.sync import Condition, CountdownLatch, Event, Lock
from flowtrace.events import (
    LOOP_EVENT_TYPES,
    AsyncQueueClosed,
    IOWaitBegan,
    LoopStarted,
    SleepBegan,
    SleepEnded,
    TaskCancelRequested,
    TaskCreatedFromThread,
    TaskFinished,
    WaitBegan,
    WaitEnded,
)
from flowtrace.testing.llm_server import LocalLLMServer
from flowtrace.testing.tls import self_signed_certificate, trusting


async def program() -> dict[str, Any]:
    """A deterministic workload touching every primitive (virtual time)."""
    queue: AsyncQueue[int] = AsyncQueue(maxsize=2)
    dedup: AsyncSetQueue[str] = AsyncSetQueue()
    lock = Lock()
    condition = Condition()
    event = Event()
    latch = CountdownLatch(2)
    totals: dict[str, Any] = {"sum": 0, "order": []}

    async def producer(base: int) -> None:
        for i in range(5):
            await queue.put(base + i)
            await sleep(0.01 * (i + 1))
        await latch.count_down()

    async def consumer(name: str) -> None:
        async for item in queue:
            async with lock:
                totals["sum"] += item
                totals["order"].append((name, item))
                await sleep(0.003)

    async def gate() -> None:
        await event.wait()
        async with condition:
            await condition.notify_all()

    async def waiter(i: int) -> int:
        async with condition:
            await condition.wait()
        await dedup.put(f"w{i % 2}")
        return i

    async def doomed() -> None:
        try:
            await sleep(100)
        except TaskCancelled:
            await sleep(0.5)
            raise

    async def failing() -> None:
        await sleep(0.2)
        raise ValueError("expected failure")

    waiters = [await spawn(waiter(i)) for i in range(3)]
    await spawn(gate())
    await spawn(producer(0))
    await spawn(producer(100))
    await spawn(consumer("a"))
    await spawn(consumer("b"))
    victim = await spawn(doomed())
    bad = await spawn(failing())
    await sleep(0.05)
    await event.set()
    await latch.wait()  # both producers done
    totals["cancel"] = await victim.cancel()
    try:
        await bad.join()
    except ValueError as exc:
        totals["error"] = str(exc)
    await queue.close()
    totals["waiters"] = [await w.join() for w in waiters]
    totals["dedup"] = sorted(dedup.items)
    return totals


def event_rows(events: list[Any]) -> list[str]:
    """Events as comparable text: kind name and every field but the clock readings."""
    rows = []
    for e in events:
        fields = {
            name: getattr(e, name)
            for name in type(e).__struct_fields__
            if name not in ("t_ns", "wall_time_ns", "run_id")
        }
        rows.append(f"{type(e).__name__} {json.dumps(fields, default=repr, sort_keys=True)}")
    return rows


def run_program() -> tuple[Any, list[Any]]:
    rec = Collector()
    loop = EventLoop(virtual_time=True)
    result = loop.run_until_complete(program(), join=True, instruments=[rec])
    return result, rec.events


def test_the_program_does_what_it_says() -> None:
    result, events = run_program()
    assert result["sum"] == sum(range(5)) + sum(range(100, 105))
    assert len(result["order"]) == 10
    assert result["cancel"] is None and result["error"] == "expected failure"
    assert result["waiters"] == [0, 1, 2] and result["dedup"] == ["w0", "w1"]
    assert len(events) > 100


def test_event_sequence_is_identical_under_any_hash_seed() -> None:
    outputs = []
    for seed in ("0", "1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run(
            [sys.executable, __file__],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        outputs.append(done.stdout)
    assert outputs[0].count("\n") > 100
    assert outputs[0] == outputs[1] == outputs[2]
    # and the same as in this process
    _result, events = run_program()
    assert outputs[0].splitlines() == event_rows(events)


def test_every_loop_event_kind_is_emitted(tmp_path: Path) -> None:
    """One run that exercises every loop event kind; the fields of the kinds not
    pinned by the primitive tests are checked here."""
    rec = Collector()
    loop = EventLoop(virtual_time=True)
    ready = threading.Event()
    cert, key = self_signed_certificate(tmp_path)

    handed_over = Event()

    async def from_thread() -> str:
        await handed_over.set()
        return "thread task"

    async def main() -> None:
        await program()
        # sockets (IOWaitBegan/IOWaitEnded)
        server = socket()
        server.bind(("127.0.0.1", 0))
        server.listen()

        async def serve() -> None:
            conn, _ = await server.accept()
            conn.close()

        handle = await spawn(serve())
        client = socket()
        client.connect(server.getsockname())
        await handle.join()
        client.close()
        server.close()
        # a TLS handshake on the loop (TLSHandshakeCompleted)
        with LocalLLMServer(certfile=str(cert), keyfile=str(key)) as tls_server, trusting(cert):
            tls = socket(use_tls=True, server_hostname="localhost")
            await tls.connect_async(("127.0.0.1", tls_server.port))
            tls.close()
        # a closed queue waking a getter (AsyncQueueClosed.woken, WaitEnded "closed")
        queue: AsyncQueue[int] = AsyncQueue()

        async def getter() -> None:
            with contextlib.suppress(QueueClosedError):
                await queue.get()

        await spawn(getter())
        await sleep(0)
        await queue.close()
        # a task handed over by another thread (TaskCreatedFromThread)
        ready.set()
        await handed_over.wait()  # nothing else to do: the loop blocks until woken

    waker = loop.waker("feeder")  # the thread will hand the loop a task

    def other() -> None:
        with waker:
            assert ready.wait(5)
            loop.create_task(from_thread(), name="threaded")

    thread = threading.Thread(target=other, name="feeder")
    thread.start()
    loop.run_until_complete(main(), instruments=[rec])
    thread.join()

    emitted = {type(e) for e in rec.events}
    assert set(LOOP_EVENT_TYPES) <= emitted, set(LOOP_EVENT_TYPES) - emitted

    (started,) = rec.of(LoopStarted)
    assert started.virtual_time is True and started.wall_time_ns > 0
    (from_other,) = rec.of(TaskCreatedFromThread)
    assert from_other.thread_name == "feeder"
    finished = {e.task_id: e for e in rec.of(TaskFinished)}
    assert finished[from_other.task_id].outcome == "returned"
    assert finished[from_other.task_id].result == "thread task"
    (cancel,) = rec.of(TaskCancelRequested)
    assert cancel.by_task_id == 0 and cancel.first_request
    assert finished[cancel.task_id].outcome == "cancelled"
    cancelled_sleeps = [e for e in rec.of(SleepEnded) if e.cancelled]
    assert [e.task_id for e in cancelled_sleeps] == [cancel.task_id]
    assert 0.1 < cancelled_sleeps[0].slept < 0.2  # cancelled once the producers were done
    first_sleep = rec.of(SleepBegan)[0]
    assert first_sleep.duration == 0.01 and first_sleep.deadline == 0.01
    closed = rec.of(AsyncQueueClosed)[-1]
    assert len(closed.woken) == 1
    assert [e.outcome for e in rec.of(WaitEnded) if e.task_id == closed.woken[0]] == ["closed"]
    ops = [e.operation for e in rec.of(IOWaitBegan)]
    assert "connect" in ops and "accept" in ops
    primitives = {e.primitive for e in rec.of(WaitBegan)}
    assert primitives == {"event", "lock", "condition", "queue", "latch", "join"}
    current = current_event_loop()
    assert current is None


if __name__ == "__main__":
    _result, _events = run_program()
    sys.stdout.write("".join(row + "\n" for row in event_rows(_events)))
