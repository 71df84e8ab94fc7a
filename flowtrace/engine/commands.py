"""Commands: what a task yields to the event loop, and the awaitables that yield them.

A task is a coroutine. When it awaits a flowtrace primitive, the primitive yields one
*command* object up to the loop, which handles it (see ``EventLoop.register_handler``)
and later resumes the task with the answer. Each command is a small slotted class;
handlers are looked up by exact type, so dispatch is one dict lookup.
"""

from __future__ import annotations

import types
from collections.abc import AsyncIterable, AsyncIterator, Coroutine, Generator, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowtrace.engine.tasks import TaskHandle

__all__ = [
    "Command",
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
    """Base of every command a task may yield."""

    __slots__ = ()


class SpawnCommand(Command):
    """Start ``coro`` as a new task (named ``name``); the spawner gets its handle."""

    __slots__ = ("coro", "name")

    def __init__(self, coro: Coroutine[Any, Any, Any], name: str | None) -> None:
        self.coro = coro
        self.name = name


class JoinCommand(Command):
    """Wait for the task behind ``handle`` to end: its result, or its exception."""

    __slots__ = ("handle",)

    def __init__(self, handle: TaskHandle[Any]) -> None:
        self.handle = handle


class CancelWaitCommand(Command):
    """Wait for the outcome of a cancellation already requested."""

    __slots__ = ("handle",)

    def __init__(self, handle: TaskHandle[Any]) -> None:
        self.handle = handle


class SleepCommand(Command):
    """Suspend the task for ``duration`` seconds of loop time (``<= 0``: just yield)."""

    __slots__ = ("duration",)

    def __init__(self, duration: float) -> None:
        self.duration = duration


class ExitCommand(Command):
    """End the whole loop run at once, with ``return_value`` or ``exception``."""

    __slots__ = ("exception", "return_value")

    def __init__(self, return_value: Any, exception: BaseException | None) -> None:
        self.return_value = return_value
        self.exception = exception


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
