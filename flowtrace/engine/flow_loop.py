"""The loop a flow runs on and the commands its tasks yield to it.

:class:`FlowEventLoop` is an :class:`~flowtrace.engine.loop.EventLoop` that knows its
flow: it counts node tasks as they end and names nodes in deadlock reports. A node task
parks with :class:`ParkCommand` between generations (or stream items); the flow's root
task waits for the run's end with :class:`WaitFlowEndCommand`. Each command carries its
handler (see :mod:`flowtrace.engine.commands`).
"""

from __future__ import annotations

import types
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from flowtrace.engine.commands import Command
from flowtrace.engine.loop import DEFAULT_DEADLOCK_TIMEOUT, DeadlockError, EventLoop
from flowtrace.engine.node import FinalizedNode
from flowtrace.engine.tasks import Task, TaskState

if TYPE_CHECKING:
    from flowtrace.engine.flow import Flow


class ParkCommand(Command):
    """A node task waits to be resumed for its next generation (or next item)."""

    __slots__ = ("flow", "node", "run_level")

    def __init__(self, flow: Flow, node: FinalizedNode, run_level: int) -> None:
        self.flow = flow
        self.node = node
        self.run_level = run_level

    @staticmethod
    def handler(loop: EventLoop, task: Task, cmd: ParkCommand) -> None:
        flow = cmd.flow
        node = cmd.node
        rt = node._rt
        rt.run_level = cmd.run_level
        # Reported already: a park at run level 0 by the NodeFinished(completed) before
        # it, at run level 1 by the item's DataEmitted(parked=True) (schema 2.0).
        rt.status = "waiting"
        flow._active -= 1
        task.waiting_on = "its next generation"
        if cmd.run_level == 0 and rt.renotify:
            # Producers that told this node of new data while it was running: look again
            # now that the run is over (a notification is never lost).
            notifiers, rt.renotify = rt.renotify, ()
            for producer in notifiers:
                flow._put(node, producer, "consumer")
        flow._request_drain()


class WaitFlowEndCommand(Command):
    """The flow's root task waits for the run to end."""

    __slots__ = ("flow",)

    def __init__(self, flow: Flow) -> None:
        self.flow = flow

    @staticmethod
    def handler(loop: EventLoop, task: Task, cmd: WaitFlowEndCommand) -> None:
        flow = cmd.flow
        if flow._done:
            loop.make_ready(task, "done")
        elif flow._queue:
            loop.make_ready(task, "drain")
        else:
            flow._root_parked = True
            loop.park(task, None, "the flow's nodes")


@types.coroutine
def _yield(command: Command) -> Generator[Any, Any, Any]:
    return (yield command)


class FlowEventLoop(EventLoop):
    """The loop a :class:`Flow` runs on: knows its flow, counts node tasks, and names
    nodes in deadlock reports."""

    def __init__(
        self,
        flow: Flow,
        *,
        virtual_time: bool = False,
        deadlock_timeout: float | None = DEFAULT_DEADLOCK_TIMEOUT,
    ) -> None:
        super().__init__(virtual_time=virtual_time, deadlock_timeout=deadlock_timeout)
        self.flow = flow

    def on_task_finished(self, task: Task) -> None:
        flow = self.flow
        if task.node is not None:
            flow._node_tasks_alive -= 1
            if task.state is TaskState.FAILED and task.exception is not None:
                flow._node_task_died(task.node, task.exception)
        elif flow._awaiting_tasks and flow._other_tasks_alive() == 0:
            flow._awaiting_tasks = False
            flow._request_drain()

    def deadlock_error(self, stalled_for: float | None = None) -> DeadlockError:
        return self.flow._deadlock_error(self.blocked_tasks(), stalled_for)
