"""The nested records carried inside events: untagged, frozen structs
(:class:`ErrorInfo`, the graph as registered, an evaluation's input reads, cycle
breaks, why a node waits). A field's declared type says what they are, so their JSON
objects carry no ``kind``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from flowtrace.events.base import Generation, NodeKind, NodeStatus

if TYPE_CHECKING:
    from flowtrace.codec import JsonValue
else:
    # msgspec reads the annotations at run time and cannot follow the recursive alias;
    # to it a value is any JSON (arrays come back as lists, objects as dicts).
    JsonValue = Any

__all__ = [
    "Record",
    "ErrorInfo",
    "PortInfo",
    "NodeInfo",
    "GraphInfo",
    "InputRead",
    "CycleBreak",
    "WaitInfo",
]


class Record(msgspec.Struct, frozen=True, gc=False):
    """Base of the nested records: frozen, untagged, never part of a reference cycle
    (``gc=False``: the collector never scans them, which matters at a million)."""


class ErrorInfo(Record, frozen=True, gc=False):
    """An exception as data: qualified type name, message and formatted traceback."""

    type: str
    message: str
    traceback: str


class PortInfo(Record, frozen=True, gc=False):
    """One input port as wired at finalization."""

    index: int
    name: str
    min_run_level: int
    has_default: bool
    default: JsonValue
    producer: str | None
    producer_output: int | None


class NodeInfo(Record, frozen=True, gc=False):
    """A node as registered: stable id, what it is, and its inputs.

    ``kind`` is ``"mono"`` (a coroutine: one result per run) or ``"stream"`` (an async
    generator: items at run level 1 and a final result at run level 0).
    """

    node_id: str
    label: str
    kind: NodeKind
    stateful: bool
    constant: bool
    inputs: tuple[PortInfo, ...]
    outputs: int


class GraphInfo(Record, frozen=True, gc=False):
    """The whole graph, nodes in registration order; edges follow from the ports."""

    nodes: tuple[NodeInfo, ...]

    def edges(self) -> list[tuple[str, int, str, int]]:
        """``(producer, output, consumer, input)`` for every connected input port."""
        out: list[tuple[str, int, str, int]] = []
        for n in self.nodes:
            for p in n.inputs:
                if p.producer is not None:
                    out.append((p.producer, p.producer_output or 0, n.node_id, p.index))
        return out


class InputRead(Record, frozen=True, gc=False):
    """How one input port got its value for an evaluation (the data lineage).

    ``producer_generation`` is the generation of the producer's data that was read
    (``None`` when the port was defaulted or unconnected); ``stream`` is true when the
    port received a ``Stream`` rather than a value.
    """

    port: int
    producer: str | None
    producer_output: int | None
    producer_generation: Generation
    value: JsonValue
    defaulted: bool
    stream: bool


class CycleBreak(Record, frozen=True, gc=False):
    """A cycle (strongly connected component) broken by running ``node`` with defaults."""

    node_id: str
    members: tuple[str, ...]
    defaulted_ports: tuple[int, ...]


class WaitInfo(Record, frozen=True, gc=False):
    """Why a node is waiting: its status and the nodes it waits for."""

    node_id: str
    status: NodeStatus
    waits_for: tuple[str, ...]
    detail: str
