"""Commands: what a task yields to the event loop, and the awaitables that yield them.

A task is a coroutine. When it awaits a flowtrace primitive, the primitive yields one
*command* object up to the loop, which handles it and later resumes the task with the
answer. Each command is a small slotted class that carries its own handler: the class
attribute ``handler(loop, task, command)``, set where the command is defined (here for
the loop's own commands: spawn, join, cancellation wait, sleep, exit; in ``sync``,
``queues``, ``sockets``, ``offload`` and the flow engine for theirs). The loop calls
``type(command).handler`` — one attribute lookup, no table, nothing registered into the
loop at import. A handler must resume the task (``loop.make_ready``) or park it
(``loop.park``); an exception it raises is thrown into the task.
"""

from __future__ import annotations

import types
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Generator,
    Iterable,
)
from typing import TYPE_CHECKING, Any, ClassVar

from flowtrace.events import SleepBegan, SleepEnded, WaitBegan

if TYPE_CHECKING:
    from flowtrace.engine.loop import EventLoop
    from flowtrace.engine.tasks import Task, TaskHandle

#: What a command's ``handler`` is: ``handler(loop, task, command)``.
Handler = Callable[["EventLoop", "Task", Any], None]


def _unhandled(loop: EventLoop, task: Task, command: Any) -> None:
    """The handler of a command nobody gave one: the error, raised in the task."""
    loop._foreign(task, command)


__all__ = [
    "Command",
    "Handler",
    "Primitive",
    "yield_command",
    "azip",
    "SpawnCommand",
    "JoinCommand",
    "CancelWaitCommand",
    "SleepCommand",
    "ExitCommand",
    "sleep",
    "spawn",
    "exit",
]


class Command:
    """Base of every command a task may yield. A subclass sets ``handler``; without
    one, the task that yielded it gets :class:`~flowtrace.engine.loop.UnknownCommandError`."""

    __slots__ = ()

    #: ``handler(loop, task, command)``, run by the loop when a task yields the command
    #: (a static method: the loop calls ``type(command).handler``).
    handler: ClassVar[staticmethod[[EventLoop, Task, Any], None]] = staticmethod(_unhandled)


class _Exit(Exception):
    """Internal: unwinds the loop's run when a task awaits ``exit``."""


class SpawnCommand(Command):
    """Start ``coro`` as a new task (named ``name``); the spawner gets its handle."""

    __slots__ = ("coro", "name")

    def __init__(self, coro: Coroutine[Any, Any, Any], name: str | None) -> None:
        self.coro = coro
        self.name = name

    @staticmethod
    def handler(loop: EventLoop, task: Task, command: SpawnCommand) -> None:
        child = loop._new_task(command.coro, command.name, task)
        loop.make_ready(child)
        loop.make_ready(task, loop.handle_of(child))


class JoinCommand(Command):
    """Wait for the task behind ``handle`` to end: its result, or its exception."""

    __slots__ = ("handle",)

    def __init__(self, handle: TaskHandle[Any]) -> None:
        self.handle = handle

    @staticmethod
    def handler(loop: EventLoop, task: Task, command: JoinCommand) -> None:
        target = command.handle._task
        if target is task:
            raise RuntimeError(f"task {task.name!r} tried to join itself, which would never end")
        if target.state is _tasks.TaskState.RETURNED:
            loop.make_ready(task, target.result)
            return
        if target.done:
            loop.make_ready(task, None, target.exception)
            return
        _park_on_task(loop, task, target, target.joiners, "join", f"join of task {target.name!r}")


class CancelWaitCommand(Command):
    """Wait for the outcome of a cancellation already requested."""

    __slots__ = ("handle",)

    def __init__(self, handle: TaskHandle[Any]) -> None:
        self.handle = handle

    @staticmethod
    def handler(loop: EventLoop, task: Task, command: CancelWaitCommand) -> None:
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
            loop,
            task,
            target,
            target.cancel_waiters,
            "cancel",
            f"cancellation of task {target.name!r}",
        )


class SleepCommand(Command):
    """Suspend the task for ``duration`` seconds of loop time (``<= 0``: just yield)."""

    __slots__ = ("duration",)

    def __init__(self, duration: float) -> None:
        self.duration = duration

    @staticmethod
    def handler(loop: EventLoop, task: Task, command: SleepCommand) -> None:
        if command.duration <= 0:  # sleep(0), a plain yield: the hottest path
            listening = loop.bus.listening
            if listening[_SLEEP_BEGAN] or listening[_SLEEP_ENDED]:
                loop.add_sleeper(task, command.duration)
            else:
                # The running task has no wait state to clear: queue it directly.
                loop._ready.append((task, 0.0, None))
            return
        loop.add_sleeper(task, command.duration)


class ExitCommand(Command):
    """End the whole loop run at once, with ``return_value`` or ``exception``."""

    __slots__ = ("exception", "return_value")

    def __init__(self, return_value: Any, exception: BaseException | None) -> None:
        self.return_value = return_value
        self.exception = exception

    @staticmethod
    def handler(loop: EventLoop, task: Task, command: ExitCommand) -> None:
        loop._exit_value = command.return_value
        loop._exit_error = command.exception
        loop._outcome = "exit"
        loop._error = command.exception
        loop._finish(task, _tasks.TaskState.RETURNED, command.return_value, None)
        raise _Exit()


#: Event kinds checked on the sleep(0) path, as constants (one global load each).
_SLEEP_BEGAN = SleepBegan.kind
_SLEEP_ENDED = SleepEnded.kind


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


class Primitive:
    """Base of the loop's synchronisation objects (Event, Lock, queues, sockets…).

    ``_pid`` is the object's id in events, numbered per run in order of first use
    (``EventLoop.primitive_id``), so one object can serve several runs."""

    __slots__ = ("_pid", "_pid_run")

    def __init__(self) -> None:
        self._pid = 0
        self._pid_run = 0


@types.coroutine
def yield_command(command: Command) -> Generator[Any, Any, Any]:
    """Yield ``command`` to the loop and return what the loop resumes the task with."""
    return (yield command)


@types.coroutine
def sleep(seconds: float) -> Generator[Any, Any, float]:
    """Suspend the current task for ``seconds``; returns the time actually slept (on
    the loop's clock, which is virtual in virtual-time mode). ``sleep(0)`` yields to
    the other ready tasks; ``sleep(inf)`` ends only by cancellation (with nothing else
    able to run, that is a deadlock); NaN is refused with ``ValueError``. (A
    generator-based coroutine, as in Flowno: one frame.)"""
    duration = float(seconds)
    if duration != duration:
        raise ValueError(f"sleep() needs a number of seconds, got {seconds!r}")
    result: float = yield SleepCommand(duration)
    return result


async def spawn(coro: Coroutine[Any, Any, Any], name: str | None = None) -> TaskHandle[Any]:
    """Start ``coro`` as a concurrent task (it runs before the spawner resumes)."""
    handle: TaskHandle[Any] = await yield_command(SpawnCommand(coro, name))
    return handle


async def exit(return_value: Any = None, exception: BaseException | None = None) -> None:
    """Stop the event loop: ``run_until_complete`` returns ``return_value`` (with
    ``join=True``) or raises ``exception``. Every other task is abandoned."""
    await yield_command(ExitCommand(return_value, exception))


async def azip(*iterables: AsyncIterable[Any] | Iterable[Any]) -> AsyncIterator[tuple[Any, ...]]:
    """Zip async iterables (plain iterables are accepted too) in lock-step: each round
    awaits one item from each, in argument order; ends when the shortest ends."""
    iterators: list[Any] = [
        aiter(it) if hasattr(it, "__aiter__") else iter(it)  # type: ignore[arg-type]
        for it in iterables
    ]
    if not iterators:
        return
    while True:
        items: list[Any] = []
        for it in iterators:
            if hasattr(it, "__anext__"):
                try:
                    items.append(await anext(it))
                except StopAsyncIteration:
                    return
            else:
                try:
                    items.append(next(it))
                except StopIteration:
                    return
        yield tuple(items)


# Last, as tasks.py imports the commands above: a module reference (not a name) works
# whichever of the two modules is imported first (TaskState is read when a handler runs).
from flowtrace.engine import tasks as _tasks  # noqa: E402
