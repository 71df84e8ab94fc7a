"""The event vocabulary, schema 2.0: everything the event loop and the flow engine do,
as values.

Every event is a frozen :class:`msgspec.Struct` whose fields are plain data (ints,
strings, tuples, encoded values — see :mod:`flowtrace.codec`), never live objects, so
an event can be stored, sent across a process boundary, written to a file and read
back equal. msgspec builds, compares, encodes and decodes them in C, which is what
lets recording stay on: building an event costs about as much as building a tuple.
The structs are tagged: as JSON an event is an object whose ``kind`` member is its
class name (``{"kind": "NodeStarted", "seq": 4, …}``), and one
:class:`msgspec.json.Decoder` of :data:`AnyEvent` turns a line back into the right
class. Nested records (:class:`GraphInfo`, :class:`InputRead`, …) carry no tag: the
field's declared type says what they are.

Common header, first three fields of every event:

``seq``
    0, 1, 2 … gapless within one run: the logical clock.
``t_ns``
    ``time.perf_counter_ns()`` when the event was built (monotonic; the run's
    :class:`LoopStarted` / :class:`FlowStarted` also carry the wall-clock start).
``run_id``
    the id of the run (one ``run_until_complete`` call), a stable string.

Identities are stable values: tasks are small ints numbered per run in spawn order;
nodes are strings unique in their flow (the FlowHDL attribute name when there is one,
else ``"Add#0"``); ports are ``(node_id, port_index)``; generations are tuples of ints
(``None`` before a node's first output); run level 0 is a whole result, 1 a stream item.

Paired events (``…Began``/``…Ended``, ``NodeStarted``/``NodeFinished``,
``TaskSpawned``/``TaskFinished``) carry the same *span key* so any consumer can match
them without guessing: the task id, or ``(node_id, generation)``.

Schema 2.0 says each fact once. Where 1.x emitted an event whose content followed from
its neighbour, 2.0 folds it into that neighbour (docs/trace-format.md lists each fold
and why it loses nothing; :mod:`flowtrace.implied` derives the folded facts, so every
consumer reads them the same way):

* the resolution queue's *get* is :class:`SolutionFound` (it always followed the get);
* a visit that resumed a node is the node's status change to ``queued``
  (:class:`NodeVisited` remains for the visits that skip a node);
* :class:`NodeStarted` means the node is now ``executing``; :class:`NodeFinished` with
  outcome ``completed`` means it is ``waiting`` at run level 0;
* a stream item's :class:`DataEmitted` with ``parked`` means its producer is ``waiting``
  at run level 1; :class:`StreamStalled` means the consumer is ``stalled`` (and says
  whether its producer was queued for it); :class:`StreamResumed` means it is
  ``executing`` again;
* the write barrier's wait (never blocking in this engine) is ``DataEmitted.
  pending_readers``; a stream read's barrier countdown is
  ``StreamItemConsumed.remaining``;
* node registration is the graph in :class:`FlowStarted`.

Each class gets an integer ``kind`` class attribute (its index in :data:`EVENT_TYPES`),
which the instrument bus uses to index subscribers (the JSON ``kind`` is the class
name; the two never meet: the integer is not a field). Adding an event kind or a field
with a default bumps the minor schema version; renaming or removing one bumps the
major version.

The vocabulary is a package, one module a job (this module re-exports every name, so
``from flowtrace.events import X`` is the one way to import it):

* :mod:`flowtrace.events.base`: the header (:class:`Event`), :data:`SCHEMA_VERSION`,
  :data:`Generation` and the closed sets (``NodeStatus``, ``LoopOutcome``…);
* :mod:`flowtrace.events.records`: the nested records (:class:`ErrorInfo`,
  :class:`GraphInfo`, :class:`InputRead`…);
* :mod:`flowtrace.events.loop`: the event loop's events;
* :mod:`flowtrace.events.flow`: the flow engine's events;
* :mod:`flowtrace.events.offload`: offloaded calls;
* :mod:`flowtrace.events.registry`: :data:`EVENT_TYPES` (the ``kind`` order),
  :data:`AnyEvent` and the kinds by name.
"""

from __future__ import annotations

from flowtrace.events.base import (
    SCHEMA_VERSION,
    ErrorPhase,
    Event,
    FlowOutcome,
    Generation,
    IOOperation,
    IOOutcome,
    LoopOutcome,
    NodeKind,
    NodeOutcome,
    NodeStatus,
    OffloadOutcome,
    Primitive,
    QueueReason,
    SocketOperation,
    TaskOutcome,
    VisitAction,
    WaitOutcome,
)
from flowtrace.events.flow import (
    BarrierCountdown,
    DataEmitted,
    DeadlockDetected,
    FlowFinished,
    FlowStarted,
    GenerationLimitReached,
    InputsGathered,
    NodeErrored,
    NodeFinished,
    NodeStarted,
    NodeStatusChanged,
    NodeVisited,
    ResolutionQueuePut,
    SolutionFound,
    StreamCancelled,
    StreamCancelRequested,
    StreamEnded,
    StreamItemConsumed,
    StreamResumed,
    StreamStalled,
)
from flowtrace.events.loop import (
    AsyncQueueClosed,
    AsyncQueueGot,
    AsyncQueuePut,
    ConditionNotified,
    EventSet,
    IOWaitBegan,
    IOWaitEnded,
    LatchCountedDown,
    LockAcquired,
    LockReleased,
    LoopExited,
    LoopStarted,
    SleepBegan,
    SleepEnded,
    SocketClosed,
    SocketOpBegan,
    SocketOpEnded,
    TaskCancelRequested,
    TaskCreatedFromThread,
    TaskFinished,
    TaskSpawned,
    TLSHandshakeCompleted,
    WaitBegan,
    WaitEnded,
)
from flowtrace.events.offload import OffloadFinished, OffloadStarted, OffloadSubmitted
from flowtrace.events.records import (
    CycleBreak,
    ErrorInfo,
    GraphInfo,
    InputRead,
    NodeInfo,
    PortInfo,
    WaitInfo,
)
from flowtrace.events.records import (
    Record as Record,  # the base of the records; not in __all__, as before
)
from flowtrace.events.registry import (
    EVENT_TYPES,
    EVENT_TYPES_BY_NAME,
    FLOW_EVENT_TYPES,
    LOOP_EVENT_TYPES,
    AnyEvent,
)

__all__ = [
    "SCHEMA_VERSION",
    "Generation",
    "ErrorInfo",
    "Event",
    "AnyEvent",
    "EVENT_TYPES",
    "EVENT_TYPES_BY_NAME",
    "LOOP_EVENT_TYPES",
    "FLOW_EVENT_TYPES",
    # closed sets
    "LoopOutcome",
    "TaskOutcome",
    "IOOperation",
    "IOOutcome",
    "Primitive",
    "WaitOutcome",
    "SocketOperation",
    "FlowOutcome",
    "NodeStatus",
    "NodeKind",
    "QueueReason",
    "VisitAction",
    "NodeOutcome",
    "ErrorPhase",
    "OffloadOutcome",
    # loop
    "LoopStarted",
    "LoopExited",
    "TaskSpawned",
    "TaskFinished",
    "TaskCancelRequested",
    "TaskCreatedFromThread",
    "SleepBegan",
    "SleepEnded",
    "IOWaitBegan",
    "IOWaitEnded",
    "WaitBegan",
    "WaitEnded",
    "LockAcquired",
    "LockReleased",
    "EventSet",
    "ConditionNotified",
    "LatchCountedDown",
    "AsyncQueuePut",
    "AsyncQueueGot",
    "AsyncQueueClosed",
    "SocketOpBegan",
    "SocketOpEnded",
    "SocketClosed",
    "TLSHandshakeCompleted",
    # flow
    "PortInfo",
    "NodeInfo",
    "GraphInfo",
    "InputRead",
    "CycleBreak",
    "WaitInfo",
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
    # offload
    "OffloadSubmitted",
    "OffloadStarted",
    "OffloadFinished",
]
