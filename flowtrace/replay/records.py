"""The mutable records inside a :class:`~flowtrace.replay.state.State`: one per node,
barrier and task, copied for keyframes (the views handed out are immutable)."""

from __future__ import annotations

from dataclasses import dataclass

from flowtrace.codec import JsonValue
from flowtrace.events import ErrorInfo, Generation, InputRead

from .views import NodeView

__all__ = ["NodeRecord", "BarrierRecord", "TaskRecord"]


class NodeRecord:
    """Mutable per-node record inside :class:`State` (copied for keyframes)."""

    __slots__ = (
        "defaulted_ports",
        "error",
        "error_seq",
        "evaluating",
        "evaluations",
        "finished",
        "generation",
        "inputs",
        "inputs_seq",
        "item",
        "item_generation",
        "item_seq",
        "kind",
        "label",
        "last_seq",
        "node_id",
        "output",
        "output_generation",
        "output_seq",
        "run_level",
        "stalled_port",
        "status",
    )

    def __init__(self, node_id: str, label: str = "", kind: str = "mono") -> None:
        self.node_id = node_id
        self.label = label or node_id
        self.kind = kind
        self.status = "waiting"
        self.run_level: int | None = -1
        self.stalled_port: int | None = None
        self.generation: Generation = None
        self.evaluating: Generation = None
        self.evaluations = 0
        self.inputs: tuple[InputRead, ...] | None = None
        self.inputs_seq: int | None = None
        self.defaulted_ports: tuple[int, ...] = ()
        self.output: tuple[JsonValue, ...] | None = None
        self.output_generation: Generation = None
        self.output_seq: int | None = None
        self.item: tuple[JsonValue, ...] | None = None
        self.item_generation: Generation = None
        self.item_seq: int | None = None
        self.error: ErrorInfo | None = None
        self.error_seq: int | None = None
        self.last_seq: int | None = None
        self.finished: str | None = None

    def copy(self) -> NodeRecord:
        new = NodeRecord.__new__(NodeRecord)
        for name in NodeRecord.__slots__:
            setattr(new, name, getattr(self, name))
        return new

    def view(self) -> NodeView:
        return NodeView(*(getattr(self, name) for name in _VIEW_FIELDS))


_VIEW_FIELDS: tuple[str, ...] = tuple(NodeView.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class BarrierRecord:
    generation: Generation
    remaining: int
    readers_done: tuple[str, ...]
    overwritten_unread: int


@dataclass(frozen=True, slots=True)
class TaskRecord:
    name: str
    node_id: str | None
    state: str
    detail: str
