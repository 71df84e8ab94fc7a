"""Event, Lock, Condition and CountdownLatch: behaviour, wake order, events, misuse."""

from __future__ import annotations

from typing import Any

import pytest
from _loop_support import Collector, run

from flowtrace import DeadlockError, EventLoop, sleep, spawn
from flowtrace.engine.sync import Condition, CountdownLatch, Event, Lock
from flowtrace.events import (
    ConditionNotified,
    EventSet,
    LatchCountedDown,
    LockAcquired,
    LockReleased,
    WaitBegan,
    WaitEnded,
)

# ------------------------------------------------------------------------------ Event


def test_event_wait_blocks_until_set() -> None:
    log: list[str] = []
    event = Event()

    async def waiter() -> None:
        log.append("waiting")
        await event.wait()
        log.append("done")

    async def main() -> None:
        await spawn(waiter())
        await sleep(0.1)
        log.append("setting")
        assert not event.is_set()
        await event.set()
        assert event.is_set()
        await sleep(0)

    run(main())
    assert log == ["waiting", "setting", "done"]


def test_event_already_set_returns_without_yielding() -> None:
    log: list[str] = []

    async def other() -> None:
        log.append("other")

    async def main() -> None:
        event = Event()
        await event.set()
        await event.set()  # no-op
        await spawn(other())
        log.clear()
        await event.wait()
        log.append("main")  # no scheduling point: nothing ran in between

    run(main())
    assert log == ["main"]


def test_event_set_wakes_every_waiter_in_arrival_order_and_reports_it() -> None:
    log: list[int] = []
    rec = Collector([EventSet, WaitBegan, WaitEnded])
    event = Event()

    async def waiter(i: int) -> None:
        await event.wait()
        log.append(i)

    async def main() -> None:
        for i in range(3):
            await spawn(waiter(i))
        await event.set()
        await sleep(0)

    run(main(), instruments=[rec])
    assert log == [0, 1, 2]
    began = [e for e in rec.events if isinstance(e, WaitBegan)]
    assert [(e.task_id, e.primitive, e.primitive_id, e.reason) for e in began] == [
        (1, "event", 1, "wait"),
        (2, "event", 1, "wait"),
        (3, "event", 1, "wait"),
    ]
    (set_event,) = [e for e in rec.events if isinstance(e, EventSet)]
    assert (set_event.task_id, set_event.event_id, set_event.woken) == (0, 1, (1, 2, 3))
    ended = [e for e in rec.events if isinstance(e, WaitEnded)]
    assert [(e.task_id, e.primitive, e.outcome) for e in ended] == [
        (1, "event", "woken"),
        (2, "event", "woken"),
        (3, "event", "woken"),
    ]
    assert set_event.seq < ended[0].seq


# ------------------------------------------------------------------------------ Lock


def test_lock_acquire_release_state() -> None:
    async def main() -> list[bool]:
        lock = Lock()
        states = [lock.is_locked()]
        await lock.acquire()
        states.append(lock.is_locked())
        await lock.release()
        states.append(lock.is_locked())
        async with lock:
            states.append(lock.is_locked())
        states.append(lock.is_locked())
        return states

    assert run(main()) == [False, True, False, True, False]


def test_lock_gives_mutual_exclusion() -> None:
    log: list[str] = []
    lock = Lock()

    async def worker(name: str) -> None:
        async with lock:
            log.append(f"{name} in")
            await sleep(0.1)
            log.append(f"{name} out")

    async def main() -> None:
        for name in "abc":
            await spawn(worker(name))

    run(main())
    assert log == ["a in", "a out", "b in", "b out", "c in", "c out"]


def test_lock_hands_off_fifo_and_reports_it() -> None:
    log: list[str] = []
    lock = Lock()
    rec = Collector([LockAcquired, LockReleased])

    async def waiter(name: str) -> None:
        async with lock:
            log.append(name)

    async def main() -> None:
        await lock.acquire()
        for name in ("w1", "w2", "w3"):
            await spawn(waiter(name))
        await sleep(0.1)
        await lock.release()
        await sleep(0.1)

    run(main(), instruments=[rec])
    assert log == ["w1", "w2", "w3"]
    rows = [
        (type(e).__name__, e.task_id, e.lock_id, getattr(e, "waited", None))
        if isinstance(e, LockAcquired)
        else (type(e).__name__, e.task_id, e.lock_id, e.handed_to)
        for e in rec.events
    ]
    assert rows == [
        ("LockAcquired", 0, 1, False),
        ("LockReleased", 0, 1, 1),
        ("LockAcquired", 1, 1, True),
        ("LockReleased", 1, 1, 2),
        ("LockAcquired", 2, 1, True),
        ("LockReleased", 2, 1, 3),
        ("LockAcquired", 3, 1, True),
        ("LockReleased", 3, 1, None),
    ]


def test_releasing_a_lock_you_do_not_own_is_a_no_op() -> None:
    lock = Lock()

    async def intruder() -> None:
        await lock.release()

    async def main() -> bool:
        await lock.acquire()
        await (await spawn(intruder())).join()
        return lock.is_locked()

    assert run(main()) is True


def test_reacquiring_a_lock_you_hold_is_a_clear_error_not_a_hang() -> None:
    async def main() -> None:
        lock = Lock()
        await lock.acquire()
        await lock.acquire()

    with pytest.raises(RuntimeError, match="not re-entrant"):
        run(main())


# ------------------------------------------------------------------------------ Condition


def test_condition_wait_and_notify() -> None:
    log: list[str] = []
    condition = Condition()

    async def waiter() -> None:
        async with condition:
            log.append("waiting")
            await condition.wait()
            log.append("notified")

    async def main() -> None:
        await spawn(waiter())
        await sleep(0.1)
        async with condition:
            log.append("notifying")
            await condition.notify()
        await sleep(0)

    run(main())
    assert log == ["waiting", "notifying", "notified"]


def test_notify_wakes_waiters_in_fifo_order_and_notify_all_wakes_the_rest() -> None:
    log: list[int] = []
    rec = Collector([ConditionNotified])
    condition = Condition()

    async def waiter(i: int) -> None:
        async with condition:
            await condition.wait()
            log.append(i)

    async def main() -> None:
        for i in range(5):
            await spawn(waiter(i))
        await sleep(0.1)
        async with condition:
            await condition.notify()
        await sleep(0.1)
        async with condition:
            await condition.notify(2)
        await sleep(0.1)
        async with condition:
            await condition.notify_all()
        await sleep(0.1)

    run(main(), instruments=[rec])
    assert log == [0, 1, 2, 3, 4]
    assert [(e.task_id, e.condition_id, e.woken) for e in rec.events] == [
        (0, 1, (1,)),
        (0, 1, (2, 3)),
        (0, 1, (4, 5)),
    ]


def test_condition_producer_consumer() -> None:
    condition = Condition()
    items: list[str] = []

    async def consumer() -> str:
        async with condition:
            while not items:
                await condition.wait()
            return items.pop()

    async def main() -> Any:
        handle = await spawn(consumer())
        await sleep(0.1)
        async with condition:
            items.append("item")
            await condition.notify()
        return await handle.join()

    assert run(main()) == "item"


def test_wait_releases_the_lock_atomically_and_reacquires_it() -> None:
    log: list[str] = []
    condition = Condition()

    async def waiter() -> None:
        async with condition:
            log.append("waiter has lock")
            await condition.wait()
            assert condition.lock.is_locked()
            log.append("waiter reacquired")

    async def acquirer() -> None:
        async with condition:
            log.append("acquirer has lock")
            await condition.notify()
            await sleep(0.1)  # the waiter must wait for the lock, not just the notify
            log.append("acquirer releases")

    async def main() -> None:
        await spawn(waiter())
        await spawn(acquirer())

    run(main())
    assert log == ["waiter has lock", "acquirer has lock", "acquirer releases", "waiter reacquired"]


@pytest.mark.parametrize("operation", ["wait", "notify", "notify_all"])
def test_condition_without_its_lock_raises_in_the_task(operation: str) -> None:
    async def main() -> str:
        condition = Condition()
        try:
            await getattr(condition, operation)()
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    message = run(main())
    assert "without holding the condition's lock" in message
    assert "async with condition" in message


def test_condition_nowait_variants_need_no_lock() -> None:
    from flowtrace import current_event_loop

    condition = Condition()
    log: list[str] = []

    async def waiter(name: str) -> None:
        async with condition:
            await condition.wait()
            log.append(name)

    async def main() -> None:
        await spawn(waiter("a"))
        await spawn(waiter("b"))
        await spawn(waiter("c"))
        await sleep(0.1)
        loop = current_event_loop()
        assert loop is not None
        condition.notify_nowait(loop)
        await sleep(0.1)
        condition.notify_all_nowait(loop)
        await sleep(0.1)

    run(main())
    assert log == ["a", "b", "c"]


# ------------------------------------------------------------------------------ integration


def test_event_and_lock_together() -> None:
    ready = Event()
    lock = Lock()
    shared: dict[str, int] = {}

    async def writer() -> None:
        async with lock:
            shared["value"] = 42
        await ready.set()

    async def main() -> int:
        await spawn(writer())
        await ready.wait()
        async with lock:
            return shared["value"]

    assert run(main()) == 42


def test_event_lock_and_condition_threshold() -> None:
    condition = Condition()
    started = Event()
    counter = {"n": 0}

    async def incrementer() -> None:
        await started.wait()
        async with condition:
            counter["n"] += 1
            await condition.notify_all()

    async def main() -> int:
        for _ in range(3):
            await spawn(incrementer())
        await started.set()
        async with condition:
            while counter["n"] < 3:
                await condition.wait()
            return counter["n"]

    assert run(main()) == 3


# ------------------------------------------------------------------------------ latch


def test_latch_counted_down_to_zero_releases_wait() -> None:
    async def main() -> tuple[int, float]:
        latch = CountdownLatch(3)
        for _ in range(3):
            await latch.count_down()
        from flowtrace import current_event_loop

        loop = current_event_loop()
        assert loop is not None
        await latch.wait()
        return latch.count, loop.time()

    assert run(main()) == (0, 0.0)


def test_latch_wait_order() -> None:
    log: list[str] = []
    latch = CountdownLatch(2)
    rec = Collector([LatchCountedDown])

    async def task1() -> None:
        await sleep(0.1)
        log.append("task1: count_down")
        await latch.count_down()

    async def task2() -> None:
        log.append("task2: count_down")
        await latch.count_down()

    async def task3() -> None:
        log.append("task3: wait start")
        await latch.wait()
        log.append("task3: wait done")

    async def main() -> None:
        await spawn(task1())
        await spawn(task2())
        await spawn(task3())

    run(main(), instruments=[rec])
    assert log == [
        "task2: count_down",
        "task3: wait start",
        "task1: count_down",
        "task3: wait done",
    ]
    assert [(e.task_id, e.latch_id, e.remaining) for e in rec.events] == [(2, 1, 1), (1, 1, 0)]


def test_latch_count_down_at_zero_warns_or_raises(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> str:
        latch = CountdownLatch(0)
        await latch.count_down()
        try:
            await latch.count_down(exception_if_zero=True)
        except CountdownLatch.ZeroLatchError as exc:
            return str(exc)
        return "no error"

    assert "already at zero" in run(main())
    assert "already at zero" in caplog.text


def test_latch_set_count_rearms_it() -> None:
    log: list[str] = []
    latch = CountdownLatch(1)

    async def waiter() -> None:
        await latch.wait()
        log.append("released")

    async def main() -> None:
        await latch.count_down()
        latch.set_count(1)
        assert latch.count == 1
        await spawn(waiter())
        await sleep(0.1)
        log.append("counting down")
        await latch.count_down()
        await sleep(0)

    run(main())
    assert log == ["counting down", "released"]


def test_negative_latch_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        CountdownLatch(-1)
    with pytest.raises(ValueError):
        CountdownLatch(1).set_count(-2)


# ------------------------------------------------------------------------------ deadlock


def test_tasks_blocked_forever_end_the_run_with_a_deadlock_error_naming_them() -> None:
    event = Event()
    lock = Lock()

    async def holder() -> None:
        await lock.acquire()
        await event.wait()

    async def blocked() -> None:
        await lock.acquire()

    async def main() -> None:
        await spawn(holder(), name="holder")
        await spawn(blocked(), name="blocked")

    with pytest.raises(DeadlockError) as info:
        EventLoop().run_until_complete(main(), join=True)
    assert info.value.waiting == [
        ("holder", "Event#1.wait() (not set)"),
        ("blocked", "Lock#2 (held by task 'holder')"),
    ]
    assert "task 'holder' waits on Event#1.wait()" in str(info.value)
