"""Deadlock reports of a flow: which node waits on what (stalled stream readers, nodes
blocked on a primitive, tasks they spawned), as a ``DeadlockDetected`` event and the
:class:`~flowtrace.engine.loop.DeadlockError` the run ends with.

The functions here are methods of :class:`~flowtrace.engine.flow.Flow` (``self`` is the
flow): ``flow.py`` binds each in the class body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowtrace.engine.loop import DeadlockError
from flowtrace.engine.tasks import Task
from flowtrace.events import DeadlockDetected, WaitInfo

if TYPE_CHECKING:
    from flowtrace.engine.flow import Flow


def _deadlock_error(
    self: Flow, blocked: list[Task], stalled_for: float | None = None, *, idle: bool = True
) -> DeadlockError:
    infos: list[WaitInfo] = []
    waiting: list[tuple[str, str]] = []
    for n in self._nodes:
        rt = n._rt
        if rt is None:
            continue
        if rt.status == "stalled":
            port = n._input_ports[rt.stalled_port]
            src = port.connected_output
            producer = src.node if src is not None else None
            pstatus = producer._rt.status if producer is not None else "?"
            detail = (
                f"stalled reading input {rt.stalled_port} (`{port.name}`) from "
                f"{producer.node_id if producer is not None else '?'} ({pstatus}"
                + (", which nothing will resume)" if pstatus != "executing" else ")")
            )
            infos.append(
                WaitInfo(
                    n.node_id,
                    "stalled",
                    (producer.node_id,) if producer is not None else (),
                    detail,
                )
            )
            waiting.append((n.node_id, detail))
        elif rt.status in ("executing", "queued") and rt.task is not None:
            what = rt.task.waiting_on or "something"
            detail = f"running, blocked on {what}"
            infos.append(WaitInfo(n.node_id, rt.status, (), detail))
            waiting.append((n.node_id, detail))
    parts = [f"node {name!r} {what}" for name, what in waiting]
    for task in blocked:
        if task.node is None and task is not self._root_task:
            spawner = self._spawning_node(task)
            by = f" (spawned by node {spawner!r})" if spawner is not None else ""
            detail = f"blocked on {task.waiting_on}"
            waiting.append((task.name, f"task{by} {detail}"))
            parts.append(f"task {task.name!r}{by} {detail}")
    bus = self._bus
    if bus.listening[DeadlockDetected.kind]:
        bus.emit(DeadlockDetected, tuple(infos))
    if stalled_for is None:
        who = "nodes" if len(parts) == len(infos) else "nodes or their tasks"
        headline = f"deadlock: the flow can make no progress while {who} still wait" + (
            self.event_loop.grace_note() if idle else ""
        )
    else:
        headline = self.event_loop.deadlock_headline(stalled_for) + "; still waiting"
    return DeadlockError(
        f"{headline} ({'; '.join(parts)}). "
        "A stream consumer waits for an item its producer will never emit, or a node "
        "waits on an event, lock or queue nobody will release.",
        waiting,
    )


def _spawning_node(self: Flow, task: Task) -> str | None:
    """The node whose task (or a task it spawned) spawned ``task``, if any."""
    tasks = self.event_loop._tasks
    parent = tasks.get(task.parent_id) if task.parent_id is not None else None
    while parent is not None:
        if parent.node is not None:
            node_id: str = parent.node.node_id
            return node_id
        parent = tasks.get(parent.parent_id) if parent.parent_id is not None else None
    return None
