"""The loop and the outside: its own selector (sockets, and a wake-up socket other
threads write to), tasks handed over by other threads (``create_task`` from any thread),
:class:`Waker` registrations, the counts of socket and offloaded-work waiters, how an
idle loop waits (:class:`WaitStrategy`, whose asyncio variant is
:mod:`flowtrace.engine.aio`), and what outside the loop could still wake it.

Functions of ``self: EventLoop`` here are methods of
:class:`~flowtrace.engine.loop.EventLoop`: ``loop.py`` binds each in the class body.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from flowtrace.engine.loop_tasks import _make_task
from flowtrace.engine.tasks import Task, TaskHandle
from flowtrace.events import TaskCreatedFromThread

if TYPE_CHECKING:
    from flowtrace.engine.loop import EventLoop


class WaitStrategy:
    """How an idle loop waits, and which foreign awaitables its tasks may await.

    This default blocks in the loop's selector (sockets, timers and the cross-thread
    wake-up socket) and accepts no foreign awaitable. ``pending`` counts external waits
    in flight (e.g. asyncio futures) that will wake the loop; the deadlock check
    respects them.
    """

    asyncio_mode = False
    #: Exceptions that end a run as ``interrupted`` rather than ``error``.
    interrupts: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit)

    def __init__(self) -> None:
        self.pending = 0

    def nudge(self) -> None:
        """Work was added from the loop's own thread while it may be waiting."""

    def adopt(self, loop: EventLoop, task: Task, awaitable: Any) -> bool:
        """Take charge of ``awaitable`` yielded by ``task`` (park it, resume it later);
        False when this strategy does not know it."""
        return False

    def block(self, loop: EventLoop, timeout: float | None) -> None:
        """Wait up to ``timeout`` seconds (``None``: until woken) for I/O or a wake-up."""
        loop.poll_io(timeout)

    def unregistered(self, loop: EventLoop) -> list[str]:
        """Possible but unregistered wakers (live non-daemon threads besides the
        loop's), described for the deadlock report; they only get a short grace."""
        me = loop._loop_thread or threading.current_thread()
        return [
            f"thread {t.name!r}"
            for t in threading.enumerate()
            if t is not me and not t.daemon and t.is_alive()
        ]


class Waker:
    """A registration of something outside the loop that may still hand it work (see
    :meth:`EventLoop.waker`). Open until :meth:`close` (or the end of a ``with``
    block); thread-safe; one object may span several runs."""

    __slots__ = ("_loop", "_serial", "name")

    def __init__(self, loop: EventLoop, serial: int, name: str) -> None:
        self._loop = loop
        self._serial = serial
        self.name = name

    @property
    def closed(self) -> bool:
        return self._serial not in self._loop._wakers

    def create_task(
        self, coro: Coroutine[Any, Any, Any], name: str | None = None
    ) -> TaskHandle[Any]:
        """``loop.create_task`` (any thread)."""
        return self._loop.create_task(coro, name)

    def close(self) -> None:
        """Nothing more will come from here: an idle loop re-checks for a deadlock."""
        loop = self._loop
        with loop._thread_lock:
            removed = loop._wakers.pop(self._serial, None) is not None
        if removed:
            loop.wake()

    def __enter__(self) -> Waker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Waker {self.name!r} {'closed' if self.closed else 'open'}>"


def add_io_waiter(self: EventLoop) -> None:
    """Count a task waiting on the selector (keeps the deadlock check away)."""
    self._io_waiters += 1


def remove_io_waiter(self: EventLoop) -> None:
    self._io_waiters -= 1


def add_work_waiter(self: EventLoop) -> None:
    """Count a task waiting on work running elsewhere that will end by itself (an
    offloaded call): the loop waits for it, and the watchdog treats it as progress
    to come, like a pending timer (a socket wait, by contrast, may never end)."""
    self._work_waiters += 1


def remove_work_waiter(self: EventLoop) -> None:
    self._work_waiters -= 1


def wake(self: EventLoop) -> None:
    """Wake the loop if it is blocked waiting (any thread)."""
    with self._thread_lock:
        wake = self._wake_w
    if wake is not None:
        with contextlib.suppress(OSError):
            wake.send(b"\0")


def poll_io(self: EventLoop, timeout: float | None) -> None:
    """Wait up to ``timeout`` for selector events, run their callbacks, then take
    in tasks handed over by other threads."""
    selector = self.selector
    if self._thread_inbox:
        timeout = 0.0
    for key, mask in selector.select(timeout):
        callback = key.data
        if callback is None:
            assert self._wake_r is not None
            with contextlib.suppress(OSError):
                while self._wake_r.recv(4096):
                    pass
        else:
            callback(mask)
    if self._thread_inbox:
        self._drain_thread_inbox()


def _drain_thread_inbox(self: EventLoop) -> None:
    with self._thread_lock:
        inbox, self._thread_inbox = self._thread_inbox, []
    bus = self.bus
    for task, thread_name in inbox:
        # The handle given to the other thread already points at this Task object.
        self._register(task)
        if bus.listening[TaskCreatedFromThread.kind]:
            bus.emit(TaskCreatedFromThread, task.task_id, thread_name)
        self._first_step(task)


def create_task(
    self: EventLoop, coro: Coroutine[Any, Any, Any], name: str | None = None
) -> TaskHandle[Any]:
    """Add a task. Safe to call from another thread: it wakes a blocked loop, and
    that thread counts as a possible waker for the rest of the run while it lives.
    Code that may call this later, once the loop could be idle, registers first
    with :meth:`waker` (else an idle loop waits for it only
    :data:`UNREGISTERED_GRACE` before reporting a deadlock).

    Called before a run, the task starts with the next run (after its root)."""
    if self._running and threading.current_thread() is not self._loop_thread:
        task = _make_task(coro, name, None)
        handle: TaskHandle[Any] = TaskHandle(self, task)
        task.handle = handle
        thread = threading.current_thread()
        with self._thread_lock:
            self._thread_inbox.append((task, thread.name))
            if thread not in self._feeders:
                self._feeders.append(thread)
            wake = self._wake_w
        if wake is not None:
            with contextlib.suppress(OSError):
                wake.send(b"\0")
        return handle
    if not self._running:
        task = _make_task(coro, name, None)
        self._early.append(task)
        return self.handle_of(task)
    task = self._new_task(coro, name, self.running_task)
    self.make_ready(task, None, None)
    if self.running_task is None:
        self.strategy.nudge()
    return self.handle_of(task)


def waker(self: EventLoop, name: str | None = None) -> Waker:
    """Register a possible waker from outside the loop (any thread, before or
    during a run): while the returned :class:`Waker` is open, a loop with nothing
    to do waits for it (up to ``deadlock_timeout`` without progress) instead of
    raising :class:`DeadlockError`. Close it (or leave its ``with`` block) when
    nothing more will come. ``name`` (default: the calling thread's name) appears
    in deadlock reports."""
    with self._thread_lock:
        self._waker_serial += 1
        waker = Waker(self, self._waker_serial, name or threading.current_thread().name)
        self._wakers[waker._serial] = waker
    return waker


def outside_wakers(self: EventLoop) -> list[str]:
    """What outside the loop could still hand it work, described for reports:
    socket waits, asyncio futures, open wakers, threads that fed this run."""
    found: list[str] = []
    if self._work_waiters:
        found.append(f"{self._work_waiters} offloaded call(s)")
    if self._io_waiters:
        found.append(f"{self._io_waiters} socket wait(s)")
    if self.strategy.pending:
        found.append(f"{self.strategy.pending} asyncio future(s)")
    with self._thread_lock:
        found.extend(f"waker {w.name!r}" for w in self._wakers.values())
        found.extend(
            f"thread {t.name!r} (it handed the loop a task)" for t in self._feeders if t.is_alive()
        )
    return found


def _close_io(self: EventLoop) -> None:
    with self._thread_lock:
        selector, r, w = self._selector, self._wake_r, self._wake_w
        self._selector = self._wake_r = self._wake_w = None
    if selector is not None:
        selector.close()
    for s in (r, w):
        if s is not None:
            s.close()
