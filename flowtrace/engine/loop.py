"""The event loop: cooperative, single-threaded, deterministic, and fully traced.

Tasks are coroutines that yield :class:`~flowtrace.engine.commands.Command` objects.
The loop keeps a FIFO of ready steps, a heap of sleepers ordered by ``(deadline,
arrival)`` (never by comparing coroutines), its own selector for sockets and
cross-thread wake-ups; each command carries its handler, so each step costs O(1)
apart from the heap.

Everything it does is emitted as an event on the run's :class:`~flowtrace.instrument.Bus`
— only when some instrument listens to that kind (one list index per call site).

Options: ``virtual_time=True`` makes sleeps complete at once in deadline order while
the loop's clock advances virtually (fast, deterministic tests of timing-dependent
programs; real I/O still takes real time, sleeps never wait for it). The loop can run
more than once. It installs no signal handlers, so a ``KeyboardInterrupt`` ends the run
(reported as ``interrupted``) and leaves the process's handlers as they were.

Deadlocks: when no task is ready, no timer is pending and nothing outside the loop can
hand it work, the run raises :class:`DeadlockError`. "Outside" is only what the loop
knows of: sockets its tasks wait on, asyncio futures they await (asyncio mode), open
:meth:`EventLoop.waker` registrations, and threads that handed the loop a task with
``create_task`` during this run (while they live). Other live threads (and, in asyncio
mode, other asyncio tasks) only delay the report by :data:`UNREGISTERED_GRACE` (one
may be about to call ``create_task``). When the loop waits only on the outside and
nothing at all runs for ``deadlock_timeout`` seconds (default
:data:`DEFAULT_DEADLOCK_TIMEOUT`; ``None`` disables), the watchdog raises the same error.

Extension API (what :mod:`flowtrace.engine.sync`, ``queues``, ``sockets``, ``aio`` and
the flow engine build on; stable — add, never rename):

``CommandType.handler``
    each command class carries its handler, a static method ``handler(loop, task,
    command)`` (see :mod:`flowtrace.engine.commands`) that runs in the loop when
    ``task`` yields that command. It must either resume the task (``make_ready``) or
    park it (``park``). An exception it raises is thrown into ``task`` (never out of
    the loop). ``EventLoop.register_handler(CommandType, handler)`` sets it too.
``loop.make_ready(task, value=None, exc=None, *, front=False)``
    queue one step of ``task``: send ``value`` or throw ``exc``.
``loop.park(task, cleanup, description)``
    record that ``task`` is blocked; ``cleanup()`` takes it out of whatever it waits on
    when it is cancelled; ``description`` names the wait in deadlock reports.
``loop.spawn_task(coro, name, *, front=False, node=None, node_id=None)``
    create a task from loop code (``node`` is stored as ``Task.node``, ``node_id``
    reported in ``TaskSpawned``).
``loop.on_task_finished(task)`` / ``loop.deadlock_error()``
    hooks a subclass overrides (the flow engine watches its node tasks and names
    nodes in deadlock reports).
``loop.bus``, ``loop.running_task``, ``loop.time()``, ``loop.selector``,
``loop.add_io_waiter()`` / ``loop.remove_io_waiter()``, ``loop.primitive_id(obj)``.
``loop.add_work_waiter()`` / ``loop.remove_work_waiter()``
    count a task waiting on work that runs elsewhere and ends by itself (an offloaded
    call): like a pending timer it keeps the loop waiting and the watchdog away.
``loop.waker(name)``
    register a possible waker from outside (any thread, any time): while the returned
    :class:`Waker` is open, an idle loop waits for it instead of reporting a deadlock.
``loop.live_objects`` / ``loop.live_value``
    for adapters that hand live objects to Flowno-style hooks while an event is
    delivered: the primitives numbered in this run by id, and the live value behind
    the encoded value of the event being emitted (set by its emitter just before).
``loop.step_watchers``
    objects with ``before_step(task, value, exc)`` and ``after_step(task, value, exc,
    command)``, called around every task step (Flowno's per-step task hooks; not
    events, so traces stay one event per engine decision). Empty: one test per step.

How the loop waits when nothing is ready is a :class:`WaitStrategy`: the default
blocks in the selector; :mod:`flowtrace.engine.aio` supplies one that awaits inside a
running asyncio loop and lets tasks await asyncio futures
(:meth:`EventLoop.run_until_complete_async`).

The loop is split by job. This module holds the scheduler core — the ready queue, one
step of a task and the dispatch of the command it yields (``type(command).handler``),
cancellation, and what to do between steps and when idle — and binds in the
:class:`EventLoop` class body the methods the others define as plain functions of
``self: EventLoop`` (one class attribute each: no indirection on the hot paths):

* ``loop_run.py`` — a run's life cycle (begin, conclude, end) for both drivers;
* ``loop_tasks.py`` — task bookkeeping (register, spawn, finish, wake joiners);
* ``loop_timers.py`` — the clock and the sleepers' heap;
* ``loop_threads.py`` — selector, wake-ups, tasks from other threads, wakers,
  :class:`WaitStrategy`;
* ``loop_errors.py`` — :class:`DeadlockError`, :class:`UnknownCommandError`,
  :func:`error_info`, the text of deadlock reports.

The handlers of the loop's own commands (spawn, join, cancellation wait, sleep, exit)
are on the command classes in :mod:`flowtrace.engine.commands`.
"""

from __future__ import annotations

import contextvars
import selectors
import socket as _socket
import threading
import time
import types
from collections import deque
from collections.abc import Callable
from typing import Any

from flowtrace.engine import loop_errors, loop_run, loop_tasks, loop_threads, loop_timers
from flowtrace.engine.commands import Command, Handler, Primitive, _Exit
from flowtrace.engine.loop_errors import (
    UNREGISTERED_GRACE,
    DeadlockError,
    UnknownCommandError,
    error_info,
)
from flowtrace.engine.loop_run import _CONTINUE, _DONE, _current_loop
from flowtrace.engine.loop_threads import WaitStrategy, Waker
from flowtrace.engine.tasks import Task, TaskCancelled, TaskHandle, TaskState
from flowtrace.events import LoopOutcome, TaskCancelRequested
from flowtrace.instrument import Bus

__all__ = [
    "DEFAULT_DEADLOCK_TIMEOUT",
    "UNREGISTERED_GRACE",
    "EventLoop",
    "DeadlockError",
    "Waker",
    "UnknownCommandError",
    "WaitStrategy",
    "current_event_loop",
    "current_task",
    "error_info",
]


#: Steps between two polls of timers, sockets and the thread inbox while tasks are ready.
_POLL_EVERY = 32

#: How often an idle loop re-checks whether a thread that fed it is still alive.
_IDLE_RECHECK = 0.05

#: Longest single blocking wait: selectors overflow on huge timeouts (``sleep(1e12)``);
#: a longer wait is taken in pieces.
_MAX_BLOCK = 3600.0

#: Seconds of no progress at all, while the loop waits only on the outside (sockets,
#: asyncio futures, wakers), after which the watchdog reports a deadlock.
DEFAULT_DEADLOCK_TIMEOUT = 300.0


def _check_timeout(value: float | None) -> float | None:
    """A valid ``deadlock_timeout``: ``None`` or a positive number of seconds."""
    if value is None:
        return None
    seconds = float(value)
    if not seconds > 0.0:  # also NaN
        raise ValueError(
            f"deadlock_timeout must be a positive number of seconds or None, got {value!r}"
        )
    return seconds


def current_event_loop() -> EventLoop | None:
    """The loop running in this context, or ``None``."""
    return _current_loop.get()


def current_task() -> TaskHandle[Any] | None:
    """The handle of the task being stepped right now, or ``None`` outside tasks."""
    loop = _current_loop.get()
    if loop is None or loop.running_task is None:
        return None
    return loop.handle_of(loop.running_task)


class EventLoop:
    """A flowtrace event loop. See the module docstring."""

    def __init__(
        self,
        *,
        virtual_time: bool = False,
        deadlock_timeout: float | None = DEFAULT_DEADLOCK_TIMEOUT,
    ) -> None:
        self.virtual_time = virtual_time
        #: Watchdog: seconds without progress, while only the outside could wake the
        #: loop, before a DeadlockError (``None``: wait for the outside forever).
        self.deadlock_timeout = _check_timeout(deadlock_timeout)
        self.bus: Bus = Bus("idle")
        self.running_task: Task | None = None
        self.run_serial = 0
        self._ready: deque[tuple[Task, Any, BaseException | None]] = deque()
        #: Heap of ``[deadline, arrival, task, start, duration]``; ``task`` is set to
        #: ``None`` when the sleep is cancelled (removed lazily).
        self._sleepers: list[list[Any]] = []
        self._sleep_counter = 0
        self._tasks: dict[int, Task] = {}
        self._next_task_id = 0
        self._living = 0
        self._running = False
        self._virtual_now = 0.0
        self._exit_value: Any = None
        self._exit_error: BaseException | None = None
        self._selector: selectors.BaseSelector | None = None
        self._io_waiters = 0
        self._work_waiters = 0
        self._wake_r: _socket.socket | None = None
        self._wake_w: _socket.socket | None = None
        self._thread_lock = threading.Lock()
        self._thread_inbox: list[tuple[Task, str]] = []
        #: Open wakers by serial (insertion order: reports are deterministic).
        self._wakers: dict[int, Waker] = {}
        self._waker_serial = 0
        #: Threads that handed this run a task with ``create_task`` (possible wakers
        #: while they live).
        self._feeders: list[threading.Thread] = []
        #: When the loop began waiting with only the outside left to wake it.
        self._idle_since: float | None = None
        self._early: list[Task] = []
        self._loop_thread: threading.Thread | None = None
        self._primitive_ids = 0
        #: Per-run primitive id -> the primitive (filled as ids are handed out).
        self.live_objects: dict[int, Any] = {}
        self.live_value: Any = None
        self.step_watchers: list[Any] = []
        self._outcome: LoopOutcome = "completed"
        self._error: BaseException | None = None
        self._token: contextvars.Token[EventLoop | None] | None = None
        self._bus_token: contextvars.Token[Bus | None] | None = None
        self.strategy: WaitStrategy = WaitStrategy()

    @staticmethod
    def register_handler(command_type: type[Command], handler: Handler) -> None:
        """Give ``command_type`` its handler: the same as setting its ``handler``
        attribute where it is defined (what flowtrace's own commands do; kept for
        code written against the older table)."""
        command_type.handler = staticmethod(handler)

    def new_primitive_id(self) -> int:
        """A fresh id, unique in this run, for a primitive seen for the first time."""
        self._primitive_ids += 1
        return self._primitive_ids

    def primitive_id(self, primitive: Primitive) -> int:
        """The per-run id of ``primitive`` (numbered in order of first use in the run)."""
        if primitive._pid_run != self.run_serial:
            primitive._pid_run = self.run_serial
            primitive._pid = self.new_primitive_id()
            self.live_objects[primitive._pid] = primitive
        return primitive._pid

    @property
    def finished(self) -> dict[Any, Any]:
        """Flowno's ``loop.finished``: each task of the last run that returned, by its
        coroutine object, with its result (built when read)."""
        return {t.coro: t.result for t in self._tasks.values() if t.state is TaskState.RETURNED}

    def make_ready(
        self,
        task: Task,
        value: Any = None,
        exc: BaseException | None = None,
        *,
        front: bool = False,
    ) -> None:
        """Queue one step of ``task`` (send ``value`` or throw ``exc``)."""
        task.wait_cleanup = None
        task.waiting_on = None
        if front:
            self._ready.appendleft((task, value, exc))
        else:
            self._ready.append((task, value, exc))

    def park(self, task: Task, cleanup: Callable[[], None] | None, waiting_on: str) -> None:
        """Record that ``task`` is blocked; ``cleanup`` undoes the wait on cancellation."""
        task.wait_cleanup = cleanup
        task.waiting_on = waiting_on

    def cancel_task(self, task: Task) -> bool:
        """Begin cancelling ``task``: False if it already ended, else True.

        A blocked task is taken out of its wait and ``TaskCancelled`` is thrown into it
        at once; a ready one gets it instead of its pending step; a task cancelling
        itself gets it at its next suspension point. Later requests only wait."""
        if task.done:
            return False
        first = not task.cancel_requested
        bus = self.bus
        if bus.listening[TaskCancelRequested.kind]:
            by = self.running_task.task_id if self.running_task is not None else None
            bus.emit(TaskCancelRequested, task.task_id, by, first)
        if not first:
            return True
        task.cancel_requested = True
        if task.task_id < 0:  # handed over from a thread, not registered yet
            task.cancel_pending = True
            return True
        by_handle = self.handle_of(self.running_task) if self.running_task else None
        cancelled = TaskCancelled(by_handle)
        if task is self.running_task:
            task.cancel_pending = True
        elif task.wait_cleanup is not None:
            task.wait_cleanup()
            self.make_ready(task, None, cancelled)
        elif not self._replace_ready_step(task, cancelled):
            self.make_ready(task, None, cancelled)
        return True

    def _replace_ready_step(self, task: Task, cancelled: TaskCancelled) -> bool:
        """Turn ``task``'s queued step into the cancellation (not when it carries an
        exception already: that one is delivered first)."""
        ready = self._ready
        for i in range(len(ready) - 1, -1, -1):
            t, _v, e = ready[i]
            if t is task:
                if e is not None:
                    task.cancel_pending = True
                    return True
                ready[i] = (task, None, cancelled)
                return True
        return False

    def _run(self, root: Task, wait_for_spawned: bool) -> float | None:
        """Take steps until the run is over (``_DONE``) or the loop must wait: then
        return how long it may block (seconds, ``None`` for until woken)."""
        ready = self._ready
        popleft = ready.popleft
        watchers = self.step_watchers
        budget = 0
        if ready:
            self._idle_since = None  # woken: progress (the watchdog starts again)
        while True:
            if not ready or budget >= _POLL_EVERY:
                budget = 0
                timeout = self._service(root, wait_for_spawned)
                if timeout != _CONTINUE:
                    return timeout
            budget += 1
            task, value, exc = popleft()
            if task.done:
                continue
            self.running_task = task
            if watchers:
                for watcher in tuple(watchers):
                    watcher.before_step(task, value, exc)
            try:
                command = task.coro.send(value) if exc is None else task.coro.throw(exc)
            except StopIteration as stop:
                self._finish(task, TaskState.RETURNED, stop.value, None)
            except TaskCancelled as cancelled:
                self._finish(task, TaskState.CANCELLED, None, cancelled)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as error:  # incl. asyncio.CancelledError, GeneratorExit
                self._finish(task, TaskState.FAILED, None, error)
            else:
                if watchers:
                    for watcher in tuple(watchers):
                        watcher.after_step(task, value, exc, command)
                try:  # the command carries its handler (see flowtrace.engine.commands)
                    handler = type(command).handler
                except AttributeError:  # not a command: None, an asyncio future…
                    self._foreign(task, command)
                else:
                    try:
                        handler(self, task, command)
                    except (_Exit, KeyboardInterrupt, SystemExit):
                        raise
                    except Exception as error:
                        self.make_ready(task, None, error)
                if task.cancel_pending:
                    self._deliver_self_cancel(task)
            self.running_task = None
            if task is root and not wait_for_spawned and task.done:
                return _DONE

    def _service(self, root: Task, wait_for_spawned: bool) -> float | None:
        """Between steps: collect I/O, thread hand-overs and due timers. Returns
        ``_CONTINUE`` when a step is ready, ``_DONE``, or how long to block."""
        self.running_task = None
        ready = self._ready
        if self._io_waiters or self._thread_inbox:
            self.poll_io(0.0)
        if self._sleepers:
            self._wake_sleepers(not ready)
        if ready:
            self._idle_since = None
            return 0.0 if self.strategy.asyncio_mode else _CONTINUE
        if self._living == 0 or (not wait_for_spawned and root.done):
            return _DONE
        if self._sleepers:
            self._idle_since = None
            wait: float = self._sleepers[0][0] - time.perf_counter()
            if wait > _MAX_BLOCK:
                return _MAX_BLOCK
            return wait if wait > 0.0 else 0.0
        return self._idle_wait()

    def _idle_wait(self) -> float | None:
        """Nothing is ready and no timer is pending: how long to wait for the outside
        (``None``: until woken), or the deadlock when nothing outside can wake the loop
        or the watchdog's time without progress is up."""
        with self._thread_lock:
            if self._thread_inbox:
                return 0.0  # a task handed over just now: take it in
            feeders = self._feeders
            if feeders:
                feeders[:] = [t for t in feeders if t.is_alive()]
            outside = bool(self._io_waiters or self.strategy.pending or self._wakers or feeders)
        if self._work_waiters:
            self._idle_since = None  # work in flight elsewhere: progress to come
            return None  # its completion wakes the loop
        now = time.perf_counter()
        since = self._idle_since
        if since is None:
            self._idle_since = since = now
        if not outside:
            left = since + UNREGISTERED_GRACE - now
            if left > 0.0 and self.strategy.unregistered(self):
                return left if left < _IDLE_RECHECK else _IDLE_RECHECK
            raise self.deadlock_error()
        recheck = _IDLE_RECHECK if feeders else None
        limit = self.deadlock_timeout
        if limit is None:
            return recheck
        left = since + limit - now
        if left <= 0.0:
            raise self.deadlock_error(stalled_for=now - since)
        if recheck is not None and recheck < left:
            return recheck
        return left if left < _MAX_BLOCK else _MAX_BLOCK

    def _deliver_self_cancel(self, task: Task) -> None:
        """``task`` asked for its own cancellation and then yielded: deliver it now."""
        if task.done:
            return
        cancelled = TaskCancelled(self.handle_of(task))
        task.cancel_pending = False
        if task.wait_cleanup is not None:
            task.wait_cleanup()
            self.make_ready(task, None, cancelled)
            return
        if not self._replace_ready_step(task, cancelled) and task.waiting_on is not None:
            self.make_ready(task, None, cancelled)  # parked without a cleanup

    def _foreign(self, task: Task, command: Any) -> None:
        """A task yielded something that is not one of our commands."""
        if command is None:  # a bare yield (e.g. asyncio.sleep(0)): just yield
            self.make_ready(task)
            return
        if self.strategy.adopt(self, task, command):
            return
        kind = type(command)
        what = f"{kind.__module__}.{kind.__qualname__}"
        if isinstance(command, Command):
            hint = (
                "no handler is registered for this command; it belongs to another kind "
                "of loop (e.g. a flow command awaited outside a flow)"
            )
        elif hasattr(command, "_asyncio_future_blocking") or kind.__module__.startswith("asyncio"):
            hint = (
                "it is an asyncio object: to await asyncio awaitables, run the loop "
                "inside asyncio with `await loop.run_until_complete_async(...)`"
            )
        else:
            hint = (
                "await only flowtrace primitives (sleep, spawn, Event, Lock, queues, "
                "sockets) inside flowtrace tasks"
            )
        self.make_ready(
            task,
            None,
            UnknownCommandError(f"task {task.name!r} awaited an unknown object {what}: {hint}"),
        )

    @property
    def selector(self) -> selectors.BaseSelector:
        """The loop's own selector (created lazily; never shared between loops; closed
        at the end of each run). Register ``callback(mask)`` as the key's data."""
        if self._selector is None:
            selector = selectors.DefaultSelector()
            r, w = _socket.socketpair()
            r.setblocking(False)
            w.setblocking(False)
            selector.register(r, selectors.EVENT_READ, None)
            with self._thread_lock:
                self._selector, self._wake_r, self._wake_w = selector, r, w
        return self._selector

    def has_ready(self) -> bool:
        """Whether some task step is queued to run (the flow engine drains its
        resolution queue inline only when none is)."""
        return bool(self._ready)

    # -- a run's life cycle: loop_run.py ---------------------------------------------------

    run_until_complete = loop_run.run_until_complete
    run_until_complete_async = loop_run.run_until_complete_async
    _begin = loop_run._begin
    _conclude = loop_run._conclude
    _failed = loop_run._failed
    _end = loop_run._end
    _abandon = loop_run._abandon
    _reset = loop_run._reset

    # -- deadlock reports: loop_errors.py --------------------------------------------------

    deadlock_headline = loop_errors.deadlock_headline
    grace_note = loop_errors.grace_note
    deadlock_error = loop_errors.deadlock_error

    # -- task bookkeeping: loop_tasks.py ---------------------------------------------------

    handle_of = loop_tasks.handle_of
    _new_task = loop_tasks._new_task
    _register = loop_tasks._register
    spawn_task = loop_tasks.spawn_task
    _first_step = loop_tasks._first_step
    _finish = loop_tasks._finish
    _wait_ended = loop_tasks._wait_ended
    on_task_finished = loop_tasks.on_task_finished
    _deliver_cancel_outcome = loop_tasks._deliver_cancel_outcome
    blocked_tasks = loop_tasks.blocked_tasks
    living_task_count = loop_tasks.living_task_count
    has_living_tasks = loop_tasks.has_living_tasks

    # -- the clock and sleepers: loop_timers.py --------------------------------------------

    time = loop_timers.time
    _wake_sleepers = loop_timers._wake_sleepers
    add_sleeper = loop_timers.add_sleeper

    # -- I/O, threads and wakers: loop_threads.py ------------------------------------------

    add_io_waiter = loop_threads.add_io_waiter
    remove_io_waiter = loop_threads.remove_io_waiter
    add_work_waiter = loop_threads.add_work_waiter
    remove_work_waiter = loop_threads.remove_work_waiter
    wake = loop_threads.wake
    poll_io = loop_threads.poll_io
    _drain_thread_inbox = loop_threads._drain_thread_inbox
    create_task = loop_threads.create_task
    waker = loop_threads.waker
    outside_wakers = loop_threads.outside_wakers
    _close_io = loop_threads._close_io


# The functions bound above keep the qualified names they had as methods written in the
# class (``EventLoop._root`` names a task in traces; tracebacks and profiles read the same).
for _name, _member in list(vars(EventLoop).items()):
    _function = getattr(_member, "__func__", _member)
    if isinstance(_function, types.FunctionType) and "." not in _function.__qualname__:
        _function.__qualname__ = f"EventLoop.{_name}"
del _name, _member, _function
