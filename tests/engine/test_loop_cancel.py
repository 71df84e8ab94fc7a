"""Task cancellation: ``handle.cancel()`` starts it at once; awaiting it gives the outcome.

The outcome of a cancellation is the value the task returned while handling
``TaskCancelled``, ``None`` when it let ``TaskCancelled`` escape, or the exception it
raised instead. A cancelled task leaves every wait it was in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from _loop_support import Collector, run

from flowtrace import TaskCancelled, current_task, sleep, spawn
from flowtrace.engine.queues import AsyncQueue
from flowtrace.engine.sync import Condition, Event, Lock
from flowtrace.events import TaskCancelRequested, TaskFinished


def test_value_returned_from_finally_is_the_outcome() -> None:
    async def worker() -> int:
        try:
            await sleep(10)
        finally:
            return 42  # noqa: B012 - the behaviour under test

    async def main() -> Any:
        handle = await spawn(worker())
        await sleep(0.1)
        return await handle.cancel()

    assert run(main()) == 42


def test_value_returned_from_the_except_block_is_the_outcome() -> None:
    seen: list[Any] = []

    async def worker() -> str:
        try:
            await sleep(10)
        except TaskCancelled as exc:
            seen.append(exc)
            return "cancelled gracefully"
        return "not cancelled"

    async def main() -> Any:
        handle = await spawn(worker())
        await sleep(0.1)
        request = handle.cancel()
        assert isinstance(request, Awaitable)
        return await request

    assert run(main()) == "cancelled gracefully"
    (exc,) = seen
    assert isinstance(exc, TaskCancelled) and str(exc) == "Task was cancelled"
    assert exc.by is not None and exc.by.name.endswith("main")


def test_an_exception_raised_while_handling_reaches_the_canceller() -> None:
    async def worker() -> None:
        try:
            await sleep(10)
        except TaskCancelled:
            raise ValueError("cleanup failed") from None

    async def main() -> None:
        handle = await spawn(worker())
        await sleep(0.1)
        await handle.cancel()

    with pytest.raises(ValueError, match="cleanup failed"):
        run(main())


def test_cancelling_a_finished_task_gives_its_result() -> None:
    async def worker() -> str:
        return "finished naturally"

    async def main() -> Any:
        handle = await spawn(worker())
        await sleep(0.1)
        return await handle.cancel()

    assert run(main()) == "finished naturally"


def test_cancelling_an_errored_task_raises_its_error() -> None:
    async def worker() -> None:
        raise ValueError("original")

    async def main() -> None:
        handle = await spawn(worker())
        await sleep(0.1)
        await handle.cancel()

    with pytest.raises(ValueError, match="original"):
        run(main())


def test_nested_awaits_receive_the_cancellation_and_finally_blocks_run_inner_first() -> None:
    log: list[str] = []

    async def inner() -> None:
        try:
            await sleep(10)
        finally:
            log.append("inner finally")

    async def outer() -> str:
        try:
            await inner()
        except TaskCancelled:
            log.append("caught in outer")
            return "caught in outer"
        finally:
            log.append("outer finally")
        return "no"

    async def main() -> Any:
        handle = await spawn(outer())
        await sleep(0.1)
        return await handle.cancel()

    assert run(main()) == "caught in outer"
    assert log == ["inner finally", "caught in outer", "outer finally"]


async def _cancel_while(wait: Callable[[], Awaitable[Any]], label: str) -> Any:
    async def worker() -> str:
        try:
            await wait()
        except TaskCancelled:
            return f"cancelled while {label}"
        return "finished"

    handle = await spawn(worker())
    await sleep(0.1)
    return await handle.cancel()


def test_cancellation_while_waiting_on_each_kind_of_wait() -> None:
    async def main() -> list[Any]:
        event = Event()
        lock = Lock()
        queue: AsyncQueue[int] = AsyncQueue()
        condition = Condition()

        async def hold_lock_then_wait() -> None:
            await lock.acquire()  # held by main below, so this blocks

        async def condition_wait() -> None:
            async with condition:
                await condition.wait()

        await lock.acquire()
        results = [
            await _cancel_while(lambda: sleep(10), "sleeping"),
            await _cancel_while(event.wait, "waiting on an event"),
            await _cancel_while(hold_lock_then_wait, "acquiring a lock"),
            await _cancel_while(queue.get, "getting from a queue"),
            await _cancel_while(condition_wait, "waiting on a condition"),
        ]
        # The waits were really left: the primitives work normally afterwards.
        await lock.release()
        assert not lock.is_locked()
        await queue.put(1)
        assert await queue.get() == 1
        await event.set()
        async with condition:
            await condition.notify_all()
        return results

    assert run(main()) == [
        "cancelled while sleeping",
        "cancelled while waiting on an event",
        "cancelled while acquiring a lock",
        "cancelled while getting from a queue",
        "cancelled while waiting on a condition",
    ]


def test_a_task_cancelled_in_a_condition_wait_no_longer_owns_the_lock() -> None:
    async def main() -> bool:
        condition = Condition()

        async def waiter() -> None:
            async with condition:  # the release on exit must be a harmless no-op
                await condition.wait()

        handle = await spawn(waiter())
        await sleep(0.1)
        await handle.cancel()
        return condition.lock.is_locked()

    assert run(main()) is False


def test_a_second_cancel_returns_the_first_outcome() -> None:
    rec = Collector([TaskCancelRequested])

    async def worker() -> str:
        try:
            await sleep(10)
        except TaskCancelled:
            return "first"
        return "no"

    async def main() -> tuple[Any, Any]:
        handle = await spawn(worker())
        await sleep(0.1)
        return await handle.cancel(), await handle.cancel()

    assert run(main(), instruments=[rec]) == ("first", "first")
    (request,) = rec.events  # the second cancel found the task finished
    assert request.task_id == 1 and request.by_task_id == 0 and request.first_request


def test_a_second_request_while_the_task_is_still_cleaning_up_only_waits() -> None:
    rec = Collector([TaskCancelRequested])

    async def worker() -> str:
        try:
            await sleep(10)
        except TaskCancelled:
            await sleep(1)  # slow cleanup
            return "cleaned"
        return "no"

    async def main() -> list[Any]:
        handle = await spawn(worker())
        await sleep(0.1)
        first = handle.cancel()
        second = handle.cancel()
        return [await first, await second]

    assert run(main(), instruments=[rec]) == ["cleaned", "cleaned"]
    assert [e.first_request for e in rec.events] == [True, False]


def test_awaiting_the_same_cancel_request_twice_is_a_clear_error() -> None:
    async def worker() -> None:
        await sleep(10)

    async def main() -> None:
        handle = await spawn(worker())
        request = handle.cancel()
        await request
        await request

    with pytest.raises(RuntimeError, match="already awaited"):
        run(main())


def test_a_task_awaiting_its_own_cancellation_gets_a_clear_error() -> None:
    async def main() -> None:
        me = current_task()
        assert me is not None
        await me.cancel()

    with pytest.raises(RuntimeError, match="its own cancellation"):
        run(main())


def test_a_task_cancelling_itself_gets_the_cancellation_at_its_next_suspension() -> None:
    log: list[str] = []

    async def worker() -> str:
        me = current_task()
        assert me is not None
        me.cancel()
        log.append("still running")
        try:
            await sleep(0)
        except TaskCancelled:
            log.append("cancelled")
            return "self-cancelled"
        return "no"

    async def main() -> Any:
        return await (await spawn(worker())).join()

    assert run(main()) == "self-cancelled"
    assert log == ["still running", "cancelled"]


def test_join_after_a_cancellation_the_task_let_escape_raises_task_cancelled() -> None:
    async def worker() -> None:
        await sleep(10)

    async def main() -> tuple[Any, bool]:
        handle = await spawn(worker())
        await sleep(0.1)
        outcome = await handle.cancel()
        assert handle.is_cancelled and handle.is_finished and not handle.is_error
        try:
            await handle.join()
        except TaskCancelled:
            return outcome, True
        return outcome, False

    assert run(main()) == (None, True)


def test_cancel_without_awaiting_still_delivers() -> None:
    log: list[str] = []

    async def worker() -> None:
        log.append("started")
        try:
            await sleep(10)
        except TaskCancelled:
            log.append("cancelled")
            raise
        finally:
            log.append("cleaned up")

    async def main() -> None:
        handle = await spawn(worker())
        await sleep(0.1)
        handle.cancel()
        await sleep(0.1)

    run(main())
    assert log == ["started", "cancelled", "cleaned up"]


def test_cancelling_a_task_that_has_not_started_yet_means_it_never_runs() -> None:
    log: list[str] = []

    async def worker() -> None:
        log.append("ran")

    async def main() -> Any:
        from flowtrace import current_event_loop

        loop = current_event_loop()
        assert loop is not None
        handle = loop.create_task(worker())  # queued, not started
        outcome = await handle.cancel()
        return outcome, handle.is_cancelled

    assert run(main()) == (None, True)
    assert log == []


def test_cancelling_a_parent_leaves_the_child_running() -> None:
    log: list[str] = []

    async def child() -> str:
        await sleep(1)
        log.append("child done")
        return "child result"

    async def parent() -> Any:
        handle = await spawn(child())
        try:
            await sleep(10)
        except TaskCancelled:
            log.append("parent cancelled")
            return await handle.join()
        return None

    async def main() -> Any:
        handle = await spawn(parent())
        await sleep(0.1)
        return await handle.cancel()

    assert run(main()) == "child result"
    assert log == ["parent cancelled", "child done"]


def test_a_parent_cancelling_its_child_in_cleanup() -> None:
    async def child() -> str:
        try:
            await sleep(10)
        except TaskCancelled:
            return "child cancelled"
        return "no"

    async def parent() -> str:
        handle = await spawn(child())
        try:
            await sleep(10)
        except TaskCancelled:
            return f"both cancelled: {await handle.cancel()}"
        return "no"

    async def main() -> Any:
        handle = await spawn(parent())
        await sleep(0.1)
        return await handle.cancel()

    assert run(main()) == "both cancelled: child cancelled"


@pytest.mark.parametrize(
    ("result", "expected"),
    [(None, None), ({"status": "cancelled", "items": [1, 2]},) * 2],
)
def test_handler_results_pass_through(result: Any, expected: Any) -> None:
    async def worker() -> Any:
        try:
            await sleep(10)
        except TaskCancelled:
            return result
        return "no"

    async def main() -> Any:
        handle = await spawn(worker())
        await sleep(0.1)
        return await handle.cancel()

    assert run(main()) == expected


def test_task_finished_reports_cancelled() -> None:
    rec = Collector([TaskFinished])

    async def worker() -> None:
        await sleep(10)

    async def main() -> None:
        handle = await spawn(worker())
        await sleep(0.1)
        await handle.cancel()

    run(main(), instruments=[rec])
    outcomes = {e.task_id: (e.outcome, e.result, e.error) for e in rec.events}
    assert outcomes == {1: ("cancelled", None, None), 0: ("returned", None, None)}
