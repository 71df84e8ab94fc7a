"""A loop run's life cycle, shared by the two drivers: ``run_until_complete`` (blocking
in the loop's selector) and ``run_until_complete_async`` (inside a running asyncio
loop). Begin (a fresh per-run state and bus, ``LoopStarted``, the root task and the tasks
created before the run), conclude (the root's result or error, or ``exit()``'s), and end
(``LoopExited`` always, then the coroutines of tasks left alive are closed).

Functions of ``self: EventLoop`` here are methods of
:class:`~flowtrace.engine.loop.EventLoop`: ``loop.py`` binds each in the class body.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import logging
import threading
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from flowtrace.engine.commands import _Exit
from flowtrace.engine.loop_errors import DeadlockError, error_info
from flowtrace.engine.loop_tasks import _make_task
from flowtrace.engine.loop_threads import WaitStrategy
from flowtrace.engine.tasks import Task, TaskState
from flowtrace.events import LoopExited, LoopStarted
from flowtrace.instrument import Bus, active_instruments, new_run_id

if TYPE_CHECKING:
    from flowtrace.engine.loop import EventLoop

logger = logging.getLogger("flowtrace.loop")

_current_loop: contextvars.ContextVar[EventLoop | None] = contextvars.ContextVar(
    "flowtrace_loop", default=None
)

#: ``_service`` results: the run is over / there is a ready step to take now.
_DONE = -1.0
_CONTINUE = -2.0

_run_serials = itertools.count(1)

T = TypeVar("T")


def run_until_complete(
    self: EventLoop,
    root: Coroutine[Any, Any, T],
    join: bool = False,
    wait_for_spawned_tasks: bool = True,
    _debug_max_wait_time: float | None = None,
    *,
    instruments: list[Any] | tuple[Any, ...] = (),
    bus: Bus | None = None,
) -> T | None:
    """Run ``root`` (and what it spawns) to completion.

    ``join=True`` returns the root's result or raises its exception unchanged;
    ``join=False`` returns ``None`` and only logs a failed root. With
    ``wait_for_spawned_tasks`` the loop runs until no task is alive, else until the
    root ends (other tasks are abandoned: their coroutines are closed).
    ``_debug_max_wait_time`` caps any single blocking wait (seconds).
    """
    root_task = self._begin(root, instruments, bus, WaitStrategy())
    max_wait = _debug_max_wait_time
    try:
        with contextlib.suppress(_Exit):
            while True:
                timeout = self._run(root_task, wait_for_spawned_tasks)
                if timeout == _DONE:
                    break
                if max_wait is not None and (timeout is None or timeout > max_wait):
                    timeout = max_wait
                self.strategy.block(self, timeout)
        result: T | None = self._conclude(root_task, join)
        return result
    except BaseException as exc:
        self._failed(exc)
        raise
    finally:
        self._end()


async def run_until_complete_async(
    self: EventLoop,
    root: Coroutine[Any, Any, T],
    join: bool = False,
    wait_for_spawned_tasks: bool = True,
    *,
    instruments: list[Any] | tuple[Any, ...] = (),
    bus: Bus | None = None,
) -> T | None:
    """Like :meth:`run_until_complete`, from inside a running asyncio loop: the
    asyncio loop keeps running while this loop waits, and tasks may await asyncio
    awaitables (futures, ``asyncio.sleep``, streams…). See :mod:`flowtrace.engine.aio`.
    """
    from flowtrace.engine.aio import AsyncioWait

    try:
        strategy = AsyncioWait()
    except RuntimeError:
        root.close()
        raise
    root_task = self._begin(root, instruments, bus, strategy)
    try:
        strategy.attach(self)
        with contextlib.suppress(_Exit):
            while True:
                try:
                    timeout = self._run(root_task, wait_for_spawned_tasks)
                finally:
                    strategy.after_run()  # the driving asyncio task is current again
                if timeout == _DONE:
                    break
                await strategy.wait(self, timeout)
        result: T | None = self._conclude(root_task, join)
        return result
    except BaseException as exc:
        self._failed(exc)
        raise
    finally:
        strategy.detach(self)
        self._end()


def _begin(
    self: EventLoop,
    root: Coroutine[Any, Any, Any],
    instruments: list[Any] | tuple[Any, ...],
    bus: Bus | None,
    strategy: WaitStrategy,
) -> Task:
    try:
        if self._running:
            raise RuntimeError("this event loop is already running")
        root_task = _make_task(root, None, None)
        if bus is None:
            bus = Bus(new_run_id("loop"), active_instruments(instruments))
    except BaseException:
        if hasattr(root, "close"):
            root.close()  # never started: no "never awaited" warning
        raise
    self._reset(bus)
    self.strategy = strategy
    self._token = _current_loop.set(self)
    self._bus_token = bus.activate()
    self._running = True
    self._outcome = "completed"
    self._error = None
    self._loop_thread = threading.current_thread()
    try:
        if bus.listening[LoopStarted.kind]:
            bus.emit(LoopStarted, 0, time.time_ns(), self.virtual_time, strategy.asyncio_mode)
        self._register(root_task)
        self.make_ready(root_task)
        early, self._early = self._early, []
        for task in early:
            self._register(task)
            self._first_step(task)
    except BaseException as exc:
        root.close()
        self._failed(exc)
        self._end()
        raise
    return root_task


def _conclude(self: EventLoop, root_task: Task, join: bool) -> Any:
    if self._outcome == "exit":
        if self._exit_error is not None:
            raise self._exit_error
        return self._exit_value if join else None
    if root_task.state is TaskState.RETURNED:
        return root_task.result if join else None
    if not join:
        if root_task.state is TaskState.FAILED:
            self._outcome, self._error = "error", root_task.exception
            logger.error("root task failed", exc_info=root_task.exception)
        return None
    if root_task.exception is not None:
        raise root_task.exception
    raise RuntimeError("Event loop exited without completing the root task.")


def _failed(self: EventLoop, exc: BaseException) -> None:
    if isinstance(exc, DeadlockError):
        self._outcome = "deadlock"
    elif isinstance(exc, self.strategy.interrupts):
        self._outcome = "interrupted"
    elif self._outcome != "exit":
        self._outcome = "error"
    self._error = exc


def _end(self: EventLoop) -> None:
    self._running = False
    self.running_task = None
    bus = self.bus
    try:
        if bus.listening[LoopExited.kind]:
            error = self._error
            bus.emit(
                LoopExited,
                self._outcome,
                error_info(error) if error is not None else None,
                self._living,
            )
    finally:
        if self._bus_token is not None:
            Bus.deactivate(self._bus_token)
        if self._token is not None:
            _current_loop.reset(self._token)
        self._token = self._bus_token = None
        self._close_io()
        self._abandon()


def _abandon(self: EventLoop) -> None:
    """Close the coroutines of tasks left alive (their ``finally`` blocks run now,
    not at some later garbage collection); they end as ``cancelled`` (no event:
    the run is over)."""
    left = [t for t in self._tasks.values() if not t.done]
    self._ready.clear()
    self._sleepers.clear()
    for task in left:
        task.state = TaskState.CANCELLED
        task.wait_cleanup = None
        with contextlib.suppress(Exception):
            task.coro.close()


def _reset(self: EventLoop, bus: Bus) -> None:
    self.bus = bus
    self.run_serial = next(_run_serials)
    self._ready.clear()
    self._sleepers.clear()
    self._tasks.clear()
    self._next_task_id = 0
    self._living = 0
    self._exit_value = None
    self._exit_error = None
    self._virtual_now = 0.0
    self._io_waiters = 0
    self._work_waiters = 0
    self._primitive_ids = 0
    self._idle_since = None
    with self._thread_lock:
        self._feeders.clear()
    self.live_objects = {}
    self.live_value = None
