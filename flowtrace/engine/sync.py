"""Synchronisation primitives: ``Event``, ``Lock``, ``Condition``, ``CountdownLatch``.

Each operation that may block is one command handled by the loop (so every ``await``
of a primitive is a scheduling point: the task goes to the back of the ready queue),
except ``Event.wait()`` on a set event, which returns without yielding. Waiters are
kept in FIFO deques, so wake-up order is the order of arrival — deterministic, unlike
Flowno's set-based waiters. Cancelling a waiting task takes it out of every wait.

Bad use raises a clear error *in the task that did it* (never out of the loop):
waiting on or notifying a ``Condition`` without holding its lock, re-acquiring a
``Lock`` the task already holds (which could only deadlock).

Events (only when listened to): ``WaitBegan`` / ``WaitEnded`` around every block,
``LockAcquired`` / ``LockReleased``, ``EventSet``, ``ConditionNotified``,
``LatchCountedDown``. Primitive ids are numbered per run in order of first appearance.

``*_nowait(loop)`` variants are for command handlers and engine code that already run
inside the loop.
"""

from __future__ import annotations

import logging
import types
from collections import deque
from collections.abc import Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from flowtrace.engine.commands import Command, Primitive, yield_command
from flowtrace.engine.loop import EventLoop
from flowtrace.events import (
    ConditionNotified,
    EventSet,
    LatchCountedDown,
    LockAcquired,
    LockReleased,
    WaitBegan,
    WaitEnded,
)

if TYPE_CHECKING:
    from flowtrace.engine.tasks import Task

__all__ = ["Event", "Lock", "Condition", "CountdownLatch"]

logger = logging.getLogger("flowtrace.sync")


def _wait_began(loop: EventLoop, task: Task, kind: Any, prim: Primitive, reason: str) -> None:
    bus = loop.bus
    if bus.listening[WaitBegan.kind]:
        bus.emit(WaitBegan, task.task_id, kind, loop.primitive_id(prim), reason)


def _wait_ended(loop: EventLoop, task: Task, kind: Any, prim: Primitive, outcome: str) -> None:
    bus = loop.bus
    if bus.listening[WaitEnded.kind]:
        bus.emit(WaitEnded, task.task_id, kind, loop.primitive_id(prim), outcome)


def _remove(waiters: deque[Task], task: Task) -> bool:
    try:
        waiters.remove(task)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------ Event


class Event(Primitive):
    """A one-shot flag: ``await wait()`` blocks until some task ``await set()``s it.

    There is no ``clear()`` (as in Flowno); make a new ``Event`` instead."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        super().__init__()
        self._set = False
        self._waiters: deque[Task] = deque()

    def is_set(self) -> bool:
        return self._set

    @types.coroutine
    def wait(self) -> Generator[Any, Any, None]:
        """Return once the event is set (at once, without yielding, if it is)."""
        if not self._set:
            yield _EventWait(self)

    @types.coroutine
    def set(self) -> Generator[Any, Any, None]:
        """Set the event and wake every waiter (in arrival order); no-op if set."""
        yield _EventSet(self)

    def set_nowait(self, loop: EventLoop) -> None:
        """Set from loop code (a command handler): wakes the waiters, does not yield."""
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, deque()
        bus = loop.bus
        if bus.listening[EventSet.kind]:
            setter = loop.running_task
            bus.emit(
                EventSet,
                setter.task_id if setter is not None else -1,
                loop.primitive_id(self),
                tuple(t.task_id for t in waiters),
            )
        for task in waiters:
            _wait_ended(loop, task, "event", self, "woken")
            loop.make_ready(task)

    def __repr__(self) -> str:
        return f"<Event set={self._set} waiters={len(self._waiters)}>"


class _EventWait(Command):
    __slots__ = ("event",)

    def __init__(self, event: Event) -> None:
        self.event = event


class _EventSet(Command):
    __slots__ = ("event",)

    def __init__(self, event: Event) -> None:
        self.event = event


def _handle_event_wait(loop: EventLoop, task: Task, command: _EventWait) -> None:
    event = command.event
    if event._set:
        loop.make_ready(task)
        return
    event._waiters.append(task)
    _wait_began(loop, task, "event", event, "wait")

    def cleanup() -> None:
        if _remove(event._waiters, task):
            _wait_ended(loop, task, "event", event, "cancelled")

    loop.park(task, cleanup, f"Event#{loop.primitive_id(event)}.wait() (not set)")


def _handle_event_set(loop: EventLoop, task: Task, command: _EventSet) -> None:
    command.event.set_nowait(loop)
    loop.make_ready(task)


# ------------------------------------------------------------------------------ Lock


class Lock(Primitive):
    """A mutual-exclusion lock with FIFO hand-off.

    ``release()`` by the owner hands the lock straight to the longest waiter;
    ``release()`` by any other task is a no-op (as in Flowno). Not re-entrant:
    acquiring a lock the task already holds raises ``RuntimeError``."""

    __slots__ = ("_owner", "_waiters")

    def __init__(self) -> None:
        super().__init__()
        self._owner: Task | None = None
        self._waiters: deque[Task] = deque()

    def is_locked(self) -> bool:
        return self._owner is not None

    @types.coroutine
    def acquire(self) -> Generator[Any, Any, None]:
        yield _LockAcquire(self)

    @types.coroutine
    def release(self) -> Generator[Any, Any, None]:
        yield _LockRelease(self)

    async def __aenter__(self) -> Lock:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.release()

    def _label(self, loop: EventLoop) -> str:
        owner = self._owner
        held = f"held by task {owner.name!r}" if owner is not None else "free"
        return f"Lock#{loop.primitive_id(self)} ({held})"

    def _wait_for(self, loop: EventLoop, task: Task, reason: str) -> None:
        """Queue ``task`` for the lock (FIFO) and park it."""
        self._waiters.append(task)
        _wait_began(loop, task, "lock", self, reason)

        def cleanup() -> None:
            if _remove(self._waiters, task):
                _wait_ended(loop, task, "lock", self, "cancelled")

        loop.park(task, cleanup, self._label(loop))

    def _grant(self, loop: EventLoop, task: Task, waited: bool) -> None:
        self._owner = task
        bus = loop.bus
        if bus.listening[LockAcquired.kind]:
            bus.emit(LockAcquired, task.task_id, loop.primitive_id(self), waited)

    def _release_by(self, loop: EventLoop, task: Task) -> None:
        """``task`` (the owner) lets go: hand over to the first waiter, if any."""
        next_owner = self._waiters.popleft() if self._waiters else None
        self._owner = None
        bus = loop.bus
        if bus.listening[LockReleased.kind]:
            bus.emit(
                LockReleased,
                task.task_id,
                loop.primitive_id(self),
                next_owner.task_id if next_owner is not None else None,
            )
        if next_owner is not None:
            _wait_ended(loop, next_owner, "lock", self, "woken")
            self._grant(loop, next_owner, True)
            loop.make_ready(next_owner)

    def __repr__(self) -> str:
        owner = self._owner.name if self._owner is not None else None
        return f"<Lock owner={owner!r} waiters={len(self._waiters)}>"


class _LockAcquire(Command):
    __slots__ = ("lock",)

    def __init__(self, lock: Lock) -> None:
        self.lock = lock


class _LockRelease(Command):
    __slots__ = ("lock",)

    def __init__(self, lock: Lock) -> None:
        self.lock = lock


def _handle_lock_acquire(loop: EventLoop, task: Task, command: _LockAcquire) -> None:
    lock = command.lock
    if lock._owner is None:
        lock._grant(loop, task, False)
        loop.make_ready(task)
    elif lock._owner is task:
        raise RuntimeError(
            f"task {task.name!r} tried to acquire a Lock it already holds; flowtrace "
            "locks are not re-entrant (this would deadlock): release it first"
        )
    else:
        lock._wait_for(loop, task, "acquire")


def _handle_lock_release(loop: EventLoop, task: Task, command: _LockRelease) -> None:
    lock = command.lock
    if lock._owner is task:
        lock._release_by(loop, task)
    loop.make_ready(task)


# ------------------------------------------------------------------------------ Condition


class Condition(Primitive):
    """A condition variable over a :class:`Lock` (a new one unless ``lock`` is given).

    ``wait()`` and ``notify()`` require holding the lock (``async with cond:``).
    ``wait()`` releases the lock atomically and, once notified, re-acquires it (FIFO
    behind the lock's other waiters). ``notify(n)`` wakes the ``n`` longest waiters;
    ``notify_all()`` every one."""

    __slots__ = ("_waiters", "lock")

    def __init__(self, lock: Lock | None = None) -> None:
        super().__init__()
        self.lock = lock if lock is not None else Lock()
        self._waiters: deque[Task] = deque()

    async def wait(self) -> None:
        await yield_command(_ConditionWait(self))

    async def notify(self, n: int = 1) -> None:
        await yield_command(_ConditionNotify(self, n))

    async def notify_all(self) -> None:
        await yield_command(_ConditionNotify(self, -1))

    def notify_nowait(self, loop: EventLoop, n: int = 1) -> None:
        """Notify from loop code; does not require the lock."""
        self._notify(loop, n)

    def notify_all_nowait(self, loop: EventLoop) -> None:
        self._notify(loop, -1)

    async def __aenter__(self) -> Condition:
        await self.lock.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.lock.release()

    def _notify(self, loop: EventLoop, n: int) -> None:
        waiters = self._waiters
        count = len(waiters) if n < 0 else min(n, len(waiters))
        woken = [waiters.popleft() for _ in range(count)]
        bus = loop.bus
        if bus.listening[ConditionNotified.kind]:
            notifier = loop.running_task
            bus.emit(
                ConditionNotified,
                notifier.task_id if notifier is not None else -1,
                loop.primitive_id(self),
                tuple(t.task_id for t in woken),
            )
        lock = self.lock
        for task in woken:
            _wait_ended(loop, task, "condition", self, "woken")
            if lock._owner is None and not lock._waiters:
                lock._grant(loop, task, True)
                loop.make_ready(task)
            else:
                lock._wait_for(loop, task, "re-acquire after notify")

    def __repr__(self) -> str:
        return f"<Condition waiters={len(self._waiters)} lock={self.lock!r}>"


class _ConditionWait(Command):
    __slots__ = ("condition",)

    def __init__(self, condition: Condition) -> None:
        self.condition = condition


class _ConditionNotify(Command):
    __slots__ = ("condition", "n")

    def __init__(self, condition: Condition, n: int) -> None:
        self.condition = condition
        self.n = n


def _require_lock(task: Task, condition: Condition, what: str) -> None:
    if condition.lock._owner is not task:
        raise RuntimeError(
            f"task {task.name!r} called Condition.{what}() without holding the "
            f"condition's lock; use `async with condition:` around it"
        )


def _handle_condition_wait(loop: EventLoop, task: Task, command: _ConditionWait) -> None:
    condition = command.condition
    _require_lock(task, condition, "wait")
    condition._waiters.append(task)
    _wait_began(loop, task, "condition", condition, "wait")
    condition.lock._release_by(loop, task)

    def cleanup() -> None:
        if _remove(condition._waiters, task):
            _wait_ended(loop, task, "condition", condition, "cancelled")

    loop.park(task, cleanup, f"Condition#{loop.primitive_id(condition)}.wait()")


def _handle_condition_notify(loop: EventLoop, task: Task, command: _ConditionNotify) -> None:
    condition = command.condition
    _require_lock(task, condition, "notify")
    condition._notify(loop, command.n)
    loop.make_ready(task)


# ------------------------------------------------------------------------------ latch


class CountdownLatch(Primitive):
    """Blocks waiters until ``count_down()`` has been called ``count`` times.

    ``set_count(n)`` re-arms it (a difference from Flowno, whose latch is one-shot):
    with ``n > 0`` later ``wait()`` calls block again until ``n`` more count-downs.
    Counting down at zero logs a warning, or raises :class:`ZeroLatchError` with
    ``exception_if_zero=True``."""

    __slots__ = ("_count", "_waiters")

    class ZeroLatchError(RuntimeError):
        """``count_down(exception_if_zero=True)`` on a latch already at zero."""

    def __init__(self, count: int) -> None:
        super().__init__()
        if count < 0:
            raise ValueError(f"a CountdownLatch count cannot be negative (got {count})")
        self._count = count
        self._waiters: deque[Task] = deque()

    @property
    def count(self) -> int:
        return self._count

    def set_count(self, count: int) -> None:
        if count < 0:
            raise ValueError(f"a CountdownLatch count cannot be negative (got {count})")
        self._count = count

    async def wait(self) -> None:
        """Return once the count is zero (at once, without yielding, if it is)."""
        if self._count > 0:
            await yield_command(_LatchWait(self))

    async def count_down(self, exception_if_zero: bool = False) -> None:
        await yield_command(_LatchCountDown(self, exception_if_zero))

    def countdown_nowait(self, loop: EventLoop, exception_if_zero: bool = False) -> None:
        """Count down from loop code."""
        if self._count == 0:
            if exception_if_zero:
                raise CountdownLatch.ZeroLatchError(
                    "count_down() on a CountdownLatch already at zero"
                )
            logger.warning("count_down() on a CountdownLatch already at zero: ignored")
            return
        self._count -= 1
        bus = loop.bus
        if bus.listening[LatchCountedDown.kind]:
            task = loop.running_task
            bus.emit(
                LatchCountedDown,
                task.task_id if task is not None else -1,
                loop.primitive_id(self),
                self._count,
            )
        if self._count == 0:
            waiters, self._waiters = self._waiters, deque()
            for waiter in waiters:
                _wait_ended(loop, waiter, "latch", self, "woken")
                loop.make_ready(waiter)

    def __repr__(self) -> str:
        return f"<CountdownLatch count={self._count} waiters={len(self._waiters)}>"


class _LatchWait(Command):
    __slots__ = ("latch",)

    def __init__(self, latch: CountdownLatch) -> None:
        self.latch = latch


class _LatchCountDown(Command):
    __slots__ = ("exception_if_zero", "latch")

    def __init__(self, latch: CountdownLatch, exception_if_zero: bool) -> None:
        self.latch = latch
        self.exception_if_zero = exception_if_zero


def _handle_latch_wait(loop: EventLoop, task: Task, command: _LatchWait) -> None:
    latch = command.latch
    if latch._count == 0:
        loop.make_ready(task)
        return
    latch._waiters.append(task)
    _wait_began(loop, task, "latch", latch, f"wait (count {latch._count})")

    def cleanup() -> None:
        if _remove(latch._waiters, task):
            _wait_ended(loop, task, "latch", latch, "cancelled")

    loop.park(
        task, cleanup, f"CountdownLatch#{loop.primitive_id(latch)}.wait() (count {latch._count})"
    )


def _handle_latch_count_down(loop: EventLoop, task: Task, command: _LatchCountDown) -> None:
    command.latch.countdown_nowait(loop, command.exception_if_zero)
    loop.make_ready(task)


EventLoop.register_handler(_EventWait, _handle_event_wait)
EventLoop.register_handler(_EventSet, _handle_event_set)
EventLoop.register_handler(_LockAcquire, _handle_lock_acquire)
EventLoop.register_handler(_LockRelease, _handle_lock_release)
EventLoop.register_handler(_ConditionWait, _handle_condition_wait)
EventLoop.register_handler(_ConditionNotify, _handle_condition_notify)
EventLoop.register_handler(_LatchWait, _handle_latch_wait)
EventLoop.register_handler(_LatchCountDown, _handle_latch_count_down)
