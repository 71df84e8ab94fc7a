"""Queues between tasks: ``AsyncQueue``, ``AsyncSetQueue``, ``AsyncMapQueue``.

Implemented natively as loop commands: a put or a get is one command, O(1), and one
scheduling point (Flowno builds them from a ``Lock`` and two ``Condition``s, several
scheduling points each). An item put while a getter waits goes straight to the
longest-waiting getter; a get from a full queue lets the longest-waiting putter in.
Closing wakes every blocked getter and putter with :class:`QueueClosedError`; a get
on a closed queue still returns the items left, then raises.

Events (only when listened to): ``AsyncQueuePut`` / ``AsyncQueueGot`` (with the
encoded item and the size after the operation), ``AsyncQueueClosed`` and
``WaitBegan`` / ``WaitEnded(primitive="queue")`` around blocked operations.
"""

from __future__ import annotations

import types
from collections import deque
from collections.abc import AsyncIterator, Generator, Hashable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from flowtrace.engine.commands import Command, Primitive, yield_command
from flowtrace.engine.loop import EventLoop
from flowtrace.events import (
    AsyncQueueClosed,
    AsyncQueueGot,
    AsyncQueuePut,
    WaitBegan,
    WaitEnded,
    WaitOutcome,
)

if TYPE_CHECKING:
    from flowtrace.engine.tasks import Task

__all__ = ["AsyncQueue", "AsyncSetQueue", "AsyncMapQueue", "QueueClosedError"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_Entry = TypeVar("_Entry")


class QueueClosedError(Exception):
    """The queue was closed: no more puts, and no more gets once it is empty."""


class AsyncQueue(Primitive, Generic[T]):
    """A FIFO queue for tasks of one loop; ``maxsize=None`` means unbounded.

    ``items`` is the live deque of queued items (read it, do not modify it)."""

    __slots__ = ("_closed", "_getters", "_putters", "items", "maxsize")

    def __init__(self, maxsize: int | None = None) -> None:
        super().__init__()
        if maxsize is not None and maxsize < 1:
            raise ValueError(f"maxsize must be None (unbounded) or >= 1, got {maxsize}")
        self.maxsize = maxsize
        self.items: deque[Any] = deque()
        self._closed = False
        #: Blocked getters: (task, peek_only).
        self._getters: deque[tuple[Task, bool]] = deque()
        #: Blocked putters: (task, item).
        self._putters: deque[tuple[Task, Any]] = deque()

    # -- user API -------------------------------------------------------------------

    @types.coroutine
    def put(self, item: T) -> Generator[Any, Any, None]:
        """Append ``item``; blocks while the queue is full. ``QueueClosedError`` if closed."""
        yield _Put(self, item)

    @types.coroutine
    def get(self) -> Generator[Any, Any, T]:
        """Remove and return the first item; blocks while the queue is empty.
        ``QueueClosedError`` once the queue is closed and empty."""
        item: T = yield _Get(self, False)
        return item

    async def peek(self) -> T:
        """Return the first item without removing it (blocks like :meth:`get`)."""
        item: T = await yield_command(_Get(self, True))
        return item

    async def close(self) -> None:
        """Close the queue; blocked getters and putters get ``QueueClosedError``."""
        await yield_command(_Close(self))

    @property
    def closed(self) -> bool:
        return self._closed

    def is_closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self.items)

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.get()
        except QueueClosedError:
            raise StopAsyncIteration from None

    async def until_empty(self) -> AsyncIterator[T]:
        """Iterate over the items present until the queue is empty, then close it."""
        while self.items:
            yield await self.get()
        await self.close()

    # -- loop-side API (command handlers, engine code) -------------------------------

    def put_nowait(self, item: T, loop: EventLoop) -> bool:
        """Put from loop code: False (nothing done) when the queue is full;
        ``QueueClosedError`` when closed. Wakes a blocked getter."""
        if self._closed:
            raise QueueClosedError(f"put to a closed queue ({self._label(loop)})")
        if self.maxsize is not None and len(self.items) >= self.maxsize:
            return False
        task = loop.running_task
        self._store(loop, task.task_id if task is not None else -1, item)
        return True

    def close_nowait(self, loop: EventLoop) -> None:
        """Close from loop code (idempotent)."""
        if self._closed:
            return
        self._closed = True
        woken = [t for t, _ in self._putters]
        if not self.items:
            woken[:0] = [t for t, _ in self._getters]
        bus = loop.bus
        if bus.listening[AsyncQueueClosed.kind]:
            task = loop.running_task
            bus.emit(
                AsyncQueueClosed,
                task.task_id if task is not None else -1,
                loop.primitive_id(self),
                tuple(t.task_id for t in woken),
            )
        if not self.items:
            getters, self._getters = self._getters, deque()
            for getter, _peek in getters:
                self._wait_ended(loop, getter, "closed")
                loop.make_ready(
                    getter, None, QueueClosedError(f"queue closed ({self._label(loop)})")
                )
        putters, self._putters = self._putters, deque()
        for putter, _item in putters:
            self._wait_ended(loop, putter, "closed")
            loop.make_ready(
                putter,
                None,
                QueueClosedError(f"put to a queue closed while waiting ({self._label(loop)})"),
            )

    # -- storage hooks (subclasses change what "an item" is) --------------------------

    def _push(self, item: Any) -> bool:
        """Store ``item``; False when it merged into an existing entry."""
        self.items.append(item)
        return True

    def _pop(self) -> Any:
        return self.items.popleft()

    def _first(self) -> Any:
        return self.items[0]

    def _is_duplicate(self, item: Any) -> bool:
        """An item whose put is silently ignored (set queues)."""
        return False

    # -- internals ----------------------------------------------------------------------

    def _label(self, loop: EventLoop) -> str:
        return f"{type(self).__name__}#{loop.primitive_id(self)}"

    def _wait_began(self, loop: EventLoop, task: Task, reason: str) -> None:
        bus = loop.bus
        if bus.listening[WaitBegan.kind]:
            bus.emit(WaitBegan, task.task_id, "queue", loop.primitive_id(self), reason)

    def _wait_ended(self, loop: EventLoop, task: Task, outcome: WaitOutcome) -> None:
        bus = loop.bus
        if bus.listening[WaitEnded.kind]:
            bus.emit(WaitEnded, task.task_id, "queue", loop.primitive_id(self), outcome)

    def _emit_item(
        self,
        loop: EventLoop,
        kind: type[AsyncQueuePut] | type[AsyncQueueGot],
        task_id: int,
        item: Any,
    ) -> None:
        """Say that ``task_id`` put (``AsyncQueuePut``) or got ``item``."""
        bus = loop.bus
        if bus.listening[kind.kind]:
            loop.live_value = item
            bus.emit(
                kind, task_id, loop.primitive_id(self), bus.codec.encode(item), len(self.items)
            )
            loop.live_value = None

    def _park(
        self,
        loop: EventLoop,
        task: Task,
        waiters: deque[_Entry],
        entry: _Entry,
        reason: str,
        waiting_on: str,
    ) -> None:
        """Queue ``entry`` (``task`` and what it waits to do) behind the other waiters
        (FIFO) and park ``task``; cancelling it takes the entry out again."""
        waiters.append(entry)
        self._wait_began(loop, task, reason)

        def cleanup() -> None:
            try:
                waiters.remove(entry)
            except ValueError:
                return
            self._wait_ended(loop, task, "cancelled")

        loop.park(task, cleanup, waiting_on)

    def _store(self, loop: EventLoop, task_id: int, item: Any) -> None:
        """Put ``item`` (there is room), then serve waiting getters."""
        self._push(item)
        self._emit_item(loop, AsyncQueuePut, task_id, item)
        getters = self._getters
        items = self.items
        while getters and items:
            getter, peek = getters.popleft()
            self._wait_ended(loop, getter, "woken")
            if peek:
                loop.make_ready(getter, self._first())
            else:
                got = self._pop()
                self._emit_item(loop, AsyncQueueGot, getter.task_id, got)
                loop.make_ready(getter, got)
                self._admit_putter(loop)

    def _admit_putter(self, loop: EventLoop) -> None:
        """Room was made: let the longest-waiting putter in."""
        putters = self._putters
        if putters and (self.maxsize is None or len(self.items) < self.maxsize):
            putter, item = putters.popleft()
            self._wait_ended(loop, putter, "woken")
            loop.make_ready(putter)
            if self._is_duplicate(item):  # queued meanwhile (set queue): nothing to add
                self._admit_putter(loop)
            else:
                self._store(loop, putter.task_id, item)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {state} len={len(self.items)} maxsize={self.maxsize}>"


class AsyncSetQueue(AsyncQueue[T]):
    """A queue that holds each item at most once: putting an item already queued does
    nothing (checked before the closed check, as in Flowno). Items must be hashable."""

    __slots__ = ("_members",)

    def __init__(self, maxsize: int | None = None) -> None:
        super().__init__(maxsize)
        self._members: set[Any] = set()

    def __contains__(self, item: object) -> bool:
        return item in self._members

    async def putAll(self, items: Iterable[T]) -> None:
        """Put each item in order (duplicates skipped)."""
        for item in items:
            await self.put(item)

    def put_nowait(self, item: T, loop: EventLoop) -> bool:
        """Put from loop code: True when added (waking a blocked getter), False when
        the item was already queued or the queue is full."""
        if item in self._members:
            return False
        return super().put_nowait(item, loop)

    def _is_duplicate(self, item: Any) -> bool:
        return item in self._members

    def _push(self, item: Any) -> bool:
        self._members.add(item)
        self.items.append(item)
        return True

    def _pop(self) -> Any:
        item = self.items.popleft()
        self._members.discard(item)
        return item


class AsyncMapQueue(AsyncQueue[Any], Generic[K, V]):
    """A queue of keys, each with the causes it was put for: ``put((key, cause))``
    appends ``cause`` to ``key``'s entry when the key is already queued (without
    taking room), else queues the key; ``get()`` returns ``(key, [causes])``."""

    __slots__ = ("_causes",)

    def __init__(self, maxsize: int | None = None) -> None:
        super().__init__(maxsize)
        self._causes: dict[Any, list[Any]] = {}

    @types.coroutine
    def put(self, item: tuple[K, V]) -> Generator[Any, Any, None]:
        """Queue ``key`` with ``cause`` (``item`` is ``(key, cause)``)."""
        yield _Put(self, item)

    @types.coroutine
    def get(self) -> Generator[Any, Any, tuple[K, list[V]]]:
        """The first key and every cause it was put for."""
        item: tuple[K, list[V]] = yield _Get(self, False)
        return item

    async def peek(self) -> tuple[K, list[V]]:
        item: tuple[K, list[V]] = await super().peek()
        return item

    def __contains__(self, key: object) -> bool:
        return key in self._causes

    def _is_duplicate(self, item: Any) -> bool:
        return False

    def _push(self, item: Any) -> bool:
        key, cause = item
        causes = self._causes.get(key)
        if causes is not None:
            causes.append(cause)
            return False
        self._causes[key] = [cause]
        self.items.append(key)
        return True

    def _pop(self) -> Any:
        key = self.items.popleft()
        return (key, self._causes.pop(key))

    def _first(self) -> Any:
        key = self.items[0]
        return (key, list(self._causes[key]))

    def _merges(self, item: Any) -> bool:
        return bool(item[0] in self._causes)


class _Put(Command):
    __slots__ = ("item", "queue")

    def __init__(self, queue: AsyncQueue[Any], item: Any) -> None:
        self.queue = queue
        self.item = item


class _Get(Command):
    __slots__ = ("peek", "queue")

    def __init__(self, queue: AsyncQueue[Any], peek: bool) -> None:
        self.queue = queue
        self.peek = peek


class _Close(Command):
    __slots__ = ("queue",)

    def __init__(self, queue: AsyncQueue[Any]) -> None:
        self.queue = queue


def _handle_put(loop: EventLoop, task: Task, command: _Put) -> None:
    queue = command.queue
    item = command.item
    if queue._is_duplicate(item):
        loop.make_ready(task)
        return
    if queue._closed:
        raise QueueClosedError(
            f"task {task.name!r} put to a closed queue ({queue._label(loop)}); "
            "stop producing once the queue is closed"
        )
    merges = isinstance(queue, AsyncMapQueue) and queue._merges(item)
    if merges or queue.maxsize is None or len(queue.items) < queue.maxsize:
        queue._store(loop, task.task_id, item)
        loop.make_ready(task)
        return
    queue._park(
        loop,
        task,
        queue._putters,
        (task, item),
        "put (full)",
        f"{queue._label(loop)}.put() (full, maxsize {queue.maxsize})",
    )


def _handle_get(loop: EventLoop, task: Task, command: _Get) -> None:
    queue = command.queue
    if queue.items:
        if command.peek:
            loop.make_ready(task, queue._first())
            return
        item = queue._pop()
        queue._emit_item(loop, AsyncQueueGot, task.task_id, item)
        loop.make_ready(task, item)
        queue._admit_putter(loop)
        return
    if queue._closed:
        raise QueueClosedError(f"{queue._label(loop)} is closed and empty")
    what = "peek" if command.peek else "get"
    queue._park(
        loop,
        task,
        queue._getters,
        (task, command.peek),
        f"{what} (empty)",
        f"{queue._label(loop)}.{what}() (empty)",
    )


def _handle_close(loop: EventLoop, task: Task, command: _Close) -> None:
    command.queue.close_nowait(loop)
    loop.make_ready(task)


_Put.handler = staticmethod(_handle_put)
_Get.handler = staticmethod(_handle_get)
_Close.handler = staticmethod(_handle_close)
