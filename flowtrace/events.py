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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias, Union

import msgspec

if TYPE_CHECKING:
    from flowtrace.codec import JsonValue
else:
    # msgspec reads the annotations at run time and cannot follow the recursive alias;
    # to it a value is any JSON (arrays come back as lists, objects as dicts).
    JsonValue = Any

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

#: (major, minor). Readers refuse an unknown major version; 1.x traces are upgraded
#: on reading (:mod:`flowtrace.upgrade`).
SCHEMA_VERSION: tuple[int, int] = (2, 0)

Generation: TypeAlias = tuple[int, ...] | None


class Record(msgspec.Struct, frozen=True, gc=False):
    """Base of the nested records: frozen, untagged, never part of a reference cycle
    (``gc=False``: the collector never scans them, which matters at a million)."""


class ErrorInfo(Record, frozen=True, gc=False):
    """An exception as data: qualified type name, message and formatted traceback."""

    type: str
    message: str
    traceback: str


class Event(msgspec.Struct, frozen=True, gc=False, tag_field="kind", tag=True):
    """Base of every event: the common header. Tagged by class name on ``kind``."""

    seq: int
    t_ns: int
    run_id: str

    #: The index of the class in :data:`EVENT_TYPES` (set below); not a field.
    kind: ClassVar[int] = -1


# --------------------------------------------------------------------------- event loop

LoopOutcome: TypeAlias = Literal["completed", "exit", "error", "deadlock", "interrupted", "limit"]
TaskOutcome: TypeAlias = Literal["returned", "failed", "cancelled"]


class LoopStarted(Event, frozen=True, gc=False):
    """A loop run began. ``wall_time_ns`` is ``time.time_ns()`` at the start."""

    root_task_id: int
    wall_time_ns: int
    virtual_time: bool
    asyncio_mode: bool


class LoopExited(Event, frozen=True, gc=False):
    """A loop run ended, however it ended. ``error`` is set for ``error`` outcomes."""

    outcome: LoopOutcome
    error: ErrorInfo | None
    tasks_left: int


class TaskSpawned(Event, frozen=True, gc=False):
    """A task was created. ``node_id`` is set for a flow node's own task."""

    task_id: int
    name: str
    parent_id: int | None
    node_id: str | None


class TaskFinished(Event, frozen=True, gc=False):
    """A task ended: returned a value, raised, or let ``TaskCancelled`` escape."""

    task_id: int
    outcome: TaskOutcome
    result: JsonValue
    error: ErrorInfo | None


class TaskCancelRequested(Event, frozen=True, gc=False):
    """``by_task_id`` asked for ``task_id`` to be cancelled."""

    task_id: int
    by_task_id: int | None
    first_request: bool


class TaskCreatedFromThread(Event, frozen=True, gc=False):
    """A task was handed to the loop from another thread (``create_task``)."""

    task_id: int
    thread_name: str


class SleepBegan(Event, frozen=True, gc=False):
    """A task started sleeping until ``deadline`` (loop clock, seconds). ``duration``
    and ``deadline`` are ``None`` for a sleep without end (``sleep(math.inf)``): JSON
    has no infinity, and ``None`` says it plainly."""

    task_id: int
    duration: float | None
    deadline: float | None


class SleepEnded(Event, frozen=True, gc=False):
    """A sleep ended; ``slept`` is the loop-clock time actually slept."""

    task_id: int
    slept: float
    cancelled: bool


IOOperation: TypeAlias = Literal["accept", "connect", "recv", "send", "handshake", "asyncio"]
IOOutcome: TypeAlias = Literal["ready", "error", "cancelled"]


class IOWaitBegan(Event, frozen=True, gc=False):
    """A task is waiting for I/O: a socket operation, or an asyncio awaitable."""

    task_id: int
    operation: IOOperation
    target: str


class IOWaitEnded(Event, frozen=True, gc=False):
    """The I/O wait ended (``outcome``: ``ready``, ``error`` or ``cancelled``)."""

    task_id: int
    operation: IOOperation
    target: str
    outcome: IOOutcome
    nbytes: int | None


Primitive: TypeAlias = Literal["event", "lock", "condition", "queue", "latch", "join"]
WaitOutcome: TypeAlias = Literal["woken", "cancelled", "closed", "error"]


class WaitBegan(Event, frozen=True, gc=False):
    """A task blocked on a synchronisation primitive (``primitive_id`` is per run)."""

    task_id: int
    primitive: Primitive
    primitive_id: int
    reason: str


class WaitEnded(Event, frozen=True, gc=False):
    """The blocked task was woken (``woken``), cancelled, or the queue closed."""

    task_id: int
    primitive: Primitive
    primitive_id: int
    outcome: WaitOutcome


class LockAcquired(Event, frozen=True, gc=False):
    """``task_id`` took lock ``lock_id``; ``waited`` when it had to wait for it."""

    task_id: int
    lock_id: int
    waited: bool


class LockReleased(Event, frozen=True, gc=False):
    """``handed_to`` is the waiter that now owns the lock (FIFO), if any."""

    task_id: int
    lock_id: int
    handed_to: int | None


class EventSet(Event, frozen=True, gc=False):
    """``task_id`` set event ``event_id``, waking the tasks in ``woken`` (in order)."""

    task_id: int
    event_id: int
    woken: tuple[int, ...]


class ConditionNotified(Event, frozen=True, gc=False):
    """``task_id`` notified condition ``condition_id``, waking ``woken`` (in order)."""

    task_id: int
    condition_id: int
    woken: tuple[int, ...]


class LatchCountedDown(Event, frozen=True, gc=False):
    """``task_id`` counted latch ``latch_id`` down; ``remaining`` counts are left."""

    task_id: int
    latch_id: int
    remaining: int


class AsyncQueuePut(Event, frozen=True, gc=False):
    """``task_id`` put ``item`` (encoded) on queue ``queue_id``, now ``size`` long."""

    task_id: int
    queue_id: int
    item: JsonValue
    size: int


class AsyncQueueGot(Event, frozen=True, gc=False):
    """``task_id`` took ``item`` (encoded) from queue ``queue_id``, now ``size`` long."""

    task_id: int
    queue_id: int
    item: JsonValue
    size: int


class AsyncQueueClosed(Event, frozen=True, gc=False):
    """``task_id`` closed queue ``queue_id``; the getters in ``woken`` were woken."""

    task_id: int
    queue_id: int
    woken: tuple[int, ...]


SocketOperation: TypeAlias = Literal["accept", "connect", "recv", "send", "handshake"]


class SocketOpBegan(Event, frozen=True, gc=False):
    """A task called a socket operation (every call, whether it then waits or not;
    ``IOWaitBegan`` follows when it has to wait). ``socket_id`` is per run; ``target``
    the socket's addresses (or the address being connected to)."""

    task_id: int
    socket_id: int
    operation: SocketOperation
    target: str


class SocketOpEnded(Event, frozen=True, gc=False):
    """The socket operation finished: ``nbytes`` received or sent (``None`` for the
    others), ``waited`` false when it completed at once, ``error`` when it failed."""

    task_id: int
    socket_id: int
    operation: SocketOperation
    target: str
    outcome: IOOutcome
    nbytes: int | None
    waited: bool
    error: ErrorInfo | None


class SocketClosed(Event, frozen=True, gc=False):
    """A socket was closed (``task_id`` ``None`` when closed outside a task)."""

    task_id: int | None
    socket_id: int
    target: str


class TLSHandshakeCompleted(Event, frozen=True, gc=False):
    """A TLS handshake succeeded (a failed one is ``SocketOpEnded(operation="handshake",
    outcome="error")``): protocol version, cipher suite and its secret bits."""

    task_id: int
    socket_id: int
    server_hostname: str | None
    version: str | None
    cipher: str | None
    bits: int | None


# --------------------------------------------------------------------------- flow graph

NodeKind: TypeAlias = Literal["mono", "stream"]


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


#: Node statuses: waiting (parked, ready for the next generation or item), queued
#: (resumed, its task ready to run), executing, stalled (waiting for stream data),
#: error.
NodeStatus: TypeAlias = Literal["waiting", "queued", "executing", "stalled", "error"]


class WaitInfo(Record, frozen=True, gc=False):
    """Why a node is waiting: its status and the nodes it waits for."""

    node_id: str
    status: NodeStatus
    waits_for: tuple[str, ...]
    detail: str


# --------------------------------------------------------------------------- flow events

FlowOutcome: TypeAlias = Literal["completed", "error", "limit", "deadlock", "interrupted", "exit"]
#: Why a node was put on the resolution queue: the run's ``start``, a producer's new
#: data (``consumer``), a stalled consumer pulling its producer (``stall``: reported on
#: :class:`StreamStalled`), or a ``cancel`` resuming a producer to stop it.
QueueReason: TypeAlias = Literal["start", "consumer", "stall", "cancel"]
#: Why a visit skipped a leaf (a visit that resumes it is its change to ``queued``).
VisitAction: TypeAlias = Literal["already_queued", "running", "error", "finished"]
NodeOutcome: TypeAlias = Literal["completed", "error", "cancelled", "limit", "abandoned"]
ErrorPhase: TypeAlias = Literal["gather", "call", "stream", "finalize"]


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


# --------------------------------------------------------------------------- offload

OffloadOutcome: TypeAlias = Literal[
    "returned", "raised", "cancelled", "abandoned", "lost", "refused"
]


class OffloadSubmitted(Event, frozen=True, gc=False):
    """A call was handed to an executor (``await offload(...)``, or a whole node body
    with ``@node(offload=True)``). Span key: ``call_id``, numbered per run from 0 in
    submit order. ``executor`` is the name the run gave it (``executors={name: ...}``),
    ``executor_kind`` its type (``ProcessPoolExecutor``, ``dask``…), ``function`` the
    qualified name of what runs there, ``body`` whether it is the node's whole body,
    ``payload_bytes`` the size of the pickled arguments."""

    call_id: int
    node_id: str | None
    generation: Generation
    task_id: int
    executor: str
    executor_kind: str
    function: str
    body: bool
    payload_bytes: int


class OffloadStarted(Event, frozen=True, gc=False):
    """Where and when a worker began call ``call_id``. The worker's report arrives
    with its result, so this event is emitted just before :class:`OffloadFinished`;
    ``started_t_ns`` is when the worker started, on the run's clock (the submit's
    ``t_ns`` plus ``queue_ns``, measured with wall clocks of both processes).
    ``worker`` is the Dask worker address, ``pid N`` for a process pool, ``thread
    NAME`` for a thread pool of the flow's own process."""

    call_id: int
    node_id: str | None
    worker: str
    host: str
    pid: int
    queue_ns: int
    started_t_ns: int


class OffloadFinished(Event, frozen=True, gc=False):
    """Call ``call_id`` ended: ``returned``, ``raised`` (the user's function raised,
    ``error`` says what, with the remote traceback), ``cancelled`` (it never ran),
    ``abandoned`` (it was running when its node stopped waiting; its result is
    dropped), ``lost`` (the executor failed: a worker died, the scheduler went away)
    or ``refused`` (the executor would not take it: shut down, unreachable).
    ``run_ns`` is the time the function ran on the worker, when known."""

    call_id: int
    node_id: str | None
    outcome: OffloadOutcome
    run_ns: int | None
    result_bytes: int | None
    error: ErrorInfo | None


# --------------------------------------------------------------------------- registry

LOOP_EVENT_TYPES: tuple[type[Event], ...] = (
    LoopStarted,
    LoopExited,
    TaskSpawned,
    TaskFinished,
    TaskCancelRequested,
    TaskCreatedFromThread,
    SleepBegan,
    SleepEnded,
    IOWaitBegan,
    IOWaitEnded,
    WaitBegan,
    WaitEnded,
    LockAcquired,
    LockReleased,
    EventSet,
    ConditionNotified,
    LatchCountedDown,
    AsyncQueuePut,
    AsyncQueueGot,
    AsyncQueueClosed,
    SocketOpBegan,
    SocketOpEnded,
    SocketClosed,
    TLSHandshakeCompleted,
)

FLOW_EVENT_TYPES: tuple[type[Event], ...] = (
    FlowStarted,
    FlowFinished,
    NodeStatusChanged,
    ResolutionQueuePut,
    SolutionFound,
    NodeVisited,
    NodeStarted,
    NodeFinished,
    InputsGathered,
    DataEmitted,
    GenerationLimitReached,
    NodeErrored,
    DeadlockDetected,
    BarrierCountdown,
    StreamItemConsumed,
    StreamStalled,
    StreamResumed,
    StreamEnded,
    StreamCancelRequested,
    StreamCancelled,
    OffloadSubmitted,
    OffloadStarted,
    OffloadFinished,
)

#: Every event class; an event's ``kind`` is its index here.
EVENT_TYPES: tuple[type[Event], ...] = LOOP_EVENT_TYPES + FLOW_EVENT_TYPES

EVENT_TYPES_BY_NAME: dict[str, type[Event]] = {t.__name__: t for t in EVENT_TYPES}

#: The tagged union of every event: what a trace reader decodes a line into.
AnyEvent: TypeAlias = Union[  # noqa: UP007 - msgspec and mypy both read this form
    LoopStarted,
    LoopExited,
    TaskSpawned,
    TaskFinished,
    TaskCancelRequested,
    TaskCreatedFromThread,
    SleepBegan,
    SleepEnded,
    IOWaitBegan,
    IOWaitEnded,
    WaitBegan,
    WaitEnded,
    LockAcquired,
    LockReleased,
    EventSet,
    ConditionNotified,
    LatchCountedDown,
    AsyncQueuePut,
    AsyncQueueGot,
    AsyncQueueClosed,
    SocketOpBegan,
    SocketOpEnded,
    SocketClosed,
    TLSHandshakeCompleted,
    FlowStarted,
    FlowFinished,
    NodeStatusChanged,
    ResolutionQueuePut,
    SolutionFound,
    NodeVisited,
    NodeStarted,
    NodeFinished,
    InputsGathered,
    DataEmitted,
    GenerationLimitReached,
    NodeErrored,
    DeadlockDetected,
    BarrierCountdown,
    StreamItemConsumed,
    StreamStalled,
    StreamResumed,
    StreamEnded,
    StreamCancelRequested,
    StreamCancelled,
    OffloadSubmitted,
    OffloadStarted,
    OffloadFinished,
]

for _index, _event_type in enumerate(EVENT_TYPES):
    _event_type.kind = _index
del _index, _event_type
