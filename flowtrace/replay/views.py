"""What replay hands out: immutable views of a run at one position, and the small
helpers every viewer uses to name nodes and print generations and values."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from flowtrace.codec import JsonValue, describe
from flowtrace.events import ErrorInfo, Event, Generation, InputRead
from flowtrace.runs import events_by_run

__all__ = [
    "NORMAL_OUTCOMES",
    "NodeView",
    "BarrierView",
    "StreamView",
    "ErrorView",
    "WaitReason",
    "WaitEdge",
    "Change",
    "StateDiff",
    "InputSource",
    "event_nodes",
    "split_runs",
    "format_generation",
    "format_values",
]

#: Run outcomes that end a run normally even when they carry the exception that ended
#: it (a generation limit ends a cyclic flow by raising).
NORMAL_OUTCOMES = frozenset({"completed", "limit", "exit"})


# --------------------------------------------------------------------------- helpers


def format_generation(g: Generation) -> str:
    """``(1, 2)`` → ``"1.2"``; ``None`` → ``"-"`` (compact, for tables)."""
    if g is None:
        return "-"
    if len(g) == 1:  # the common case, without a join (the log formats one per row)
        return str(g[0])
    return ".".join(map(str, g))


def format_values(values: Sequence[JsonValue] | None, limit: int = 40) -> str:
    """``(1,)`` → ``"1"``; several values joined by commas, each shortened to about
    ``limit`` characters; ``None`` → ``"-"``."""
    if values is None:
        return "-"
    return ", ".join(describe(v, limit) for v in values)


_NODE_FIELDS = ("node_id", "consumer", "producer", "head", "reader")


def _node_getter(cls: type[Event]) -> Callable[[Event], tuple[str, ...]]:
    names = getattr(cls, "__struct_fields__", ())
    slots = [f for f in _NODE_FIELDS if f in names]
    if not slots:
        return lambda e: ()
    if len(slots) == 1:
        name = slots[0]

        def one(e: Event) -> tuple[str, ...]:
            v = getattr(e, name)
            return (v,) if v is not None else ()

        return one

    def many(e: Event) -> tuple[str, ...]:
        out: list[str] = []
        for name in slots:
            v = getattr(e, name)
            if v is not None and v not in out:
                out.append(v)
        return tuple(out)

    return many


_GETTERS: dict[type[Event], Callable[[Event], tuple[str, ...]]] = {}


def node_getter(cls: type[Event]) -> Callable[[Event], tuple[str, ...]]:
    """The function that names the nodes of an event of class ``cls`` (cached)."""
    getter = _GETTERS.get(cls)
    if getter is None:
        getter = _GETTERS[cls] = _node_getter(cls)
    return getter


def event_nodes(event: Event) -> tuple[str, ...]:
    """The flow nodes an event is about, primary first (``node_id`` / ``consumer``
    before ``producer``). Loop events name no node (their task may; see
    :meth:`Replay.events_of_node`)."""
    return node_getter(type(event))(event)


def split_runs(events: Iterable[Event]) -> list[tuple[str, list[Event]]]:
    """Group a trace's events by ``run_id`` (:func:`flowtrace.runs.events_by_run`)."""
    return list(events_by_run(events).items())


# --------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class NodeView:
    """One node at one position: what a debugger's node table shows.

    ``generation`` is the newest data generation stored (as the engine's
    ``node.generation``: stream items ``(k, j)`` count); ``evaluating`` is the
    generation of an evaluation in flight; ``output`` the last run-level-0 values and
    ``item`` the last stream item; ``*_seq`` say which event set each of them.
    """

    node_id: str
    label: str
    kind: str
    status: str
    run_level: int | None
    stalled_port: int | None
    generation: Generation
    evaluating: Generation
    evaluations: int
    inputs: tuple[InputRead, ...] | None
    inputs_seq: int | None
    defaulted_ports: tuple[int, ...]
    output: tuple[JsonValue, ...] | None
    output_generation: Generation
    output_seq: int | None
    item: tuple[JsonValue, ...] | None
    item_generation: Generation
    item_seq: int | None
    error: ErrorInfo | None
    error_seq: int | None
    last_seq: int | None
    #: How its last evaluation ended (``NodeFinished.outcome``), ``None`` while one
    #: runs: a run stopped by a generation limit leaves the engine's status at
    #: ``executing``, and a viewer must not show that node as still running.
    finished: str | None = None


@dataclass(frozen=True, slots=True)
class BarrierView:
    """A producer's read barrier at one run level: readers of ``generation`` still to
    read it (``remaining``) and who already did.

    ``overwritten_unread`` is how many readers had not read the previous output when
    ``generation`` overwrote it (``DataEmitted.pending_readers``: the write barrier,
    which never blocks in this engine). ``writer_waiting`` is always false for schema
    2.0 traces (kept for the views' shape)."""

    node_id: str
    run_level: int
    generation: Generation
    remaining: int
    readers_done: tuple[str, ...]
    writer_waiting: bool
    overwritten_unread: int = 0


@dataclass(frozen=True, slots=True)
class StreamView:
    """A consumer's read position on one streaming connection."""

    consumer: str
    port: int
    producer: str
    last_generation: Generation
    items: int
    stalled: bool
    ended: bool
    cancelled: bool


@dataclass(frozen=True, slots=True)
class ErrorView:
    """An error seen up to a position: the event that carried it (``seq``), the node and
    generation it names, and ``where`` it was raised (node, task, loop or flow)."""

    seq: int
    node_id: str | None
    generation: Generation
    error: ErrorInfo
    where: str


WaitReason: TypeAlias = Literal["stall", "barrier", "needs", "deadlock", "cancel"]


@dataclass(frozen=True, slots=True)
class WaitEdge:
    """``waiter`` cannot go on until ``blocker`` does something (``reason``)."""

    waiter: str
    blocker: str
    reason: WaitReason
    detail: str


@dataclass(frozen=True, slots=True)
class Change:
    """One field of one node that differs between two positions, as display text."""

    node_id: str
    field: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class StateDiff:
    """What differs between two positions, node by node, plus the shared structures."""

    seq_a: int
    seq_b: int
    changes: tuple[Change, ...]
    queue_before: tuple[str, ...]
    queue_after: tuple[str, ...]

    def nodes(self) -> tuple[str, ...]:
        """Ids of the nodes with at least one change, in first-change order."""
        out: list[str] = []
        for c in self.changes:
            if c.node_id not in out:
                out.append(c.node_id)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class InputSource:
    """Where one value an event mentions came from: the producer's ``DataEmitted``."""

    label: str
    producer: str | None
    generation: Generation
    seq: int | None
