"""The engine split by job keeps its contracts: every command carries its handler (the
loop does what it does whatever was imported), the names other code imports from
``flowtrace.engine.flow`` and ``flowtrace.engine.loop`` are still there, and traces name
errors and the root task as before the split.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import textwrap
import types
from collections.abc import Generator
from typing import Any

import pytest
from _loop_support import Collector, run

import flowtrace.engine
from flowtrace import FlowHDL, node
from flowtrace.engine.commands import Command
from flowtrace.engine.flow import TerminateLimitReached
from flowtrace.engine.loop import DeadlockError, EventLoop
from flowtrace.engine.tasks import Task
from flowtrace.events import FlowFinished, TaskSpawned

_SKIP = {"flowtrace.engine.remote"}  # runs on offload workers; imports nothing new here


def _engine_commands() -> list[type[Command]]:
    for info in pkgutil.iter_modules(flowtrace.engine.__path__, "flowtrace.engine."):
        if info.name not in _SKIP:
            importlib.import_module(info.name)
    found: list[type[Command]] = []
    todo = list(Command.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("flowtrace.engine.") and not cls.__subclasses__():
            found.append(cls)
    return sorted(found, key=lambda c: (c.__module__, c.__qualname__))


def test_every_command_of_the_engine_carries_its_own_handler() -> None:
    commands = _engine_commands()
    assert len(commands) >= 20  # spawn … exit, sync, queues, sockets, offload, the flow's
    missing = [f"{c.__module__}.{c.__qualname__}" for c in commands if "handler" not in vars(c)]
    assert missing == []


def test_the_loop_runs_its_own_commands_with_nothing_else_imported() -> None:
    program = textwrap.dedent(
        """
        import sys
        from flowtrace.engine.loop import EventLoop
        from flowtrace.engine.commands import exit, sleep, spawn

        async def child(n):
            await sleep(0.01)
            return n * 2

        async def main():
            handle = await spawn(child(21))
            value = await handle.join()
            forever = await spawn(sleep(float("inf")))
            await sleep(0)
            await forever.cancel()
            await exit(value)

        result = EventLoop(virtual_time=True).run_until_complete(main(), join=True)
        loaded = sorted(m for m in sys.modules if m.startswith("flowtrace.engine."))
        print(result, [m for m in loaded if m.split(".")[-1] in ("flow", "sync", "queues")])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["42", "[]"]


def test_register_handler_still_teaches_a_command_its_handler() -> None:
    class Double(Command):
        __slots__ = ("value",)

        def __init__(self, value: int) -> None:
            self.value = value

    def handle(loop: EventLoop, task: Task, command: Double) -> None:
        loop.make_ready(task, command.value * 2)

    EventLoop.register_handler(Double, handle)

    @types.coroutine
    def ask(command: Command) -> Generator[Any, Any, Any]:
        return (yield command)

    async def main() -> int:
        answer: int = await ask(Double(21))
        return answer

    assert run(main()) == 42


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            "flowtrace.engine.flow",
            "Flow FlowEventLoop NodeStateView NodeTaskStatus NodeExecutionError "
            "TerminateLimitReached current_flow current_node current_context flow_for_run",
        ),
        (
            "flowtrace.engine.loop",
            "DEFAULT_DEADLOCK_TIMEOUT UNREGISTERED_GRACE EventLoop DeadlockError Waker "
            "UnknownCommandError WaitStrategy current_event_loop current_task error_info",
        ),
    ],
)
def test_the_names_other_code_imports_are_still_there(module: str, names: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(names.split())
    for name in names.split():
        assert getattr(mod, name) is not None


def _cycle() -> FlowHDL:
    @node
    async def Count(x: int = 0) -> int:
        return x + 1

    with FlowHDL() as f:
        f.count = Count(f.count)
    return f


def test_traces_name_the_limit_error_and_the_root_task_as_before() -> None:
    rec = Collector([FlowFinished, TaskSpawned])
    with pytest.raises(TerminateLimitReached):
        _cycle().run_until_complete(stop_at_node_generation=(2,), instruments=[rec])
    (finished,) = rec.of(FlowFinished)
    assert finished.error is not None
    assert finished.error.type == "flowtrace.engine.flow.TerminateLimitReached"
    assert rec.of(TaskSpawned)[0].name == "Flow._root"


def test_traces_name_a_deadlock_error_as_before() -> None:
    from flowtrace import Event

    gate = Event()

    @node
    async def Waits(x: int = 0) -> int:
        await gate.wait()
        return x

    with FlowHDL() as f:
        f.waits = Waits()
    rec = Collector([FlowFinished])
    with pytest.raises(DeadlockError):
        f.run_until_complete(instruments=[rec])
    (finished,) = rec.of(FlowFinished)
    assert finished.error is not None
    assert finished.error.type == "flowtrace.engine.loop.DeadlockError"
