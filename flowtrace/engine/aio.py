"""asyncio interop: run a flowtrace loop inside a running asyncio loop.

``await loop.run_until_complete_async(root, join=..., bus=...)`` drives the flowtrace
loop from an asyncio coroutine with the :class:`AsyncioWait` strategy:

* it never blocks the asyncio loop: when no flowtrace task is ready it *awaits* (a
  future woken by a timer, by readiness of the flowtrace selector — registered with
  ``add_reader`` — or by an asyncio completion), and while tasks are busy it yields to
  asyncio every few dozen steps;
* a flowtrace task may await any asyncio awaitable (``asyncio.sleep``, stream reads,
  futures, ``asyncio.Task``\\ s, ``gather``…): the future it yields is adopted, the task
  parks, and other tasks keep running; ``IOWaitBegan`` / ``IOWaitEnded`` with
  operation ``"asyncio"`` bracket each such wait. Cancelling the flowtrace task cancels
  the future it waits on, as asyncio does.

Deadlocks: the asyncio futures flowtrace tasks await count as possible wakers (only the
watchdog, ``deadlock_timeout``, can tell that nobody will ever resolve one); other
asyncio tasks only get the short ``UNREGISTERED_GRACE`` — asyncio code that hands the
loop work with ``create_task`` later holds a
:meth:`~flowtrace.engine.loop.EventLoop.waker` while it may do so.

While a flowtrace task takes a step, ``asyncio.current_task()`` returns that task's
stand-in (:class:`_TaskStandIn`), not the asyncio task driving the loop: so
``asyncio.timeout()`` and ``asyncio.wait_for`` (built on it since Python 3.12) cancel the
flowtrace task that set them — the future it awaits is cancelled, or
``asyncio.CancelledError`` is thrown at its wait — and never the driver. ``TaskGroup``
inside a flowtrace task is not supported (its children would be asyncio tasks whose
parent is not one); create asyncio tasks and await them instead.

This module is imported only when asyncio mode is used.
"""

from __future__ import annotations

import asyncio
from asyncio import tasks as _asyncio_tasks
from typing import TYPE_CHECKING, Any, cast

from flowtrace.engine.loop import WaitStrategy
from flowtrace.events import IOOutcome, IOWaitBegan, IOWaitEnded

if TYPE_CHECKING:
    from flowtrace.engine.loop import EventLoop
    from flowtrace.engine.tasks import Task

__all__ = ["AsyncioWait"]

#: Longest single wait when the selector cannot be watched through asyncio.
_FALLBACK_POLL = 0.01


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _describe(future: Any) -> str:
    coro = getattr(future, "get_coro", None)
    if coro is not None:
        inner = coro()
        name = getattr(inner, "__qualname__", None)
        if name:
            return f"asyncio.Task {name}"
    text = repr(future)
    return text if len(text) <= 120 else text[:119] + "…"


# asyncio's own bookkeeping of "the task running now" (public in behaviour, private in
# name; what asyncio's Task.__step uses). Entering the stand-in requires leaving the
# current one first.
_enter_task = _asyncio_tasks._enter_task
_leave_task = _asyncio_tasks._leave_task


class _TaskStandIn:
    """What ``asyncio.current_task()`` returns during a flowtrace task's step.

    It has the part of ``asyncio.Task`` that code acting on the current task uses
    (``asyncio.timeout``: ``cancel``, ``cancelling``, ``uncancel``), and cancelling it
    cancels the flowtrace task's asyncio wait, as cancelling an asyncio task would.
    """

    __slots__ = ("_cancel_requests", "_loop", "_strategy", "_task")

    def __init__(self, strategy: AsyncioWait, loop: EventLoop, task: Task) -> None:
        self._strategy = strategy
        self._loop = loop
        self._task = task
        self._cancel_requests = 0

    def cancel(self, msg: Any = None) -> bool:
        if self._task.done:
            return False
        self._cancel_requests += 1
        self._strategy.throw_cancelled(self._loop, self._task, msg)
        return True

    def cancelling(self) -> int:
        return self._cancel_requests

    def uncancel(self) -> int:
        if self._cancel_requests > 0:
            self._cancel_requests -= 1
        return self._cancel_requests

    def done(self) -> bool:
        return bool(self._task.done)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._strategy.aloop

    def get_name(self) -> str:
        return str(self._task.name)

    def get_coro(self) -> Any:
        return self._task.coro

    def __repr__(self) -> str:
        return f"<flowtrace task {self._task.name!r} (asyncio stand-in)>"


class AsyncioWait(WaitStrategy):
    """The wait strategy of a loop running inside asyncio (see the module docstring)."""

    asyncio_mode = True
    interrupts = (KeyboardInterrupt, SystemExit, asyncio.CancelledError)

    def __init__(self) -> None:
        super().__init__()
        try:
            self.aloop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "run_until_complete_async() must be awaited inside a running asyncio loop "
                "(e.g. under asyncio.run); use run_until_complete() otherwise"
            ) from None
        self._wakeup: asyncio.Future[None] | None = None
        self._fd: int | None = None
        #: Adopted futures still awaited, with their done callbacks.
        self._adopted: dict[asyncio.Future[Any], Any] = {}
        #: The asyncio future each parked task awaits (to cancel it through its stand-in).
        self._awaited: dict[Task, asyncio.Future[Any]] = {}
        #: One stand-in per flowtrace task that took a step (pruned as tasks end).
        self._standins: dict[Task, _TaskStandIn] = {}
        self._prune_at = 256
        #: The asyncio task driving this loop (current outside flowtrace steps).
        self._driver: asyncio.Task[Any] | None = None
        self._loop: EventLoop | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def attach(self, loop: EventLoop) -> None:
        """Watch the loop's selector (sockets, cross-thread wake-ups) from asyncio, and
        give each task step its own ``asyncio.current_task()``."""
        self._loop = loop
        self._driver = asyncio.current_task(self.aloop)
        loop.step_watchers.append(self)
        selector = loop.selector
        try:
            fd = selector.fileno()  # type: ignore[attr-defined]
            self.aloop.add_reader(fd, self.nudge)
        except (AttributeError, NotImplementedError):
            self._fd = None
        else:
            self._fd = fd

    def detach(self, loop: EventLoop) -> None:
        """Stop watching; cancel the asyncio futures abandoned tasks still await."""
        self.after_run()
        if self in loop.step_watchers:
            loop.step_watchers.remove(self)
        self._standins.clear()
        self._awaited.clear()
        if self._fd is not None:
            self.aloop.remove_reader(self._fd)
            self._fd = None
        adopted, self._adopted = self._adopted, {}
        for future, callback in adopted.items():
            future.remove_done_callback(callback)
            future.cancel()

    # -- the current task, step by step -------------------------------------------------

    def before_step(self, task: Task, value: Any, exc: BaseException | None) -> None:
        """Make ``task``'s stand-in asyncio's current task for the step to come."""
        standin = self._standins.get(task)
        if standin is None:
            if len(self._standins) >= self._prune_at:
                self._standins = {t: s for t, s in self._standins.items() if not t.done}
                self._prune_at = max(256, 2 * len(self._standins))
            assert self._loop is not None
            standin = self._standins[task] = _TaskStandIn(self, self._loop, task)
        current: Any = asyncio.current_task(self.aloop)
        if current is standin:
            return
        if current is not None:
            _leave_task(self.aloop, current)
        _enter_task(self.aloop, cast(Any, standin))

    def after_step(self, task: Task, value: Any, exc: BaseException | None, command: Any) -> None:
        """Nothing per step: the driver becomes current again in :meth:`after_run`."""

    def after_run(self) -> None:
        """The loop stops taking steps: the driving asyncio task is current again."""
        current: Any = asyncio.current_task(self.aloop)
        if current is self._driver or not isinstance(current, _TaskStandIn):
            return
        _leave_task(self.aloop, cast(Any, current))
        if self._driver is not None:
            _enter_task(self.aloop, self._driver)

    def throw_cancelled(self, loop: EventLoop, task: Task, msg: Any) -> None:
        """Cancel ``task`` the asyncio way: its awaited future, else its wait."""
        future = self._awaited.get(task)
        if future is not None:
            future.cancel(msg)
            return
        error = asyncio.CancelledError(msg) if msg is not None else asyncio.CancelledError()
        if task.wait_cleanup is not None:
            task.wait_cleanup()
            loop.make_ready(task, None, error)
            self.nudge()
            return
        for i, (queued, _value, pending) in enumerate(loop._ready):
            if queued is task and pending is None:
                loop._ready[i] = (task, None, error)
                return
        if task.waiting_on is not None:
            loop.make_ready(task, None, error)
            self.nudge()

    # -- waiting -----------------------------------------------------------------------

    def nudge(self) -> None:
        if self._wakeup is not None:
            _wake(self._wakeup)

    def unregistered(self, loop: EventLoop) -> list[str]:
        others = super().unregistered(loop)
        me = asyncio.current_task(self.aloop)
        tasks = sum(1 for t in asyncio.all_tasks(self.aloop) if t is not me and not t.done())
        if tasks:
            others.append(f"{tasks} other asyncio task(s)")
        return others

    async def wait(self, loop: EventLoop, timeout: float | None) -> None:
        """Await until woken or ``timeout`` passes, then collect I/O and hand-overs."""
        if timeout is not None and timeout <= 0.0:
            await asyncio.sleep(0)
        else:
            if self._fd is None and (timeout is None or timeout > _FALLBACK_POLL):
                timeout = _FALLBACK_POLL
            future: asyncio.Future[None] = self.aloop.create_future()
            self._wakeup = future
            timer = self.aloop.call_later(timeout, _wake, future) if timeout is not None else None
            try:
                await future
            finally:
                self._wakeup = None
                if timer is not None:
                    timer.cancel()
        loop.poll_io(0.0)

    def block(self, loop: EventLoop, timeout: float | None) -> None:
        raise RuntimeError("a loop in asyncio mode waits with `await strategy.wait()`")

    # -- foreign awaitables ------------------------------------------------------------

    def adopt(self, loop: EventLoop, task: Task, awaitable: Any) -> bool:
        if not asyncio.isfuture(awaitable):
            return False
        future: asyncio.Future[Any] = awaitable
        if future.get_loop() is not self.aloop:
            loop.make_ready(
                task,
                None,
                RuntimeError(
                    f"task {task.name!r} awaited an asyncio future of another asyncio loop"
                ),
            )
            return True
        future._asyncio_future_blocking = False
        self.pending += 1
        target = _describe(future)
        bus = loop.bus
        if bus.listening[IOWaitBegan.kind]:
            bus.emit(IOWaitBegan, task.task_id, "asyncio", target)

        def done(fut: asyncio.Future[Any]) -> None:
            self._adopted.pop(fut, None)
            self._awaited.pop(task, None)
            self.pending -= 1
            if bus.listening[IOWaitEnded.kind]:
                outcome: IOOutcome
                if fut.cancelled():
                    outcome = "cancelled"
                elif fut.exception() is not None:
                    outcome = "error"
                else:
                    outcome = "ready"
                bus.emit(IOWaitEnded, task.task_id, "asyncio", target, outcome, None)
            # Resuming sends None; the future's __await__ then returns its result or
            # raises its exception inside the task.
            loop.make_ready(task)
            self.nudge()

        def cleanup() -> None:
            future.remove_done_callback(done)
            self._adopted.pop(future, None)
            self._awaited.pop(task, None)
            self.pending -= 1
            if bus.listening[IOWaitEnded.kind]:
                bus.emit(IOWaitEnded, task.task_id, "asyncio", target, "cancelled", None)
            future.cancel()

        future.add_done_callback(done)
        self._adopted[future] = done
        self._awaited[task] = future
        loop.park(task, cleanup, f"asyncio {target}")
        return True
