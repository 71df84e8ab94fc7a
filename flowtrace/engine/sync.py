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
from collections.abc import Generator, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

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
    WaitOutcome,
)
from flowtrace.events import Primitive as PrimitiveKind

if TYPE_CHECKING:
    from flowtrace.engine.tasks import Task

__all__ = ["Event", "Lock", "Condition", "CountdownLatch"]

logger = logging.getLogger("flowtrace.sync")


def _wait_began(
    loop: EventLoop, task: Task, kind: PrimitiveKind, prim: Primitive, reason: str
) -> None:
    bus = loop.bus
    if bus.listening[WaitBegan.kind]:
        bus.emit(WaitBegan, task.task_id, kind, loop.primitive_id(prim), reason)


def _wait_ended(
    loop: EventLoop, task: Task, kind: PrimitiveKind, prim: Primitive, outcome: WaitOutcome
) -> None:
    bus = loop.bus
    if bus.listening[WaitEnded.kind]:
        bus.emit(WaitEnded, task.task_id, kind, loop.primitive_id(prim), outcome)


def _remove(waiters: deque[Task], task: Task) -> bool:
    try:
        waiters.remove(task)
    except ValueError:
        return False
    return True


def _park_waiter(
    loop: EventLoop,
    task: Task,
    waiters: deque[Task],
    kind: PrimitiveKind,
    prim: Primitive,
    reason: str,
    waiting_on: str,
) -> None:
    """Queue ``task`` behind ``prim``'s other waiters (FIFO) and park it; cancelling it
    takes it out of the queue again. Every blocking wait of this module goes here."""
    waiters.append(task)
    _wait_began(loop, task, kind, prim, reason)

    def cleanup() -> None:
        if _remove(waiters, task):
            _wait_ended(loop, task, kind, prim, "cancelled")

    loop.park(task, cleanup, waiting_on)


def _wake_all(
    loop: EventLoop, waiters: Iterable[Task], kind: PrimitiveKind, prim: Primitive
) -> None:
    """End the waits of ``waiters`` (already taken off ``prim``) and queue them to run."""
    for task in waiters:
        _wait_ended(loop, task, kind, prim, "woken")
        loop.make_ready(task)


def _running_task_id(loop: EventLoop) -> int:
    """The id of the task whose step is running, ``-1`` from outside any task."""
    task = loop.running_task
    return task.task_id if task is not None else -1


P = TypeVar("P", bound=Primitive)


class _On(Command, Generic[P]):
    """A command about one primitive (``target``). The loop dispatches on a command's
    type, so each operation is its own (empty) subclass."""

    __slots__ = ("target",)

    def __init__(self, target: P) -> None:
        self.target = target


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
        """Whether :meth:`set` has run."""
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
            bus.emit(
                EventSet,
                _running_task_id(loop),
                loop.primitive_id(self),
                tuple(t.task_id for t in waiters),
            )
        _wake_all(loop, waiters, "event", self)

    def __repr__(self) -> str:
        return f"<Event set={self._set} waiters={len(self._waiters)}>"


class _EventWait(_On[Event]):
    __slots__ = ()


class _EventSet(_On[Event]):
    __slots__ = ()


def _handle_event_wait(loop: EventLoop, task: Task, command: _EventWait) -> None:
    event = command.target
    if event._set:
        loop.make_ready(task)
        return
    _park_waiter(
        loop,
        task,
        event._waiters,
        "event",
        event,
        "wait",
        f"Event#{loop.primitive_id(event)}.wait() (not set)",
    )


def _handle_event_set(loop: EventLoop, task: Task, command: _EventSet) -> None:
    command.target.set_nowait(loop)
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
        """Whether some task holds the lock."""
        return self._owner is not None

    @types.coroutine
    def acquire(self) -> Generator[Any, Any, None]:
        """Take the lock, waiting (FIFO) while another task holds it."""
        yield _LockAcquire(self)

    @types.coroutine
    def release(self) -> Generator[Any, Any, None]:
        """Let go of the lock (handing it to the longest waiter); no-op for non-owners."""
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
        _park_waiter(loop, task, self._waiters, "lock", self, reason, self._label(loop))

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


class _LockAcquire(_On[Lock]):
    __slots__ = ()


class _LockRelease(_On[Lock]):
    __slots__ = ()


def _handle_lock_acquire(loop: EventLoop, task: Task, command: _LockAcquire) -> None:
    lock = command.target
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
    lock = command.target
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
        """Release the lock, wait to be notified, then re-acquire the lock."""
        await yield_command(_ConditionWait(self))

    async def notify(self, n: int = 1) -> None:
        """Wake the ``n`` longest waiters (the lock must be held)."""
        await yield_command(_ConditionNotify(self, n))

    async def notify_all(self) -> None:
        """Wake every waiter (the lock must be held)."""
        await yield_command(_ConditionNotify(self, -1))

    def notify_nowait(self, loop: EventLoop, n: int = 1) -> None:
        """Notify from loop code; does not require the lock."""
        self._notify(loop, n)

    def notify_all_nowait(self, loop: EventLoop) -> None:
        """Notify every waiter from loop code; does not require the lock."""
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
            bus.emit(
                ConditionNotified,
                _running_task_id(loop),
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


class _ConditionWait(_On[Condition]):
    __slots__ = ()


class _ConditionNotify(_On[Condition]):
    __slots__ = ("n",)

    def __init__(self, condition: Condition, n: int) -> None:
        super().__init__(condition)
        self.n = n


def _require_lock(task: Task, condition: Condition, what: str) -> None:
    if condition.lock._owner is not task:
        raise RuntimeError(
            f"task {task.name!r} called Condition.{what}() without holding the "
            f"condition's lock; use `async with condition:` around it"
        )


def _handle_condition_wait(loop: EventLoop, task: Task, command: _ConditionWait) -> None:
    condition = command.target
    _require_lock(task, condition, "wait")
    _park_waiter(
        loop,
        task,
        condition._waiters,
        "condition",
        condition,
        "wait",
        f"Condition#{loop.primitive_id(condition)}.wait()",
    )
    condition.lock._release_by(loop, task)


def _handle_condition_notify(loop: EventLoop, task: Task, command: _ConditionNotify) -> None:
    condition = command.target
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
        """Count-downs still needed before waiters are released."""
        return self._count

    def set_count(self, count: int) -> None:
        """Re-arm the latch: ``count`` more count-downs release later waiters."""
        if count < 0:
            raise ValueError(f"a CountdownLatch count cannot be negative (got {count})")
        self._count = count

    async def wait(self) -> None:
        """Return once the count is zero (at once, without yielding, if it is)."""
        if self._count > 0:
            await yield_command(_LatchWait(self))

    async def count_down(self, exception_if_zero: bool = False) -> None:
        """Count down by one, releasing the waiters when the count reaches zero."""
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
            bus.emit(
                LatchCountedDown,
                _running_task_id(loop),
                loop.primitive_id(self),
                self._count,
            )
        if self._count == 0:
            waiters, self._waiters = self._waiters, deque()
            _wake_all(loop, waiters, "latch", self)

    def __repr__(self) -> str:
        return f"<CountdownLatch count={self._count} waiters={len(self._waiters)}>"


class _LatchWait(_On[CountdownLatch]):
    __slots__ = ()


class _LatchCountDown(_On[CountdownLatch]):
    __slots__ = ("exception_if_zero",)

    def __init__(self, latch: CountdownLatch, exception_if_zero: bool) -> None:
        super().__init__(latch)
        self.exception_if_zero = exception_if_zero


def _handle_latch_wait(loop: EventLoop, task: Task, command: _LatchWait) -> None:
    latch = command.target
    if latch._count == 0:
        loop.make_ready(task)
        return
    _park_waiter(
        loop,
        task,
        latch._waiters,
        "latch",
        latch,
        f"wait (count {latch._count})",
        f"CountdownLatch#{loop.primitive_id(latch)}.wait() (count {latch._count})",
    )


def _handle_latch_count_down(loop: EventLoop, task: Task, command: _LatchCountDown) -> None:
    command.target.countdown_nowait(loop, command.exception_if_zero)
    loop.make_ready(task)


_EventWait.handler = staticmethod(_handle_event_wait)
_EventSet.handler = staticmethod(_handle_event_set)
_LockAcquire.handler = staticmethod(_handle_lock_acquire)
_LockRelease.handler = staticmethod(_handle_lock_release)
_ConditionWait.handler = staticmethod(_handle_condition_wait)
_ConditionNotify.handler = staticmethod(_handle_condition_notify)
_LatchWait.handler = staticmethod(_handle_latch_wait)
_LatchCountDown.handler = staticmethod(_handle_latch_count_down)
