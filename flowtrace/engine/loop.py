"""The event loop: cooperative, single-threaded, deterministic, and fully traced.

Tasks are coroutines that yield :class:`~flowtrace.engine.commands.Command` objects.
The loop keeps a FIFO of ready steps, a heap of sleepers ordered by ``(deadline,
arrival)`` (never by comparing coroutines), a selector for sockets and cross-thread
wake-ups, and a table of command handlers keyed by command type, so each step costs
O(1) apart from the heap.

Everything it does is emitted as an event on the run's :class:`~flowtrace.instrument.Bus`
— only when some instrument listens to that kind.

Options: ``virtual_time=True`` makes sleeps complete at once in deadline order while
the loop's clock advances virtually (fast, deterministic tests of timing-dependent
programs). The loop can run more than once. It installs no signal handlers, so a
``KeyboardInterrupt`` ends the run (reported as ``interrupted``) and leaves the
process's handlers as they were.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import logging
import selectors
import socket as _socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, TypeVar

from flowtrace.codec import JsonValue
from flowtrace.engine.commands import (
    CancelWaitCommand,
    ExitCommand,
    JoinCommand,
    SleepCommand,
    SpawnCommand,
)
from flowtrace.engine.tasks import Task, TaskCancelled, TaskHandle, TaskState
from flowtrace.events import (
    ErrorInfo,
    LoopExited,
    LoopStarted,
    SleepBegan,
    SleepEnded,
    TaskCancelRequested,
    TaskCreatedFromThread,
    TaskFinished,
    TaskSpawned,
)
from flowtrace.instrument import Bus, active_instruments, new_run_id

__all__ = [
    "EventLoop",
    "DeadlockError",
    "UnknownCommandError",
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


def current_event_loop() -> EventLoop | None:
    """The loop running in this context, or ``None``."""
    return _current_loop.get()


def current_task() -> TaskHandle[Any] | None:
    """The handle of the task being stepped right now, or ``None`` outside tasks."""
    loop = _current_loop.get()
    if loop is None or loop.running_task is None:
        return None
    return loop.handle_of(loop.running_task)


def error_info(exc: BaseException) -> ErrorInfo:
    """An exception as event data (qualified type, message, formatted traceback)."""
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else (
        f"{kind.__module__}.{kind.__qualname__}"
    )
    tb = "".join(traceback.format_exception(kind, exc, exc.__traceback__))
    return ErrorInfo(name, str(exc), tb)


class DeadlockError(RuntimeError):
    """Nothing can run, no timer or I/O is pending, and no other thread can wake the
    loop, yet tasks still wait. ``waiting`` lists ``(task name, what it waits on)``."""

    def __init__(self, message: str, waiting: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.waiting = waiting


class UnknownCommandError(TypeError):
    """A task awaited something the loop does not understand."""


class _Exit(Exception):
    """Internal: unwinds the run loop when a task awaits ``exit``."""


class EventLoop:
    """A flowtrace event loop. See the module docstring."""

    #: Command type -> handler. Primitive modules register their commands here.
    _handlers: ClassVar[dict[type, Handler]] = {}

    def __init__(self, *, virtual_time: bool = False) -> None:
        self.virtual_time = virtual_time
        self.bus: Bus = Bus("idle")
        self.running_task: Task | None = None
        self._ready: deque[tuple[Task, Any, BaseException | None]] = deque()
        self._sleepers: list[tuple[float, int, Task]] = []
        self._sleep_counter = 0
        self._tasks: dict[int, Task] = {}
        self._next_task_id = 0
        self._living = 0
        self._running = False
        self._virtual_now = 0.0
        self._exit_value: Any = None
        self._exit_error: BaseException | None = None
        self._exit_requested = False
        self._selector: selectors.BaseSelector | None = None
        self._io_waiters = 0
        self._wake_r: _socket.socket | None = None
        self._wake_w: _socket.socket | None = None
        self._thread_lock = threading.Lock()
        self._thread_inbox: list[tuple[Task, str]] = []
        self._loop_thread: threading.Thread | None = None
        self._steps_since_poll = 0
        self._primitive_ids = 0
        #: Set while the loop runs inside asyncio (see flowtrace.engine.aio).
        self.asyncio_loop: Any = None

    # ------------------------------------------------------------------ registration

    @classmethod
    def register_handler(cls, command_type: type, handler: Handler) -> None:
        """Teach every loop a new command (used by sync, queues, sockets, asyncio)."""
        cls._handlers[command_type] = handler

    def new_primitive_id(self) -> int:
        self._primitive_ids += 1
        return self._primitive_ids

    # ------------------------------------------------------------------ clock

    def time(self) -> float:
        """The loop's clock in seconds: real monotonic time, or virtual time."""
        if self.virtual_time:
            return self._virtual_now
        return time.perf_counter()

    # ------------------------------------------------------------------ task API

    def handle_of(self, task: Task) -> TaskHandle[Any]:
        if task.handle is None:
            task.handle = TaskHandle(self, task)
        return task.handle

    def _new_task(
        self, coro: Coroutine[Any, Any, Any], name: str | None, parent: Task | None
    ) -> Task:
        if not hasattr(coro, "send") or not hasattr(coro, "throw"):
            raise TypeError(
                f"a task must be a coroutine (call your async function: f(), not f); "
                f"got {coro!r}"
            )
        task_id = self._next_task_id
        self._next_task_id += 1
        if name is None:
            name = getattr(coro, "__qualname__", None) or type(coro).__name__
        task = Task(task_id, coro, name, parent.task_id if parent is not None else None)
        self._register(task)
        return task

    def _register(self, task: Task) -> None:
        """Give ``task`` its id (if it has none yet), count it as living, report it."""
        if task.task_id < 0:
            task.task_id = self._next_task_id
            self._next_task_id += 1
        self._tasks[task.task_id] = task
        self._living += 1
        bus = self.bus
        if bus.listening[TaskSpawned.kind]:
            bus.emit(TaskSpawned, task.task_id, task.name, task.parent_id, None)

    def spawn_task(
        self, coro: Coroutine[Any, Any, Any], name: str | None = None, *, front: bool = False
    ) -> Task:
        """Create a task from loop code (engine internals) and make it ready."""
        task = self._new_task(coro, name, self.running_task)
        self.make_ready(task, None, None, front=front)
        return task

    def create_task(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> TaskHandle[Any]:
        """Add a task. Safe to call from another thread: it wakes a blocked loop."""
        if (
            self._running
            and self._loop_thread is not None
            and threading.current_thread() is not self._loop_thread
        ):
            with self._thread_lock:
                label = name or str(getattr(coro, "__qualname__", "task"))
                task = Task(-1, coro, label, None)
                self._thread_inbox.append((task, threading.current_thread().name))
            self._wake()
            return TaskHandle(self, task)
        task = self._new_task(coro, name, self.running_task)
        self.make_ready(task, None, None)
        return self.handle_of(task)

    def make_ready(
        self, task: Task, value: Any = None, exc: BaseException | None = None, *, front: bool = False
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
        """Begin cancelling ``task``: False if it already ended, else True."""
        if task.done:
            return False
        first = not task.cancel_pending
        bus = self.bus
        if bus.listening[TaskCancelRequested.kind]:
            by = self.running_task.task_id if self.running_task is not None else None
            bus.emit(TaskCancelRequested, task.task_id, by, first)
        if not first:
            return True
        task.cancel_pending = True
        if task is self.running_task:
            # A task cancelling itself: deliver at its next suspension point.
            return True
        by_handle = self.handle_of(self.running_task) if self.running_task else None
        if task.wait_cleanup is not None:
            task.wait_cleanup()
            self.make_ready(task, None, TaskCancelled(by_handle))
        else:
            # Ready (or not yet started): replace its pending step by the cancellation.
            for i, (t, _v, _e) in enumerate(self._ready):
                if t is task:
                    self._ready[i] = (task, None, TaskCancelled(by_handle))
                    break
            else:
                self.make_ready(task, None, TaskCancelled(by_handle))
        return True

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
        ``wait_for_spawned_tasks`` the loop runs until no task is alive.
        """
        if self._running:
            raise RuntimeError("this event loop is already running")
        if bus is None:
            bus = Bus(new_run_id("loop"), active_instruments(instruments))
        self._reset(bus)
        token = _current_loop.set(self)
        bus_token = bus.activate()
        self._running = True
        self._loop_thread = threading.current_thread()
        outcome = "completed"
        error: BaseException | None = None
        root_task: Task | None = None
        try:
            root_task = self._new_task(root, None, None)
            if bus.listening[LoopStarted.kind]:
                bus.emit(
                    LoopStarted, root_task.task_id, time.time_ns(), self.virtual_time, False
                )
            self.make_ready(root_task)
            try:
                self._run(root_task, wait_for_spawned_tasks, _debug_max_wait_time)
            except _Exit:
                outcome = "exit"
                if self._exit_error is not None:
                    raise self._exit_error from None
                return self._exit_value if join else None
            if not join:
                if root_task.state is TaskState.FAILED:
                    logger.error("root task failed", exc_info=root_task.exception)
                return None
            if root_task.state is TaskState.RETURNED:
                result: T = root_task.result
                return result
            if root_task.exception is not None:
                raise root_task.exception
            raise RuntimeError("Event loop exited without completing the root task.")
        except DeadlockError as exc:
            outcome, error = "deadlock", exc
            raise
        except (KeyboardInterrupt, SystemExit) as exc:
            outcome, error = "interrupted", exc
            raise
        except BaseException as exc:
            if outcome == "completed":
                outcome, error = "error", exc
            raise
        finally:
            self._running = False
            self.running_task = None
            if bus.listening[LoopExited.kind]:
                bus.emit(
                    LoopExited,
                    outcome,
                    error_info(error) if error is not None else None,
                    self._living,
                )
            Bus.deactivate(bus_token)
            _current_loop.reset(token)
            self._close_io()

    def _reset(self, bus: Bus) -> None:
        self.bus = bus
        self._ready.clear()
        self._sleepers.clear()
        self._tasks.clear()
        self._next_task_id = 0
        self._living = 0
        self._exit_requested = False
        self._exit_value = None
        self._exit_error = None
        self._virtual_now = 0.0
        self._io_waiters = 0
        self._primitive_ids = 0

    def _run(self, root: Task, wait_for_spawned: bool, max_wait: float | None) -> None:
        ready = self._ready
        handlers = self._handlers
        while True:
            if self._sleepers and (not ready or not self.virtual_time):
                self._wake_sleepers(block=not ready, max_wait=max_wait)
            if self._io_waiters or self._thread_inbox:
                self._steps_since_poll += 1
                if not ready or self._steps_since_poll >= 32:
                    self._steps_since_poll = 0
                    self._poll_io(0.0 if ready or self._sleepers else max_wait)
            if not ready:
                if self._living == 0 or (not wait_for_spawned and root.done):
                    return
                if self._sleepers or self._io_waiters:
                    continue
                self._idle(max_wait)
                continue
            task, value, exc = ready.popleft()
            if task.done:
                continue
            self.running_task = task
            try:
                command = task.coro.throw(exc) if exc is not None else task.coro.send(value)
            except StopIteration as stop:
                self._finish(task, TaskState.RETURNED, stop.value, None)
            except TaskCancelled as cancelled:
                self._finish(task, TaskState.CANCELLED, None, cancelled)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as error:
                self._finish(task, TaskState.FAILED, None, error)
            else:
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
                if task.cancel_pending and task.wait_cleanup is not None:
                    # The task cancelled itself and then blocked: deliver now.
                    task.wait_cleanup()
                    self.make_ready(task, None, TaskCancelled(None))
            finally:
                self.running_task = None
            if task.done and (task is root) and not wait_for_spawned:
                return

    def _foreign(self, task: Task, command: Any) -> None:
        """A task yielded something that is not one of our commands."""
        if command is None:  # a bare yield (e.g. asyncio.sleep(0)): just yield
            self.make_ready(task)
            return
        hook = self.foreign_awaitable_hook
        if hook is not None and hook(self, task, command):
            return
        what = type(command).__module__ + "." + type(command).__qualname__
        hint = (
            "it looks like an asyncio object: run the loop inside asyncio with "
            "`await loop.run_until_complete_async(...)` (or Flow.run_async) so tasks "
            "may await asyncio awaitables"
            if "asyncio" in what or "Future" in what
            else "await only flowtrace primitives (sleep, spawn, Event, Lock, queues, "
            "sockets) inside flowtrace tasks"
        )
        self.make_ready(
            task,
            None,
            UnknownCommandError(f"task {task.name!r} awaited an unknown object {what}: {hint}"),
        )

    #: Set by flowtrace.engine.aio when the loop runs inside asyncio.
    foreign_awaitable_hook: Callable[[EventLoop, Task, Any], bool] | None = None

    def _finish(
        self, task: Task, state: str, result: Any, error: BaseException | None
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
        if state is TaskState.FAILED and not task.joiners and not task.cancel_waiters:
            if task.task_id != 0:
                logger.error("task %r failed", task.name, exc_info=error)
        for joiner in task.joiners:
            if state is TaskState.RETURNED:
                self.make_ready(joiner, result)
            else:
                self.make_ready(joiner, None, error)
        task.joiners = []
        for waiter in task.cancel_waiters:
            self._deliver_cancel_outcome(waiter, task)
        task.cancel_waiters = []
        self.on_task_finished(task)

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

    def _wake_sleepers(self, block: bool, max_wait: float | None) -> None:
        sleepers = self._sleepers
        if self.virtual_time:
            if not block or self._io_waiters:
                if self._io_waiters:
                    self._poll_io(0.0)
                if self._ready:
                    return
            # Nothing else can happen before the earliest deadline: jump to it.
            deadline = sleepers[0][0]
            if deadline > self._virtual_now:
                self._virtual_now = deadline
            now = self._virtual_now
        else:
            now = time.perf_counter()
            if block and sleepers[0][0] > now:
                wait = sleepers[0][0] - now
                if max_wait is not None:
                    wait = min(wait, max_wait)
                self._poll_io(wait) if (self._io_waiters or self._selector) else time.sleep(wait)
                now = time.perf_counter()
        while sleepers and sleepers[0][0] <= now:
            _deadline, _n, task = heapq.heappop(sleepers)
            started = task.result  # the sleep start time, stashed while sleeping
            task.result = None
            slept = now - started
            bus = self.bus
            if bus.listening[SleepEnded.kind]:
                bus.emit(SleepEnded, task.task_id, slept, False)
            self.make_ready(task, slept)

    def add_sleeper(self, task: Task, duration: float) -> None:
        now = self.time()
        deadline = now + max(duration, 0.0)
        bus = self.bus
        if bus.listening[SleepBegan.kind]:
            bus.emit(SleepBegan, task.task_id, duration, deadline)
        if duration <= 0:
            if bus.listening[SleepEnded.kind]:
                bus.emit(SleepEnded, task.task_id, 0.0, False)
            self.make_ready(task, 0.0)
            return
        self._sleep_counter += 1
        entry = (deadline, self._sleep_counter, task)
        heapq.heappush(self._sleepers, entry)
        task.result = now

        def cleanup() -> None:
            try:
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)
            except ValueError:
                pass
            task.result = None
            if bus.listening[SleepEnded.kind]:
                bus.emit(SleepEnded, task.task_id, self.time() - now, True)

        self.park(task, cleanup, f"sleep until {deadline:.3f}")

    # ------------------------------------------------------------------ I/O and threads

    @property
    def selector(self) -> selectors.BaseSelector:
        """The loop's own selector (created lazily; never shared between loops)."""
        if self._selector is None:
            self._selector = selectors.DefaultSelector()
            self._wake_r, self._wake_w = _socket.socketpair()
            self._wake_r.setblocking(False)
            self._wake_w.setblocking(False)
            self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        return self._selector

    def add_io_waiter(self) -> None:
        self._io_waiters += 1

    def remove_io_waiter(self) -> None:
        self._io_waiters -= 1

    def _wake(self) -> None:
        if self._wake_w is None:
            _ = self.selector
        assert self._wake_w is not None
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    def _poll_io(self, timeout: float | None) -> None:
        if self.asyncio_loop is not None and timeout != 0.0:
            raise _NeedAsyncWait(timeout)
        selector = self.selector
        for key, _mask in selector.select(timeout):
            callback = key.data
            if callback is None:
                assert self._wake_r is not None
                try:
                    while self._wake_r.recv(4096):
                        pass
                except (BlockingIOError, OSError):
                    pass
            else:
                callback()
        if self._thread_inbox:
            self._drain_thread_inbox()

    def _drain_thread_inbox(self) -> None:
        with self._thread_lock:
            inbox, self._thread_inbox = self._thread_inbox, []
        for task, thread_name in inbox:
            # The handle given to the other thread already points at this Task object.
            self._register(task)
            bus = self.bus
            if bus.listening[TaskCreatedFromThread.kind]:
                bus.emit(TaskCreatedFromThread, task.task_id, thread_name)
            self.make_ready(task)

    def _idle(self, max_wait: float | None) -> None:
        """Nothing is ready, no timer, no I/O: wait for another thread or give up."""
        if self._other_threads_alive() or self.asyncio_loop is not None:
            self._poll_io(0.05 if max_wait is None else min(max_wait, 0.05))
            return
        self._poll_io(0.0)
        if self._ready:
            return
        raise self.deadlock_error()

    def _other_threads_alive(self) -> bool:
        me = threading.current_thread()
        return any(
            t is not me and t.is_alive() and not t.daemon for t in threading.enumerate()
        )

    def blocked_tasks(self) -> list[Task]:
        return [t for t in self._tasks.values() if not t.done and t.waiting_on is not None]

    def deadlock_error(self) -> DeadlockError:
        """Build the error raised when every living task waits forever (overridable)."""
        waiting = [(t.name, t.waiting_on or "?") for t in self.blocked_tasks()]
        lines = "; ".join(f"task {name!r} waits on {what}" for name, what in waiting)
        return DeadlockError(
            f"deadlock: no task can run and nothing can wake them ({lines}). "
            "Something must set/release/put what they wait on.",
            waiting,
        )

    def _close_io(self) -> None:
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        for s in (self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        self._wake_r = self._wake_w = None

    def living_task_count(self) -> int:
        return self._living


class _NeedAsyncWait(Exception):
    """Internal: in asyncio mode, the loop must await instead of blocking."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout


# --------------------------------------------------------------------- core handlers


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
    elif target.done:
        loop.make_ready(task, None, target.exception)
    else:
        target.joiners.append(task)

        def cleanup() -> None:
            if task in target.joiners:
                target.joiners.remove(task)

        loop.park(task, cleanup, f"join task {target.name!r}")


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
    target.cancel_waiters.append(task)

    def cleanup() -> None:
        if task in target.cancel_waiters:
            target.cancel_waiters.remove(task)

    loop.park(task, cleanup, f"cancellation of task {target.name!r}")


def _handle_sleep(loop: EventLoop, task: Task, command: SleepCommand) -> None:
    loop.add_sleeper(task, command.duration)


def _handle_exit(loop: EventLoop, task: Task, command: ExitCommand) -> None:
    loop._exit_requested = True
    loop._exit_value = command.return_value
    loop._exit_error = command.exception
    raise _Exit()


EventLoop.register_handler(SpawnCommand, _handle_spawn)
EventLoop.register_handler(JoinCommand, _handle_join)
EventLoop.register_handler(CancelWaitCommand, _handle_cancel_wait)
EventLoop.register_handler(SleepCommand, _handle_sleep)
EventLoop.register_handler(ExitCommand, _handle_exit)

