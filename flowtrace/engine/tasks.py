"""Tasks: the loop's record of one coroutine, and the handle users hold.

A :class:`Task` is internal bookkeeping (state, result, who waits on it, how to undo
its current wait). A :class:`TaskHandle` is what ``spawn`` returns: join it, cancel it,
ask how it ended.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from flowtrace.engine.commands import CancelWaitCommand, JoinCommand

if TYPE_CHECKING:
    from flowtrace.engine.loop import EventLoop

__all__ = ["Task", "TaskHandle", "TaskCancelled", "TaskState"]

T = TypeVar("T")


class TaskCancelled(Exception):
    """Thrown into a task that is being cancelled. ``by`` is the canceller's handle."""

    def __init__(self, by: TaskHandle[Any] | None = None) -> None:
        super().__init__("Task was cancelled")
        self.by = by

    def __str__(self) -> str:
        return "Task was cancelled"


class TaskState:
    """Task lifecycle states (plain strings, cheap to compare)."""

    RUNNING: Final = "running"
    RETURNED: Final = "returned"
    FAILED: Final = "failed"
    CANCELLED: Final = "cancelled"


class Task:
    """One coroutine under the loop's control."""

    __slots__ = (
        "cancel_pending",
        "cancel_requested",
        "cancel_waiters",
        "coro",
        "exception",
        "handle",
        "joiners",
        "name",
        "node",
        "parent_id",
        "result",
        "state",
        "task_id",
        "wait_cleanup",
        "waiting_on",
    )

    def __init__(
        self,
        task_id: int,
        coro: Coroutine[Any, Any, Any],
        name: str,
        parent_id: int | None,
    ) -> None:
        self.task_id = task_id
        self.coro = coro
        self.name = name
        self.parent_id = parent_id
        self.state = TaskState.RUNNING
        self.result: Any = None
        self.exception: BaseException | None = None
        self.joiners: list[Task] = []
        self.cancel_waiters: list[Task] = []
        #: Someone asked to cancel this task (later requests only wait for it).
        self.cancel_requested = False
        #: The cancellation is requested but not thrown in yet (self-cancellation).
        self.cancel_pending = False
        #: Called to take the task out of whatever it waits on (cancellation).
        self.wait_cleanup: Callable[[], None] | None = None
        #: Short description of the current wait (deadlock reports).
        self.waiting_on: str | None = None
        #: The flow node this task runs, if any (set by the flow engine).
        self.node: Any = None
        self.handle: TaskHandle[Any] | None = None

    @property
    def done(self) -> bool:
        return self.state is not TaskState.RUNNING

    def __repr__(self) -> str:
        return f"<Task {self.task_id} {self.name!r} {self.state}>"


class TaskHandle(Generic[T]):
    """A spawned task, as seen by user code."""

    __slots__ = ("_loop", "_task")

    def __init__(self, loop: EventLoop, task: Task) -> None:
        self._loop = loop
        self._task = task

    @property
    def task_id(self) -> int:
        return self._task.task_id

    @property
    def name(self) -> str:
        return self._task.name

    @property
    def is_finished(self) -> bool:
        return self._task.done

    @property
    def is_error(self) -> bool:
        return self._task.state is TaskState.FAILED

    @property
    def is_cancelled(self) -> bool:
        return self._task.state is TaskState.CANCELLED

    def join(self) -> Coroutine[Any, Any, T]:
        """Wait for the task; returns its result or raises its exception (a task that
        let ``TaskCancelled`` escape raises ``TaskCancelled``)."""
        return _await_command(JoinCommand(self))

    def cancel(self) -> CancelRequest[T]:
        """Start cancelling now; await the result for the task's outcome: the value it
        returned while handling ``TaskCancelled``, ``None`` if it let it escape, or the
        exception it raised instead. A finished task gives its result (or error)."""
        self._loop.cancel_task(self._task)
        return CancelRequest(self)

    def __repr__(self) -> str:
        return f"<TaskHandle {self._task.task_id} {self._task.name!r} {self._task.state}>"


class CancelRequest(Generic[T]):
    """The awaitable returned by :meth:`TaskHandle.cancel` (await it once)."""

    __slots__ = ("_awaited", "_handle")

    def __init__(self, handle: TaskHandle[T]) -> None:
        self._handle = handle
        self._awaited = False

    def __await__(self) -> Generator[Any, Any, T]:
        if self._awaited:
            raise RuntimeError(
                "this cancel request was already awaited; call handle.cancel() again "
                "to get the task's outcome a second time"
            )
        self._awaited = True
        result: T = yield CancelWaitCommand(self._handle)
        return result


@types.coroutine
def _yield(command: Any) -> Generator[Any, Any, Any]:
    return (yield command)


async def _await_command(command: Any) -> Any:
    return await _yield(command)
