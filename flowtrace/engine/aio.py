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

Limitation: flowtrace tasks are not asyncio Tasks, so APIs that act on
``asyncio.current_task()`` (``asyncio.timeout()``, ``TaskGroup``) would act on the
driving asyncio task; wrap such code in ``asyncio.create_task`` and await that.

This module is imported only when asyncio mode is used.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from flowtrace.engine.loop import WaitStrategy
from flowtrace.events import IOWaitBegan, IOWaitEnded

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

    # -- lifecycle ---------------------------------------------------------------------

    def attach(self, loop: EventLoop) -> None:
        """Watch the loop's selector (sockets, cross-thread wake-ups) from asyncio."""
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
        if self._fd is not None:
            self.aloop.remove_reader(self._fd)
            self._fd = None
        adopted, self._adopted = self._adopted, {}
        for future, callback in adopted.items():
            future.remove_done_callback(callback)
            future.cancel()

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
            timer = (
                self.aloop.call_later(timeout, _wake, future) if timeout is not None else None
            )
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
            self.pending -= 1
            if bus.listening[IOWaitEnded.kind]:
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
            self.pending -= 1
            if bus.listening[IOWaitEnded.kind]:
                bus.emit(IOWaitEnded, task.task_id, "asyncio", target, "cancelled", None)
            future.cancel()

        future.add_done_callback(done)
        self._adopted[future] = done
        loop.park(task, cleanup, f"asyncio {target}")
        return True
