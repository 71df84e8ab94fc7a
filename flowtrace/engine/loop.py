"""The event loop: cooperative, single-threaded, deterministic, and fully traced.

Tasks are coroutines that yield :class:`~flowtrace.engine.commands.Command` objects.
The loop keeps a FIFO of ready steps, a heap of sleepers ordered by ``(deadline,
arrival)`` (never by comparing coroutines), its own selector for sockets and
cross-thread wake-ups, and a table of command handlers keyed by command type, so each
step costs O(1) apart from the heap.

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

``EventLoop.register_handler(CommandType, handler)``
    ``handler(loop, task, command)`` runs in the loop when ``task`` yields a command of
    exactly that type. It must either resume the task (``make_ready``) or park it
    (``park``). An exception it raises is thrown into ``task`` (never out of the loop).
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
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import logging
import os
import selectors
import socket as _socket
import threading
import time
import types
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from flowtrace.codec import exception_message, exception_traceback, exception_type_name
from flowtrace.engine.commands import (
    CancelWaitCommand,
    Command,
    ExitCommand,
    JoinCommand,
    Primitive,
    SleepCommand,
    SpawnCommand,
)
from flowtrace.engine.tasks import Task, TaskCancelled, TaskHandle, TaskState
from flowtrace.events import (
    ErrorInfo,
    LoopExited,
    LoopOutcome,
    LoopStarted,
    SleepBegan,
    SleepEnded,
    TaskCancelRequested,
    TaskCreatedFromThread,
    TaskFinished,
    TaskOutcome,
    TaskSpawned,
    WaitBegan,
    WaitEnded,
    WaitOutcome,
)
from flowtrace.instrument import Bus, active_instruments, new_run_id

if TYPE_CHECKING:
    from flowtrace.codec import JsonValue

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

logger = logging.getLogger("flowtrace.loop")

T = TypeVar("T")
Handler = Callable[["EventLoop", Task, Any], None]

_current_loop: contextvars.ContextVar[EventLoop | None] = contextvars.ContextVar(
    "flowtrace_loop", default=None
)

#: ``_service`` results: the run is over / there is a ready step to take now.
_DONE = -1.0
_CONTINUE = -2.0
#: Steps between two polls of timers, sockets and the thread inbox while tasks are ready.
_POLL_EVERY = 32
#: How often an idle loop re-checks whether a thread that fed it is still alive.
_IDLE_RECHECK = 0.05
#: How long an idle loop with nothing registered still waits while other threads (or,
#: in asyncio mode, other asyncio tasks) are alive: one of them may be about to call
#: ``create_task`` without having registered (Flowno's own suite has a thread calling
#: in 0.1 s after the loop went idle). Past it, the deadlock is reported.
UNREGISTERED_GRACE = 1.0
#: Longest single blocking wait: selectors overflow on huge timeouts (``sleep(1e12)``);
#: a longer wait is taken in pieces.
_MAX_BLOCK = 3600.0
#: Seconds of no progress at all, while the loop waits only on the outside (sockets,
#: asyncio futures, wakers), after which the watchdog reports a deadlock.
DEFAULT_DEADLOCK_TIMEOUT = 300.0

_run_serials = itertools.count(1)
_INF = float("inf")


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


#: Event kinds checked on the hottest paths, as constants (one global load each).
_SLEEP_BEGAN = SleepBegan.kind
_SLEEP_ENDED = SleepEnded.kind


def current_event_loop() -> EventLoop | None:
    """The loop running in this context, or ``None``."""
    return _current_loop.get()


def current_task() -> TaskHandle[Any] | None:
    """The handle of the task being stepped right now, or ``None`` outside tasks."""
    loop = _current_loop.get()
    if loop is None or loop.running_task is None:
        return None
    return loop.handle_of(loop.running_task)


_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_traceback(tb: types.TracebackType | None) -> types.TracebackType | None:
    """Skip the engine's own leading frames (where the exception was caught), so the
    recorded traceback starts in the user's code; keep everything when the error came
    from inside the engine."""
    first = tb
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_ENGINE_DIR):
        tb = tb.tb_next
    return tb if tb is not None else first


def error_info(exc: BaseException) -> ErrorInfo:
    """An exception as event data (qualified type, message, formatted traceback).
    Never raises, whatever the exception's ``__str__`` does (see flowtrace.codec)."""
    return ErrorInfo(
        exception_type_name(type(exc)),
        exception_message(exc),
        exception_traceback(exc, _user_traceback(exc.__traceback__)),
    )


class DeadlockError(RuntimeError):
    """Nothing can run, no timer is pending and nothing the loop knows of can wake it
    (or, from the watchdog, nothing ran for ``deadlock_timeout`` seconds while it waited
    only on the outside), yet tasks still wait. ``waiting`` lists ``(task name, what it
    waits on)``."""

    def __init__(self, message: str, waiting: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.waiting = waiting


class UnknownCommandError(TypeError):
    """A task awaited something the loop does not understand (raised in that task)."""


class _Exit(Exception):
    """Internal: unwinds the run loop when a task awaits ``exit``."""


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


class EventLoop:
    """A flowtrace event loop. See the module docstring."""

    #: Command type -> handler. Primitive modules register their commands here.
    _handlers: ClassVar[dict[type, Handler]] = {}

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

    # ------------------------------------------------------------------ registration

    @classmethod
    def register_handler(cls, command_type: type, handler: Handler) -> None:
        """Teach every loop a new command (used by sync, queues, sockets, the flow)."""
        cls._handlers[command_type] = handler

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

    # ------------------------------------------------------------------ clock

    def time(self) -> float:
        """The loop's clock in seconds: real monotonic time, or virtual time."""
        if self.virtual_time:
            return self._virtual_now
        return time.perf_counter()

    # ------------------------------------------------------------------ task API

    @property
    def finished(self) -> dict[Any, Any]:
        """Flowno's ``loop.finished``: each task of the last run that returned, by its
        coroutine object, with its result (built when read)."""
        return {t.coro: t.result for t in self._tasks.values() if t.state is TaskState.RETURNED}

    def handle_of(self, task: Task) -> TaskHandle[Any]:
        if task.handle is None:
            task.handle = TaskHandle(self, task)
        return task.handle

    def _new_task(
        self,
        coro: Coroutine[Any, Any, Any],
        name: str | None,
        parent: Task | None,
        node: Any = None,
        node_id: str | None = None,
    ) -> Task:
        task = _make_task(coro, name, parent)
        task.node = node
        self._register(task, node_id)
        return task

    def _register(self, task: Task, node_id: str | None = None) -> None:
        """Give ``task`` its id, count it as living, report it."""
        task.task_id = self._next_task_id
        self._next_task_id += 1
        self._tasks[task.task_id] = task
        self._living += 1
        bus = self.bus
        if bus.listening[TaskSpawned.kind]:
            bus.emit(TaskSpawned, task.task_id, task.name, task.parent_id, node_id)

    def spawn_task(
        self,
        coro: Coroutine[Any, Any, Any],
        name: str | None = None,
        *,
        front: bool = False,
        node: Any = None,
        node_id: str | None = None,
    ) -> Task:
        """Create a task from loop code (engine internals) and make it ready."""
        task = self._new_task(coro, name, self.running_task, node, node_id)
        self.make_ready(task, None, None, front=front)
        return task

    def create_task(
        self, coro: Coroutine[Any, Any, Any], name: str | None = None
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

    def waker(self, name: str | None = None) -> Waker:
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

    # ------------------------------------------------------------------ running

    def run_until_complete(
        self,
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
        self,
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

    # The pieces both drivers share ------------------------------------------------

    def _begin(
        self,
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

    def _conclude(self, root_task: Task, join: bool) -> Any:
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

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, DeadlockError):
            self._outcome = "deadlock"
        elif isinstance(exc, self.strategy.interrupts):
            self._outcome = "interrupted"
        elif self._outcome != "exit":
            self._outcome = "error"
        self._error = exc

    def _end(self) -> None:
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

    def _abandon(self) -> None:
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

    def _reset(self, bus: Bus) -> None:
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

    def _run(self, root: Task, wait_for_spawned: bool) -> float | None:
        """Take steps until the run is over (``_DONE``) or the loop must wait: then
        return how long it may block (seconds, ``None`` for until woken)."""
        ready = self._ready
        popleft = ready.popleft
        handlers = self._handlers
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
                handler = handlers.get(type(command))
                if handler is None:
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

    def _finish(
        self, task: Task, state: TaskOutcome, result: Any, error: BaseException | None
    ) -> None:
        task.state = state
        task.result = result
        task.exception = error
        task.wait_cleanup = None
        self._living -= 1
        bus = self.bus
        if bus.listening[TaskFinished.kind]:
            encoded: JsonValue = bus.codec.encode(result) if state is TaskState.RETURNED else None
            bus.emit(
                TaskFinished,
                task.task_id,
                state,
                encoded,
                error_info(error) if (error is not None and state is TaskState.FAILED) else None,
            )
        if (
            state is TaskState.FAILED
            and not task.joiners
            and not task.cancel_waiters
            and task.task_id != 0
        ):
            logger.error("task %r failed", task.name, exc_info=error)
        joiners = task.joiners
        if joiners:
            task.joiners = []
            for joiner in joiners:
                self._wait_ended(joiner, task, "woken")
                if state is TaskState.RETURNED:
                    self.make_ready(joiner, result)
                else:
                    self.make_ready(joiner, None, error)
        waiters = task.cancel_waiters
        if waiters:
            task.cancel_waiters = []
            for waiter in waiters:
                self._wait_ended(waiter, task, "woken")
                self._deliver_cancel_outcome(waiter, task)
        self.on_task_finished(task)

    def _wait_ended(self, waiter: Task, target: Task, outcome: WaitOutcome) -> None:
        bus = self.bus
        if bus.listening[WaitEnded.kind]:
            bus.emit(WaitEnded, waiter.task_id, "join", target.task_id, outcome)

    def on_task_finished(self, task: Task) -> None:
        """Hook for subclasses (the flow engine watches its node tasks)."""

    def _deliver_cancel_outcome(self, waiter: Task, task: Task) -> None:
        if task.state is TaskState.RETURNED:
            self.make_ready(waiter, task.result)
        elif task.state is TaskState.CANCELLED:
            self.make_ready(waiter, None)
        else:
            self.make_ready(waiter, None, task.exception)

    # ------------------------------------------------------------------ timers

    def _wake_sleepers(self, idle: bool) -> None:
        """Wake due sleepers (in deadline, then arrival, order). In virtual time, an
        idle loop first jumps its clock to the earliest deadline."""
        sleepers = self._sleepers
        while sleepers and sleepers[0][2] is None:
            heapq.heappop(sleepers)
        if not sleepers:
            return
        if self.virtual_time:
            if not idle:
                return
            if sleepers[0][0] > self._virtual_now:
                self._virtual_now = sleepers[0][0]
            now = self._virtual_now
        else:
            now = time.perf_counter()
        bus = self.bus
        while sleepers and sleepers[0][0] <= now:
            deadline, _n, task, start, duration = heapq.heappop(sleepers)
            if task is None:
                continue
            slept = duration if now == deadline else now - start
            if bus.listening[SleepEnded.kind]:
                bus.emit(SleepEnded, task.task_id, slept, False)
            self.make_ready(task, slept)

    def add_sleeper(self, task: Task, duration: float) -> None:
        """Park ``task`` for ``duration`` seconds of loop time (``<= 0``: just yield)."""
        bus = self.bus
        if duration <= 0:
            if bus.listening[_SLEEP_BEGAN]:  # a yield; -inf is recorded as 0 (JSON has none)
                asked = duration if duration > -_INF else 0.0
                bus.emit(SleepBegan, task.task_id, asked, self.time())
            if bus.listening[_SLEEP_ENDED]:
                bus.emit(SleepEnded, task.task_id, 0.0, False)
            self.make_ready(task, 0.0)
            return
        if duration != duration:
            raise ValueError(f"task {task.name!r} asked to sleep NaN seconds")
        now = self.time()
        deadline = now + duration
        if bus.listening[SleepBegan.kind]:
            if deadline == _INF:  # schema 2.0: None for a sleep without end
                bus.emit(SleepBegan, task.task_id, None, None)
            else:
                bus.emit(SleepBegan, task.task_id, duration, deadline)
        if deadline == _INF:
            # No timer will ever fire: only a cancellation ends this sleep, so it counts
            # as a wait on another task (a deadlock when nothing else can run).
            def cancel_forever() -> None:
                if bus.listening[SleepEnded.kind]:
                    bus.emit(SleepEnded, task.task_id, self.time() - now, True)

            self.park(task, cancel_forever, "sleep(inf), which only a cancellation ends")
            return
        self._sleep_counter += 1
        entry: list[Any] = [deadline, self._sleep_counter, task, now, duration]
        heapq.heappush(self._sleepers, entry)

        def cleanup() -> None:
            entry[2] = None
            if bus.listening[SleepEnded.kind]:
                bus.emit(SleepEnded, task.task_id, self.time() - now, True)

        self.park(task, cleanup, f"sleep until {deadline:.3f}")

    # ------------------------------------------------------------------ I/O and threads

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

    def add_io_waiter(self) -> None:
        """Count a task waiting on the selector (keeps the deadlock check away)."""
        self._io_waiters += 1

    def remove_io_waiter(self) -> None:
        self._io_waiters -= 1

    def add_work_waiter(self) -> None:
        """Count a task waiting on work running elsewhere that will end by itself (an
        offloaded call): the loop waits for it, and the watchdog treats it as progress
        to come, like a pending timer (a socket wait, by contrast, may never end)."""
        self._work_waiters += 1

    def remove_work_waiter(self) -> None:
        self._work_waiters -= 1

    def wake(self) -> None:
        """Wake the loop if it is blocked waiting (any thread)."""
        with self._thread_lock:
            wake = self._wake_w
        if wake is not None:
            with contextlib.suppress(OSError):
                wake.send(b"\0")

    def poll_io(self, timeout: float | None) -> None:
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

    def _drain_thread_inbox(self) -> None:
        with self._thread_lock:
            inbox, self._thread_inbox = self._thread_inbox, []
        bus = self.bus
        for task, thread_name in inbox:
            # The handle given to the other thread already points at this Task object.
            self._register(task)
            if bus.listening[TaskCreatedFromThread.kind]:
                bus.emit(TaskCreatedFromThread, task.task_id, thread_name)
            self._first_step(task)

    def _first_step(self, task: Task) -> None:
        """Queue the first step of a task created before it could be registered (before
        the loop ran, or from another thread): its cancellation, if one was asked for."""
        if task.cancel_pending:
            task.cancel_pending = False
            self.make_ready(task, None, TaskCancelled(None))
        else:
            self.make_ready(task)

    def outside_wakers(self) -> list[str]:
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
                f"thread {t.name!r} (it handed the loop a task)"
                for t in self._feeders
                if t.is_alive()
            )
        return found

    def deadlock_headline(self, stalled_for: float | None) -> str:
        """The first words of a deadlock report: immediate, or from the watchdog."""
        if stalled_for is None:
            return "deadlock: no task can run and nothing can wake them" + self.grace_note()
        outside = ", ".join(self.outside_wakers()) or "nothing"
        return (
            f"deadlock (watchdog): nothing ran for {stalled_for:.1f} s "
            f"(deadlock_timeout={self.deadlock_timeout:g} s) while the loop waited only "
            f"on the outside ({outside})"
        )

    def blocked_tasks(self) -> list[Task]:
        """Living tasks parked on something, in task-id order."""
        return [t for t in self._tasks.values() if not t.done and t.waiting_on is not None]

    def grace_note(self) -> str:
        """What the report says about unregistered threads or tasks it waited for."""
        others = self.strategy.unregistered(self)
        if not others:
            return ""
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        return (
            f" (waited {UNREGISTERED_GRACE:g} s for {shown}, alive but not registered: "
            "code that will hand the loop work holds `loop.waker()`)"
        )

    def deadlock_error(self, stalled_for: float | None = None) -> DeadlockError:
        """Build the error raised when every living task waits forever (overridable).
        ``stalled_for`` is set when the watchdog found no progress for that long."""
        waiting = [(t.name, t.waiting_on or "?") for t in self.blocked_tasks()]
        lines = "; ".join(f"task {name!r} waits on {what}" for name, what in waiting)
        return DeadlockError(
            f"{self.deadlock_headline(stalled_for)} ({lines}). "
            "Something must set/release/put/notify what they wait on.",
            waiting,
        )

    def _close_io(self) -> None:
        with self._thread_lock:
            selector, r, w = self._selector, self._wake_r, self._wake_w
            self._selector = self._wake_r = self._wake_w = None
        if selector is not None:
            selector.close()
        for s in (r, w):
            if s is not None:
                s.close()

    def living_task_count(self) -> int:
        return self._living

    def has_ready(self) -> bool:
        """Whether some task step is queued to run (the flow engine drains its
        resolution queue inline only when none is)."""
        return bool(self._ready)

    def has_living_tasks(self) -> bool:
        return self._living > 0


def _make_task(coro: Coroutine[Any, Any, Any], name: str | None, parent: Task | None) -> Task:
    if not hasattr(coro, "send") or not hasattr(coro, "throw"):
        raise TypeError(
            f"a task must be a coroutine (call your async function: f(), not f); got {coro!r}"
        )
    if name is None:
        name = getattr(coro, "__qualname__", None) or type(coro).__name__
    return Task(-1, coro, name, parent.task_id if parent is not None else None)


# --------------------------------------------------------------------- core handlers


def _park_on_task(
    loop: EventLoop, task: Task, target: Task, waiters: list[Task], verb: str, waiting_on: str
) -> None:
    """Park ``task`` until ``target`` ends (it is woken from ``waiters``, one of
    ``target``'s lists); cancelling ``task`` takes it off the list again."""
    waiters.append(task)
    bus = loop.bus
    if bus.listening[WaitBegan.kind]:
        bus.emit(WaitBegan, task.task_id, "join", target.task_id, f"{verb} {target.name}")

    def cleanup() -> None:
        if task in waiters:
            waiters.remove(task)
        loop._wait_ended(task, target, "cancelled")

    loop.park(task, cleanup, waiting_on)


def _handle_spawn(loop: EventLoop, task: Task, command: SpawnCommand) -> None:
    child = loop._new_task(command.coro, command.name, task)
    loop.make_ready(child)
    loop.make_ready(task, loop.handle_of(child))


def _handle_join(loop: EventLoop, task: Task, command: JoinCommand) -> None:
    target = command.handle._task
    if target is task:
        raise RuntimeError(f"task {task.name!r} tried to join itself, which would never end")
    if target.state is TaskState.RETURNED:
        loop.make_ready(task, target.result)
        return
    if target.done:
        loop.make_ready(task, None, target.exception)
        return
    _park_on_task(loop, task, target, target.joiners, "join", f"join of task {target.name!r}")


def _handle_cancel_wait(loop: EventLoop, task: Task, command: CancelWaitCommand) -> None:
    target = command.handle._task
    if target is task:
        raise RuntimeError(
            f"task {task.name!r} awaited its own cancellation, which would never end; "
            "call handle.cancel() without awaiting it, or raise TaskCancelled yourself"
        )
    if target.done:
        loop._deliver_cancel_outcome(task, target)
        return
    _park_on_task(
        loop, task, target, target.cancel_waiters, "cancel", f"cancellation of task {target.name!r}"
    )


def _handle_sleep(loop: EventLoop, task: Task, command: SleepCommand) -> None:
    if command.duration <= 0:  # sleep(0), a plain yield: the hottest path
        listening = loop.bus.listening
        if listening[_SLEEP_BEGAN] or listening[_SLEEP_ENDED]:
            loop.add_sleeper(task, command.duration)
        else:
            # The running task has no wait state to clear: queue it directly.
            loop._ready.append((task, 0.0, None))
        return
    loop.add_sleeper(task, command.duration)


def _handle_exit(loop: EventLoop, task: Task, command: ExitCommand) -> None:
    loop._exit_value = command.return_value
    loop._exit_error = command.exception
    loop._outcome = "exit"
    loop._error = command.exception
    loop._finish(task, TaskState.RETURNED, command.return_value, None)
    raise _Exit()


EventLoop.register_handler(SpawnCommand, _handle_spawn)
EventLoop.register_handler(JoinCommand, _handle_join)
EventLoop.register_handler(CancelWaitCommand, _handle_cancel_wait)
EventLoop.register_handler(SleepCommand, _handle_sleep)
EventLoop.register_handler(ExitCommand, _handle_exit)
