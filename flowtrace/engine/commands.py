"""Commands: what a task yields to the event loop, and the awaitables that yield them.

A task is a coroutine. When it awaits a flowtrace primitive, the primitive yields one
*command* object up to the loop, which handles it (see ``EventLoop.register_handler``)
and later resumes the task with the answer. Each command is a small slotted class;
handlers are looked up by exact type, so dispatch is one dict lookup.
"""

from __future__ import annotations

import types
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowtrace.engine.tasks import TaskHandle

__all__ = [
    "Command",
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
    __slots__ = ("coro", "name")

    def __init__(self, coro: Coroutine[Any, Any, Any], name: str | None) -> None:
        self.coro = coro
        self.name = name


class JoinCommand(Command):
    __slots__ = ("handle",)

    def __init__(self, handle: TaskHandle[Any]) -> None:
        self.handle = handle


class CancelWaitCommand(Command):
    """Wait for the outcome of a cancellation already requested."""

    __slots__ = ("handle",)

    def __init__(self, handle: TaskHandle[Any]) -> None:
        self.handle = handle


class SleepCommand(Command):
    __slots__ = ("duration",)

    def __init__(self, duration: float) -> None:
        self.duration = duration


class ExitCommand(Command):
    __slots__ = ("exception", "return_value")

    def __init__(self, return_value: Any, exception: BaseException | None) -> None:
        self.return_value = return_value
        self.exception = exception


@types.coroutine
def _yield_command(command: Command) -> Generator[Any, Any, Any]:
    return (yield command)


async def sleep(seconds: float) -> float:
    """Suspend the current task for ``seconds``; returns the time actually slept (on
    the loop's clock, which is virtual in virtual-time mode). ``sleep(0)`` yields to
    the other ready tasks."""
    result: float = await _yield_command(SleepCommand(float(seconds)))
    return result


async def spawn(coro: Coroutine[Any, Any, Any], name: str | None = None) -> TaskHandle[Any]:
    """Start ``coro`` as a concurrent task (it runs before the spawner resumes)."""
    handle: TaskHandle[Any] = await _yield_command(SpawnCommand(coro, name))
    return handle


async def exit(return_value: Any = None, exception: BaseException | None = None) -> None:
    """Stop the event loop: ``run_until_complete`` returns ``return_value`` (with
    ``join=True``) or raises ``exception``. Every other task is abandoned."""
    await _yield_command(ExitCommand(return_value, exception))
