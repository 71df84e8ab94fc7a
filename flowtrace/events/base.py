"""The common header of every event (:class:`Event`), the schema version, and the
closed sets (the ``Literal`` types) that event fields take their values from.

The integer ``Event.kind`` of each class is set by :mod:`flowtrace.events.registry`.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeAlias

import msgspec

__all__ = [
    "SCHEMA_VERSION",
    "Generation",
    "Event",
    "LoopOutcome",
    "TaskOutcome",
    "IOOperation",
    "IOOutcome",
    "Primitive",
    "WaitOutcome",
    "SocketOperation",
    "NodeKind",
    "NodeStatus",
    "FlowOutcome",
    "QueueReason",
    "VisitAction",
    "NodeOutcome",
    "ErrorPhase",
    "OffloadOutcome",
]


#: (major, minor). Readers refuse an unknown major version; 1.x traces are upgraded
#: on reading (:mod:`flowtrace.upgrade`).
SCHEMA_VERSION: tuple[int, int] = (2, 0)

Generation: TypeAlias = tuple[int, ...] | None


class Event(msgspec.Struct, frozen=True, gc=False, tag_field="kind", tag=True):
    """Base of every event: the common header. Tagged by class name on ``kind``."""

    seq: int
    t_ns: int
    run_id: str

    #: The index of the class in :data:`EVENT_TYPES` (set by the registry); not a field.
    kind: ClassVar[int] = -1


# ----------------------------------------------------------- closed sets: the event loop

LoopOutcome: TypeAlias = Literal["completed", "exit", "error", "deadlock", "interrupted", "limit"]
TaskOutcome: TypeAlias = Literal["returned", "failed", "cancelled"]
IOOperation: TypeAlias = Literal["accept", "connect", "recv", "send", "handshake", "asyncio"]
IOOutcome: TypeAlias = Literal["ready", "error", "cancelled"]
Primitive: TypeAlias = Literal["event", "lock", "condition", "queue", "latch", "join"]
WaitOutcome: TypeAlias = Literal["woken", "cancelled", "closed", "error"]
SocketOperation: TypeAlias = Literal["accept", "connect", "recv", "send", "handshake"]

# -------------------------------------------- closed sets: the flow graph and its events

NodeKind: TypeAlias = Literal["mono", "stream"]
#: Node statuses: waiting (parked, ready for the next generation or item), queued
#: (resumed, its task ready to run), executing, stalled (waiting for stream data),
#: error.
NodeStatus: TypeAlias = Literal["waiting", "queued", "executing", "stalled", "error"]
FlowOutcome: TypeAlias = Literal["completed", "error", "limit", "deadlock", "interrupted", "exit"]
#: Why a node was put on the resolution queue: the run's ``start``, a producer's new
#: data (``consumer``), a stalled consumer pulling its producer (``stall``: reported on
#: :class:`StreamStalled`), or a ``cancel`` resuming a producer to stop it.
QueueReason: TypeAlias = Literal["start", "consumer", "stall", "cancel"]
#: Why a visit skipped a leaf (a visit that resumes it is its change to ``queued``).
VisitAction: TypeAlias = Literal["already_queued", "running", "error", "finished"]
NodeOutcome: TypeAlias = Literal["completed", "error", "cancelled", "limit", "abandoned"]
ErrorPhase: TypeAlias = Literal["gather", "call", "stream", "finalize"]

# ---------------------------------------------------------- closed sets: offloaded calls

OffloadOutcome: TypeAlias = Literal[
    "returned", "raised", "cancelled", "abandoned", "lost", "refused"
]
