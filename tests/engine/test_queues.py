"""AsyncQueue, AsyncSetQueue, AsyncMapQueue: order, blocking, closing, events, azip."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from _loop_support import Collector, run

from flowtrace import current_event_loop, sleep, spawn
from flowtrace.engine.commands import azip
from flowtrace.engine.queues import AsyncMapQueue, AsyncQueue, AsyncSetQueue, QueueClosedError
from flowtrace.events import AsyncQueueClosed, AsyncQueueGot, AsyncQueuePut, WaitBegan, WaitEnded


def now() -> float:
    loop = current_event_loop()
    assert loop is not None
    return loop.time()


def test_fifo_order() -> None:
    async def main() -> list[int]:
        queue: AsyncQueue[int] = AsyncQueue()
        for i in (1, 2, 3):
            await queue.put(i)
        assert len(queue) == 3 and list(queue.items) == [1, 2, 3]
        assert await queue.peek() == 1
        return [await queue.get() for _ in range(3)]

    assert run(main()) == [1, 2, 3]


def test_single_producer_and_consumer_with_gaps() -> None:
    async def main() -> tuple[int, float]:
        queue: AsyncQueue[int] = AsyncQueue()

        async def producer() -> None:
            for i in range(10):
                await queue.put(i)
                await sleep(0.1)
            await queue.close()

        await spawn(producer())
        total = 0
        async for item in queue:
            total += item
        return total, now()

    total, elapsed = run(main())
    assert total == 45 and elapsed == pytest.approx(1.0)


def test_two_producers_one_consumer_until_close() -> None:
    async def main() -> tuple[int, float]:
        queue: AsyncQueue[int] = AsyncQueue()

        async def producer() -> None:
            for i in range(10):
                await queue.put(i)
                await sleep(0.1)

        first = await spawn(producer())
        second = await spawn(producer())

        async def close_after() -> None:
            await first.join()
            await second.join()
            await queue.close()

        await spawn(close_after())
        total = 0
        async for item in queue:
            total += item
        return total, now()

    total, elapsed = run(main())
    assert total == 90 and elapsed == pytest.approx(1.0)


def test_one_producer_two_consumers() -> None:
    async def main() -> tuple[int, int, float]:
        queue: AsyncQueue[int] = AsyncQueue()

        async def producer() -> None:
            for i in range(10):
                await queue.put(i)
                await sleep(0.1)
            await queue.close()

        async def consumer() -> int:
            total = 0
            async for item in queue:
                total += item
            return total

        await spawn(producer())
        a = await spawn(consumer())
        b = await spawn(consumer())
        return await a.join(), await b.join(), now()

    a, b, elapsed = run(main())
    assert a + b == 45 and a > 0 and b > 0 and elapsed == pytest.approx(1.0)


def test_maxsize_blocks_the_putter_until_a_get_makes_room() -> None:
    log: list[str] = []

    async def main() -> None:
        queue: AsyncQueue[str] = AsyncQueue(maxsize=1)

        async def producer() -> None:
            for item in "abc":
                await queue.put(item)
                log.append(f"put {item}")

        await spawn(producer())
        await sleep(1)
        log.append("consuming")
        for _ in range(3):
            log.append(f"got {await queue.get()}")
        await sleep(0)

    run(main())
    assert log == ["put a", "consuming", "got a", "put b", "got b", "put c", "got c"]


def test_closing_wakes_a_blocked_getter_and_a_blocked_putter() -> None:
    async def main() -> list[str]:
        empty: AsyncQueue[int] = AsyncQueue()
        full: AsyncQueue[int] = AsyncQueue(maxsize=1)
        await full.put(0)
        outcomes: list[str] = []

        async def getter() -> None:
            try:
                await empty.get()
            except QueueClosedError:
                outcomes.append("getter: closed")

        async def putter() -> None:
            try:
                await full.put(1)
            except QueueClosedError:
                outcomes.append("putter: closed")

        g = await spawn(getter())
        p = await spawn(putter())
        await sleep(0.1)
        await empty.close()
        await full.close()
        await g.join()
        await p.join()
        assert full.closed and full.is_closed()
        assert await full.get() == 0  # items left are still delivered
        return outcomes

    assert run(main()) == ["getter: closed", "putter: closed"]


def test_putting_to_a_closed_queue_is_a_clear_error() -> None:
    async def main() -> None:
        queue: AsyncQueue[int] = AsyncQueue()
        await queue.close()
        await queue.put(1)

    with pytest.raises(QueueClosedError, match="put to a closed queue"):
        run(main())


def test_get_on_a_closed_empty_queue_raises() -> None:
    async def main() -> None:
        queue: AsyncQueue[int] = AsyncQueue()
        await queue.close()
        await queue.close()  # idempotent
        await queue.get()

    with pytest.raises(QueueClosedError, match="closed and empty"):
        run(main())


def test_peek_waits_for_an_item_without_taking_it() -> None:
    async def main() -> tuple[int, int, int]:
        queue: AsyncQueue[int] = AsyncQueue()

        async def peeker() -> int:
            return await queue.peek()

        handle = await spawn(peeker())
        await sleep(0.1)
        await queue.put(7)
        return await handle.join(), len(queue), await queue.get()

    assert run(main()) == (7, 1, 7)


def test_until_empty_drains_then_closes() -> None:
    async def main() -> tuple[list[int], bool]:
        queue: AsyncQueue[int] = AsyncQueue()
        for i in range(3):
            await queue.put(i)
        seen = [item async for item in queue.until_empty()]
        return seen, queue.closed

    assert run(main()) == ([0, 1, 2], True)


def test_invalid_maxsize_is_refused() -> None:
    with pytest.raises(ValueError):
        AsyncQueue(maxsize=0)


def test_queue_events_carry_items_sizes_and_wake_ups() -> None:
    rec = Collector([AsyncQueuePut, AsyncQueueGot, AsyncQueueClosed, WaitBegan, WaitEnded])

    async def main() -> None:
        queue: AsyncQueue[Any] = AsyncQueue()

        async def getter() -> None:
            await queue.get()
            with contextlib.suppress(QueueClosedError):
                await queue.get()

        await spawn(getter())
        await queue.put("hello")
        await queue.put({"k": [1, 2]})
        await queue.put(object())
        await sleep(0)
        await sleep(0)
        await queue.close()

    run(main(), instruments=[rec])
    rows: list[tuple[Any, ...]] = []
    for e in rec.events:
        if isinstance(e, (AsyncQueuePut, AsyncQueueGot)):
            item = e.item if not isinstance(e.item, dict) or "$repr" not in e.item else "<repr>"
            rows.append((type(e).__name__, e.task_id, e.queue_id, item, e.size))
        elif isinstance(e, AsyncQueueClosed):
            rows.append(("closed", e.task_id, e.queue_id, e.woken))
        else:
            rows.append((type(e).__name__, e.task_id, e.primitive, e.primitive_id))
    assert rows == [
        ("WaitBegan", 1, "queue", 1),
        ("AsyncQueuePut", 0, 1, "hello", 1),  # handed straight to the waiting getter
        ("WaitEnded", 1, "queue", 1),
        ("AsyncQueueGot", 1, 1, "hello", 0),
        ("WaitBegan", 1, "queue", 1),
        ("AsyncQueuePut", 0, 1, {"k": [1, 2]}, 1),
        ("WaitEnded", 1, "queue", 1),
        ("AsyncQueueGot", 1, 1, {"k": [1, 2]}, 0),
        ("AsyncQueuePut", 0, 1, "<repr>", 1),  # not JSON: encoded as a repr marker
        ("closed", 0, 1, ()),
    ]
    outcomes = [e.outcome for e in rec.events if isinstance(e, WaitEnded)]
    assert outcomes == ["woken", "woken"]


# ------------------------------------------------------------------------------ set queue


def test_set_queue_deduplicates_and_supports_membership() -> None:
    async def main() -> tuple[list[str], bool, bool]:
        queue: AsyncSetQueue[str] = AsyncSetQueue()
        await queue.putAll(["a", "b", "a", "c", "b"])
        present = "a" in queue
        items = [await queue.get() for _ in range(3)]
        return items, present, "a" in queue

    assert run(main()) == (["a", "b", "c"], True, False)


def test_set_queue_put_of_a_duplicate_is_silent_even_when_closed() -> None:
    async def main() -> int:
        queue: AsyncSetQueue[str] = AsyncSetQueue()
        await queue.put("a")
        await queue.close()
        await queue.put("a")  # already queued: ignored before the closed check
        return len(queue)

    assert run(main()) == 1


def test_set_queue_put_nowait_returns_whether_added_and_wakes_a_getter() -> None:
    log: list[Any] = []

    async def main() -> None:
        queue: AsyncSetQueue[str] = AsyncSetQueue()

        async def getter() -> None:
            log.append(await queue.get())

        handle = await spawn(getter())
        await sleep(0.1)
        loop = current_event_loop()
        assert loop is not None
        log.append(queue.put_nowait("x", loop))
        await queue.put("y")
        log.append(queue.put_nowait("y", loop))
        await handle.join()

    run(main())
    assert log == [True, "x", False]  # put("y") let the woken getter run


# ------------------------------------------------------------------------------ map queue


def test_map_queue_accumulates_causes_per_key() -> None:
    async def main() -> list[tuple[str, list[str]]]:
        queue: AsyncMapQueue[str, str] = AsyncMapQueue()
        await queue.put(("a", "first"))
        await queue.put(("b", "second"))
        await queue.put(("a", "third"))
        assert len(queue) == 2 and "a" in queue
        assert await queue.peek() == ("a", ["first", "third"])
        return [await queue.get(), await queue.get()]

    assert run(main()) == [("a", ["first", "third"]), ("b", ["second"])]


def test_map_queue_merging_a_key_does_not_block_when_full() -> None:
    async def main() -> tuple[str, list[int]]:
        queue: AsyncMapQueue[str, int] = AsyncMapQueue(maxsize=1)
        await queue.put(("a", 1))
        await queue.put(("a", 2))
        return await queue.get()

    assert run(main()) == ("a", [1, 2])


# ------------------------------------------------------------------------------ azip


def test_azip_stops_with_the_shortest() -> None:
    async def counter() -> Any:
        i = 0
        while True:
            yield i
            i += 1

    async def finite() -> Any:
        for i in range(3):
            yield i

    async def main() -> tuple[list[tuple[int, ...]], bool]:
        zipped = azip(counter(), finite())
        items = [await anext(zipped) for _ in range(3)]
        try:
            await anext(zipped)
        except StopAsyncIteration:
            return items, True
        return items, False

    assert run(main()) == ([(0, 0), (1, 1), (2, 2)], True)


def test_azip_accepts_plain_iterables_and_queues() -> None:
    async def main() -> list[tuple[Any, ...]]:
        queue: AsyncQueue[str] = AsyncQueue()
        for item in "xyz":
            await queue.put(item)
        await queue.close()
        return [pair async for pair in azip(range(10), queue)]

    assert run(main()) == [(0, "x"), (1, "y"), (2, "z")]


def test_set_queue_blocked_put_of_an_item_queued_meanwhile_adds_nothing() -> None:
    async def main() -> list[str]:
        queue: AsyncSetQueue[str] = AsyncSetQueue(maxsize=2)
        await queue.put("x")
        await queue.put("y")

        async def putter(item: str) -> None:
            await queue.put(item)

        first = await spawn(putter("b"))  # blocks: full
        second = await spawn(putter("b"))  # blocks too ("b" is not queued yet)
        await sleep(0.1)
        got = [await queue.get()]  # admits the first "b"
        got.append(await queue.get())  # the second "b" is a duplicate now: not added
        await first.join()
        await second.join()
        got.append(await queue.get())
        return [*got, str(len(queue))]

    assert run(main()) == ["x", "y", "b", "0"]
