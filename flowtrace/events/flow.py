"""The flow engine's events: a run's life cycle, the scheduler's resolution queue and
visits, node evaluations and their data, and the behaviour of streams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowtrace.events.base import (
    ErrorPhase,
    Event,
    FlowOutcome,
    Generation,
    NodeOutcome,
    NodeStatus,
    QueueReason,
    VisitAction,
)
from flowtrace.events.records import CycleBreak, ErrorInfo, GraphInfo, InputRead, WaitInfo

if TYPE_CHECKING:
    from flowtrace.codec import JsonValue
else:
    # msgspec reads the annotations at run time and cannot follow the recursive alias;
    # to it a value is any JSON (arrays come back as lists, objects as dicts).
    JsonValue = Any

__all__ = [
    "FlowStarted",
    "FlowFinished",
    "NodeStatusChanged",
    "ResolutionQueuePut",
    "SolutionFound",
    "NodeVisited",
    "NodeStarted",
    "NodeFinished",
    "InputsGathered",
    "DataEmitted",
    "GenerationLimitReached",
    "NodeErrored",
    "DeadlockDetected",
    "BarrierCountdown",
    "StreamItemConsumed",
    "StreamStalled",
    "StreamResumed",
    "StreamEnded",
    "StreamCancelRequested",
    "StreamCancelled",
]


class FlowStarted(Event, frozen=True, gc=False):
    """A run of a flow began; ``graph`` is every node as registered (schema 1.x also
    sent one ``NodeRegistered`` per node, repeating it)."""

    flow_id: str
    wall_time_ns: int
    graph: GraphInfo


class FlowFinished(Event, frozen=True, gc=False):
    """Every way a run ends emits this: completed, error, limit, deadlock, interrupted."""

    flow_id: str
    outcome: FlowOutcome
    error: ErrorInfo | None
    node_id: str | None
    generation: Generation


class NodeStatusChanged(Event, frozen=True, gc=False):
    """A status change that no other event implies (see :mod:`flowtrace.implied`).

    ``run_level`` for waiting statuses; ``port`` for ``stalled`` (the stalling port).
    A change to ``queued`` from ``waiting`` or ``stalled`` is a visit that resumed the
    node (or, with an upstream error, a stalled consumer woken to receive it)."""

    node_id: str
    old: NodeStatus
    new: NodeStatus
    run_level: int | None
    port: int | None


class ResolutionQueuePut(Event, frozen=True, gc=False):
    """``node_id`` was demanded. ``by`` is the node whose output caused it (``None`` for
    the scheduler); ``added`` is false when the node was already queued (deduplicated).
    A stalled consumer's demand on its producer is part of :class:`StreamStalled`.
    """

    node_id: str
    by: str | None
    reason: QueueReason
    added: bool


class SolutionFound(Event, frozen=True, gc=False):
    """The scheduler took ``head`` off the resolution queue and solved it: the nodes
    that must run (``leaves``, in order), the strongly connected components met on
    stale edges (each in discovery order), and the cycle breaks chosen. ``leaves`` is
    empty when ``head`` had already consumed what it was told of."""

    head: str
    leaves: tuple[str, ...]
    sccs: tuple[tuple[str, ...], ...]
    cycle_breaks: tuple[CycleBreak, ...]


class NodeVisited(Event, frozen=True, gc=False):
    """The scheduler considered a leaf and skipped it, and why. (A leaf it resumed
    shows as its status change to ``queued``.)"""

    node_id: str
    action: VisitAction


class NodeStarted(Event, frozen=True, gc=False):
    """An evaluation began: the node is now ``executing``. Span key: ``(node_id,
    generation)`` where ``generation`` is the run-level-0 generation this evaluation
    produces."""

    node_id: str
    generation: Generation
    run_level: int


class NodeFinished(Event, frozen=True, gc=False):
    """An evaluation ended. With outcome ``completed`` the node is now ``waiting`` at
    run level 0 (parked for its next generation)."""

    node_id: str
    generation: Generation
    run_level: int
    outcome: NodeOutcome


class InputsGathered(Event, frozen=True, gc=False):
    """The evaluation ``(node_id, generation)`` read its inputs: how each port got
    its value (``inputs``, the data lineage) and which ports took their defaults."""

    node_id: str
    generation: Generation
    inputs: tuple[InputRead, ...]
    defaulted_ports: tuple[int, ...]


class DataEmitted(Event, frozen=True, gc=False):
    """A node stored output: a whole result (run level 0) or a stream item (1).
    ``values`` has one encoded value per output port.

    ``pending_readers``: how many readers had not yet read the node's previous output
    at this run level when it was overwritten (the write barrier; it never blocks
    here). ``parked``: a stream item after which the producer is ``waiting`` at run
    level 1 for its readers (false for a whole result, whose end is
    :class:`NodeFinished`, and for an item followed by a cancellation or a limit)."""

    node_id: str
    generation: Generation
    run_level: int
    values: tuple[JsonValue, ...]
    pending_readers: int
    parked: bool


class GenerationLimitReached(Event, frozen=True, gc=False):
    """``node_id`` produced ``generation``, which reaches the run's ``limit`` for it
    (``stop_at_node_generation``): the run ends with outcome ``limit``."""

    node_id: str
    generation: Generation
    limit: tuple[int, ...] | None


class NodeErrored(Event, frozen=True, gc=False):
    """The evaluation ``(node_id, generation)`` raised ``error`` while gathering its
    inputs, in its call, while streaming, or while its result was finalised."""

    node_id: str
    generation: Generation
    error: ErrorInfo
    phase: ErrorPhase


class DeadlockDetected(Event, frozen=True, gc=False):
    """Nothing can run, no timer or I/O is pending, yet these nodes still wait."""

    waiting: tuple[WaitInfo, ...]


class BarrierCountdown(Event, frozen=True, gc=False):
    """``reader`` consumed ``node_id``'s whole result (run level 0); ``remaining``
    readers left. (A stream item's countdown is ``StreamItemConsumed.remaining``.)"""

    node_id: str
    reader: str
    generation: Generation
    run_level: int
    remaining: int


class StreamItemConsumed(Event, frozen=True, gc=False):
    """``consumer`` read an item of ``producer``'s stream. ``remaining`` is the
    producer's read barrier after this read (readers of the item still to read it),
    ``None`` when the read was of a whole result offered as a one-item stream."""

    consumer: str
    port: int
    producer: str
    producer_output: int
    generation: Generation
    value: JsonValue
    remaining: int | None


class StreamStalled(Event, frozen=True, gc=False):
    """``consumer`` wants the item after ``last_generation``, it does not exist yet,
    and the consumer is now ``stalled`` on ``port``. ``producer_queued`` tells whether
    the producer was put on the resolution queue for it (``True`` added, ``False``
    already there, ``None`` not put: it was running)."""

    consumer: str
    port: int
    producer: str
    last_generation: Generation
    producer_queued: bool | None


class StreamResumed(Event, frozen=True, gc=False):
    """The stalled ``consumer`` has its item and is ``executing`` again."""

    consumer: str
    port: int
    producer: str


class StreamEnded(Event, frozen=True, gc=False):
    """``consumer`` reached the end of ``producer``'s generation ``generation``."""

    consumer: str
    port: int
    producer: str
    generation: Generation
    cancelled: bool


class StreamCancelRequested(Event, frozen=True, gc=False):
    """``consumer`` (or, when ``propagated``, the pass-through node ``consumer``
    after its own cancellation) asked ``producer`` to stop its current generation."""

    consumer: str
    port: int
    producer: str
    generation: Generation
    propagated: bool


class StreamCancelled(Event, frozen=True, gc=False):
    """``StreamCancelled`` was thrown into ``producer``; ``handled`` tells whether the
    generator went on (caught it) or ended."""

    producer: str
    generation: Generation
    requested_by: tuple[str, ...]
    handled: bool
