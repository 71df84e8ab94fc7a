"""Task bookkeeping of the loop: creating and registering tasks (ids, ``TaskSpawned``),
handles, finishing them (``TaskFinished``, waking joiners and cancellation waiters),
and what the loop knows of them (living count, blocked tasks).

Functions of ``self: EventLoop`` here are methods of
:class:`~flowtrace.engine.loop.EventLoop`: ``loop.py`` binds each in the class body.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from flowtrace.engine.tasks import Task, TaskCancelled, TaskHandle, TaskState
from flowtrace.events import TaskFinished, TaskOutcome, TaskSpawned, WaitEnded, WaitOutcome

if TYPE_CHECKING:
    from flowtrace.codec import JsonValue
from flowtrace.engine.loop_errors import error_info

logger = logging.getLogger("flowtrace.loop")

if TYPE_CHECKING:
    from flowtrace.engine.loop import EventLoop


def _make_task(coro: Coroutine[Any, Any, Any], name: str | None, parent: Task | None) -> Task:
    if not hasattr(coro, "send") or not hasattr(coro, "throw"):
        raise TypeError(
            f"a task must be a coroutine (call your async function: f(), not f); got {coro!r}"
        )
    if name is None:
        name = getattr(coro, "__qualname__", None) or type(coro).__name__
    return Task(-1, coro, name, parent.task_id if parent is not None else None)


def handle_of(self: EventLoop, task: Task) -> TaskHandle[Any]:
    if task.handle is None:
        task.handle = TaskHandle(self, task)
    return task.handle


def _new_task(
    self: EventLoop,
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


def _register(self: EventLoop, task: Task, node_id: str | None = None) -> None:
    """Give ``task`` its id, count it as living, report it."""
    task.task_id = self._next_task_id
    self._next_task_id += 1
    self._tasks[task.task_id] = task
    self._living += 1
    bus = self.bus
    if bus.listening[TaskSpawned.kind]:
        bus.emit(TaskSpawned, task.task_id, task.name, task.parent_id, node_id)


def spawn_task(
    self: EventLoop,
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


def _first_step(self: EventLoop, task: Task) -> None:
    """Queue the first step of a task created before it could be registered (before
    the loop ran, or from another thread): its cancellation, if one was asked for."""
    if task.cancel_pending:
        task.cancel_pending = False
        self.make_ready(task, None, TaskCancelled(None))
    else:
        self.make_ready(task)


def _finish(
    self: EventLoop, task: Task, state: TaskOutcome, result: Any, error: BaseException | None
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


def _wait_ended(self: EventLoop, waiter: Task, target: Task, outcome: WaitOutcome) -> None:
    bus = self.bus
    if bus.listening[WaitEnded.kind]:
        bus.emit(WaitEnded, waiter.task_id, "join", target.task_id, outcome)


def on_task_finished(self: EventLoop, task: Task) -> None:
    """Hook for subclasses (the flow engine watches its node tasks)."""


def _deliver_cancel_outcome(self: EventLoop, waiter: Task, task: Task) -> None:
    if task.state is TaskState.RETURNED:
        self.make_ready(waiter, task.result)
    elif task.state is TaskState.CANCELLED:
        self.make_ready(waiter, None)
    else:
        self.make_ready(waiter, None, task.exception)


def blocked_tasks(self: EventLoop) -> list[Task]:
    """Living tasks parked on something, in task-id order."""
    return [t for t in self._tasks.values() if not t.done and t.waiting_on is not None]


def living_task_count(self: EventLoop) -> int:
    return self._living


def has_living_tasks(self: EventLoop) -> bool:
    return self._living > 0
