"""The event vocabulary: everything the event loop and the flow engine do, as values.

Every event is a frozen, slotted dataclass whose fields are plain data (ints, strings,
tuples, encoded values — see :mod:`flowtrace.codec`), never live objects, so an event
can be stored, sent across a process boundary, written to a file and read back equal.

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

Each class gets an integer ``kind`` (its index in :data:`EVENT_TYPES`), which the
instrument bus uses to index subscribers. Adding an event kind or a field bumps the
minor schema version; renaming or removing one bumps the major version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, Literal, TypeAlias

from flowtrace.codec import JsonValue

__all__ = [
    "SCHEMA_VERSION",
    "Generation",
    "ErrorInfo",
    "Event",
    "EVENT_TYPES",
    "EVENT_TYPES_BY_NAME",
    "LOOP_EVENT_TYPES",
    "FLOW_EVENT_TYPES",
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
    "NodeRegistered",
    "NodeStatusChanged",
    "ResolutionQueuePut",
    "ResolutionQueueGet",
    "SolutionFound",
    "NodeVisited",
    "NodeStarted",
    "NodeFinished",
    "InputsGathered",
    "DataEmitted",
    "GenerationLimitReached",
    "NodeErrored",
    "DeadlockDetected",
    "BarrierWaitBegan",
    "BarrierWaitEnded",
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

#: (major, minor). Readers refuse an unknown major version.
SCHEMA_VERSION: tuple[int, int] = (1, 2)

Generation: TypeAlias = tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An exception as data: qualified type name, message and formatted traceback."""

    type: str
    message: str
    traceback: str


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event: the common header."""

    seq: int
    t_ns: int
    run_id: str

    kind: ClassVar[int] = -1


# --------------------------------------------------------------------------- event loop

LoopOutcome: TypeAlias = Literal["completed", "exit", "error", "deadlock", "interrupted", "limit"]
TaskOutcome: TypeAlias = Literal["returned", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class LoopStarted(Event):
    """A loop run began. ``wall_time_ns`` is ``time.time_ns()`` at the start."""

    root_task_id: int
    wall_time_ns: int
    virtual_time: bool
    asyncio_mode: bool


@dataclass(frozen=True, slots=True)
class LoopExited(Event):
    """A loop run ended, however it ended. ``error`` is set for ``error`` outcomes."""

    outcome: LoopOutcome
    error: ErrorInfo | None
    tasks_left: int


@dataclass(frozen=True, slots=True)
class TaskSpawned(Event):
    """A task was created. ``node_id`` is set for a flow node's own task."""

    task_id: int
    name: str
    parent_id: int | None
    node_id: str | None


@dataclass(frozen=True, slots=True)
class TaskFinished(Event):
    """A task ended: returned a value, raised, or let ``TaskCancelled`` escape."""

    task_id: int
    outcome: TaskOutcome
    result: JsonValue
    error: ErrorInfo | None


@dataclass(frozen=True, slots=True)
class TaskCancelRequested(Event):
    """``by_task_id`` asked for ``task_id`` to be cancelled."""

    task_id: int
    by_task_id: int | None
    first_request: bool


@dataclass(frozen=True, slots=True)
class TaskCreatedFromThread(Event):
    """A task was handed to the loop from another thread (``create_task``)."""

    task_id: int
    thread_name: str


@dataclass(frozen=True, slots=True)
class SleepBegan(Event):
    """A task started sleeping until ``deadline`` (loop clock, seconds)."""

    task_id: int
    duration: float
    deadline: float


@dataclass(frozen=True, slots=True)
class SleepEnded(Event):
    """A sleep ended; ``slept`` is the loop-clock time actually slept."""

    task_id: int
    slept: float
    cancelled: bool


IOOperation: TypeAlias = Literal["accept", "connect", "recv", "send", "handshake", "asyncio"]


@dataclass(frozen=True, slots=True)
class IOWaitBegan(Event):
    """A task is waiting for I/O: a socket operation, or an asyncio awaitable."""

    task_id: int
    operation: IOOperation
    target: str


@dataclass(frozen=True, slots=True)
class IOWaitEnded(Event):
    """The I/O wait ended (``outcome``: ``ready``, ``error`` or ``cancelled``)."""

    task_id: int
    operation: IOOperation
    target: str
    outcome: Literal["ready", "error", "cancelled"]
    nbytes: int | None


Primitive: TypeAlias = Literal["event", "lock", "condition", "queue", "latch", "join"]


@dataclass(frozen=True, slots=True)
class WaitBegan(Event):
    """A task blocked on a synchronisation primitive (``primitive_id`` is per run)."""

    task_id: int
    primitive: Primitive
    primitive_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class WaitEnded(Event):
    """The blocked task was woken (``woken``), cancelled, or the queue closed."""

    task_id: int
    primitive: Primitive
    primitive_id: int
    outcome: Literal["woken", "cancelled", "closed", "error"]


@dataclass(frozen=True, slots=True)
class LockAcquired(Event):
    task_id: int
    lock_id: int
    waited: bool


@dataclass(frozen=True, slots=True)
class LockReleased(Event):
    """``handed_to`` is the waiter that now owns the lock (FIFO), if any."""

    task_id: int
    lock_id: int
    handed_to: int | None


@dataclass(frozen=True, slots=True)
class EventSet(Event):
    task_id: int
    event_id: int
    woken: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ConditionNotified(Event):
    task_id: int
    condition_id: int
    woken: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LatchCountedDown(Event):
    task_id: int
    latch_id: int
    remaining: int


@dataclass(frozen=True, slots=True)
class AsyncQueuePut(Event):
    task_id: int
    queue_id: int
    item: JsonValue
    size: int


@dataclass(frozen=True, slots=True)
class AsyncQueueGot(Event):
    task_id: int
    queue_id: int
    item: JsonValue
    size: int


@dataclass(frozen=True, slots=True)
class AsyncQueueClosed(Event):
    task_id: int
    queue_id: int
    woken: tuple[int, ...]


SocketOperation: TypeAlias = Literal["accept", "connect", "recv", "send", "handshake"]


@dataclass(frozen=True, slots=True)
class SocketOpBegan(Event):
    """A task called a socket operation (every call, whether it then waits or not;
    ``IOWaitBegan`` follows when it has to wait). ``socket_id`` is per run; ``target``
    the socket's addresses (or the address being connected to)."""

    task_id: int
    socket_id: int
    operation: SocketOperation
    target: str


@dataclass(frozen=True, slots=True)
class SocketOpEnded(Event):
    """The socket operation finished: ``nbytes`` received or sent (``None`` for the
    others), ``waited`` false when it completed at once, ``error`` when it failed."""

    task_id: int
    socket_id: int
    operation: SocketOperation
    target: str
    outcome: Literal["ready", "error", "cancelled"]
    nbytes: int | None
    waited: bool
    error: ErrorInfo | None


@dataclass(frozen=True, slots=True)
class SocketClosed(Event):
    """A socket was closed (``task_id`` ``None`` when closed outside a task)."""

    task_id: int | None
    socket_id: int
    target: str


@dataclass(frozen=True, slots=True)
class TLSHandshakeCompleted(Event):
    """A TLS handshake succeeded (a failed one is ``SocketOpEnded(operation="handshake",
    outcome="error")``): protocol version, cipher suite and its secret bits."""

    task_id: int
    socket_id: int
    server_hostname: str | None
    version: str | None
    cipher: str | None
    bits: int | None


# --------------------------------------------------------------------------- flow graph


@dataclass(frozen=True, slots=True)
class PortInfo:
    """One input port as wired at finalization."""

    index: int
    name: str
    min_run_level: int
    has_default: bool
    default: JsonValue
    producer: str | None
    producer_output: int | None


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node as registered: stable id, what it is, and its inputs.

    ``kind`` is ``"mono"`` (a coroutine: one result per run) or ``"stream"`` (an async
    generator: items at run level 1 and a final result at run level 0).
    """

    node_id: str
    label: str
    kind: Literal["mono", "stream"]
    stateful: bool
    constant: bool
    inputs: tuple[PortInfo, ...]
    outputs: int


@dataclass(frozen=True, slots=True)
class GraphInfo:
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


@dataclass(frozen=True, slots=True)
class InputRead:
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


@dataclass(frozen=True, slots=True)
class CycleBreak:
    """A cycle (strongly connected component) broken by running ``node`` with defaults."""

    node_id: str
    members: tuple[str, ...]
    defaulted_ports: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class WaitInfo:
    """Why a node is waiting: its status and the nodes it waits for."""

    node_id: str
    status: str
    waits_for: tuple[str, ...]
    detail: str


# --------------------------------------------------------------------------- flow events

FlowOutcome: TypeAlias = Literal["completed", "error", "limit", "deadlock", "interrupted", "exit"]

#: Node statuses as strings: waiting (parked, ready for the next generation), queued,
#: executing, stalled (waiting for stream data), error, cancelled.
NodeStatus: TypeAlias = str


@dataclass(frozen=True, slots=True)
class FlowStarted(Event):
    flow_id: str
    wall_time_ns: int
    graph: GraphInfo


@dataclass(frozen=True, slots=True)
class FlowFinished(Event):
    """Every way a run ends emits this: completed, error, limit, deadlock, interrupted."""

    flow_id: str
    outcome: FlowOutcome
    error: ErrorInfo | None
    node_id: str | None
    generation: Generation


@dataclass(frozen=True, slots=True)
class NodeRegistered(Event):
    node: NodeInfo


@dataclass(frozen=True, slots=True)
class NodeStatusChanged(Event):
    """``run_level`` for waiting statuses; ``port`` for ``stalled`` (the stalling port)."""

    node_id: str
    old: NodeStatus
    new: NodeStatus
    run_level: int | None
    port: int | None


@dataclass(frozen=True, slots=True)
class ResolutionQueuePut(Event):
    """``node_id`` was demanded. ``by`` is the node whose output caused it (``None`` for
    the scheduler); ``added`` is false when the node was already queued (deduplicated).
    ``reason``: ``start``, ``consumer``, ``stall`` (a stalled consumer pulling its
    producer) or ``cancel``.
    """

    node_id: str
    by: str | None
    reason: str
    added: bool


@dataclass(frozen=True, slots=True)
class ResolutionQueueGet(Event):
    node_id: str


@dataclass(frozen=True, slots=True)
class SolutionFound(Event):
    """Solving ``head`` found the nodes that must run (``leaves``, in order), the
    strongly connected components met on stale edges (each in discovery order), and
    the cycle breaks chosen."""

    head: str
    leaves: tuple[str, ...]
    sccs: tuple[tuple[str, ...], ...]
    cycle_breaks: tuple[CycleBreak, ...]


@dataclass(frozen=True, slots=True)
class NodeVisited(Event):
    """The scheduler considered a leaf: ``resumed`` or why it was skipped."""

    node_id: str
    action: Literal["resumed", "already_queued", "running", "error", "finished"]


@dataclass(frozen=True, slots=True)
class NodeStarted(Event):
    """An evaluation began. Span key: ``(node_id, generation)`` where ``generation`` is
    the run-level-0 generation this evaluation produces."""

    node_id: str
    generation: Generation
    run_level: int


@dataclass(frozen=True, slots=True)
class NodeFinished(Event):
    node_id: str
    generation: Generation
    run_level: int
    outcome: Literal["completed", "error", "cancelled", "limit", "abandoned"]


@dataclass(frozen=True, slots=True)
class InputsGathered(Event):
    node_id: str
    generation: Generation
    inputs: tuple[InputRead, ...]
    defaulted_ports: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DataEmitted(Event):
    """A node stored output: a whole result (run level 0) or a stream item (1).
    ``values`` has one encoded value per output port."""

    node_id: str
    generation: Generation
    run_level: int
    values: tuple[JsonValue, ...]


@dataclass(frozen=True, slots=True)
class GenerationLimitReached(Event):
    node_id: str
    generation: Generation
    limit: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class NodeErrored(Event):
    node_id: str
    generation: Generation
    error: ErrorInfo
    phase: Literal["gather", "call", "stream", "finalize"]


@dataclass(frozen=True, slots=True)
class DeadlockDetected(Event):
    """Nothing can run, no timer or I/O is pending, yet these nodes still wait."""

    waiting: tuple[WaitInfo, ...]


@dataclass(frozen=True, slots=True)
class BarrierWaitBegan(Event):
    """A writer waits for the readers of its previous output at ``run_level``."""

    node_id: str
    generation: Generation
    run_level: int
    pending_readers: int


@dataclass(frozen=True, slots=True)
class BarrierWaitEnded(Event):
    node_id: str
    generation: Generation
    run_level: int
    blocked: bool


@dataclass(frozen=True, slots=True)
class BarrierCountdown(Event):
    """``reader`` consumed ``node_id``'s output at ``run_level``; ``remaining`` left."""

    node_id: str
    reader: str
    generation: Generation
    run_level: int
    remaining: int


@dataclass(frozen=True, slots=True)
class StreamItemConsumed(Event):
    consumer: str
    port: int
    producer: str
    producer_output: int
    generation: Generation
    value: JsonValue


@dataclass(frozen=True, slots=True)
class StreamStalled(Event):
    """``consumer`` wants the item after ``last_generation`` and it does not exist yet."""

    consumer: str
    port: int
    producer: str
    last_generation: Generation


@dataclass(frozen=True, slots=True)
class StreamResumed(Event):
    consumer: str
    port: int
    producer: str


@dataclass(frozen=True, slots=True)
class StreamEnded(Event):
    """``consumer`` reached the end of ``producer``'s generation ``generation``."""

    consumer: str
    port: int
    producer: str
    generation: Generation
    cancelled: bool


@dataclass(frozen=True, slots=True)
class StreamCancelRequested(Event):
    """``consumer`` (or, when ``propagated``, the pass-through node ``consumer``
    after its own cancellation) asked ``producer`` to stop its current generation."""

    consumer: str
    port: int
    producer: str
    generation: Generation
    propagated: bool


@dataclass(frozen=True, slots=True)
class StreamCancelled(Event):
    """``StreamCancelled`` was thrown into ``producer``; ``handled`` tells whether the
    generator went on (caught it) or ended."""

    producer: str
    generation: Generation
    requested_by: tuple[str, ...]
    handled: bool


# --------------------------------------------------------------------------- offload


@dataclass(frozen=True, slots=True)
class OffloadSubmitted(Event):
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


@dataclass(frozen=True, slots=True)
class OffloadStarted(Event):
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


@dataclass(frozen=True, slots=True)
class OffloadFinished(Event):
    """Call ``call_id`` ended: ``returned``, ``raised`` (the user's function raised,
    ``error`` says what, with the remote traceback), ``cancelled`` (it never ran),
    ``abandoned`` (it was running when its node stopped waiting; its result is
    dropped), ``lost`` (the executor failed: a worker died, the scheduler went away)
    or ``refused`` (the executor would not take it: shut down, unreachable).
    ``run_ns`` is the time the function ran on the worker, when known."""

    call_id: int
    node_id: str | None
    outcome: Literal["returned", "raised", "cancelled", "abandoned", "lost", "refused"]
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
    NodeRegistered,
    NodeStatusChanged,
    ResolutionQueuePut,
    ResolutionQueueGet,
    SolutionFound,
    NodeVisited,
    NodeStarted,
    NodeFinished,
    InputsGathered,
    DataEmitted,
    GenerationLimitReached,
    NodeErrored,
    DeadlockDetected,
    BarrierWaitBegan,
    BarrierWaitEnded,
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

#: Every event class; an event's ``kind`` is its index here. Append only.
EVENT_TYPES: tuple[type[Event], ...] = LOOP_EVENT_TYPES + FLOW_EVENT_TYPES

EVENT_TYPES_BY_NAME: dict[str, type[Event]] = {t.__name__: t for t in EVENT_TYPES}

for _index, _event_type in enumerate(EVENT_TYPES):
    _event_type.kind = _index
del _index, _event_type


# --------------------------------------------------------------------------- fast building

#: Per event class: ``build(seq, t_ns, run_id, fields)``, the same event as
#: ``cls(seq, t_ns, run_id, *fields)`` built without the constructor's call protocol
#: (``fields``: a tuple of the values after the header, which ``Bus.emit`` has at hand).
#: :meth:`flowtrace.instrument.Bus.emit` uses it; everyone else just calls the class.
_BUILDERS: dict[type[Event], Callable[..., Event]] = {}

#: Per class made fast: its mutable twin (see :func:`_make_fast`). Code that builds many
#: instances from trusted values (the trace reader) may fill a ``object.__new__(twin)``
#: with plain attribute stores and then set ``__class__`` back to the class.
_MUTABLE_TWINS: dict[type, type] = {}


def _make_fast(cls: type) -> None:
    """Give the frozen slotted dataclass ``cls`` a constructor 3-4 times faster than the one
    ``dataclasses`` writes, without giving up frozenness.

    A frozen dataclass's ``__init__`` stores every field through
    ``object.__setattr__(self, name, value)`` — a generic call, a name lookup and a
    descriptor call per field, about 100 ns each, which made building an event the
    largest part of what an instrumented run pays. Here each class gets a *mutable twin*:
    a subclass with no slots of its own (so the same memory layout) whose
    ``__setattr__``/``__delattr__`` are ``object``'s, so plain ``self.x = x`` stores
    run at slot speed. The new ``__init__`` switches the instance to the twin, stores
    the fields, and switches it back (``__class__`` assignment between layout-identical
    classes is a pointer swap); from then on it is an ordinary frozen instance, and
    assignment raises ``FrozenInstanceError`` as before. Equality, hashing, ``repr``,
    ``dataclasses.fields``/``replace``, pickling and copying are the dataclass's own,
    untouched. Instances of user subclasses take the original path.
    """
    original = cls.__dict__["__init__"]
    declared = fields(cls)
    names = [f.name for f in declared]
    code = original.__code__
    if (
        list(code.co_varnames[: code.co_argcount]) != ["self", *names]
        or code.co_kwonlyargcount
        or any(f.default is not MISSING or f.default_factory is not MISSING for f in declared)
        or hasattr(cls, "__post_init__")
    ):
        return  # a shape the vocabulary does not use: keep the dataclass constructor
    mutable = type(
        f"_{cls.__name__}Builder",
        (cls,),
        {
            "__slots__": (),
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            "__module__": cls.__module__,
        },
    )
    if mutable.__basicsize__ != cls.__basicsize__:  # pragma: no cover - CPython keeps it
        return
    params = ", ".join(names)
    fast = "".join(f"        self.{n} = {n}\n" for n in names)
    slow = "".join(f"        __ft_setattr(self, {n!r}, {n})\n" for n in names)
    # Globals are prefixed so that no field name (ErrorInfo has ``type``) shadows them.
    source = (
        f"def __init__(self, {params}):\n"
        "    if __ft_type(self) is __ft_cls:\n"
        "        __ft_setattr(self, '__class__', __ft_mutable)\n"
        f"{fast}"
        "        self.__class__ = __ft_cls\n"
        "    else:\n"
        f"{slow}"
    )
    rest = names[3:]
    if issubclass(cls, Event) and names[:3] == ["seq", "t_ns", "run_id"] and rest:
        # The bus's builder: header values apart, the others as the tuple ``emit`` got.
        unpack = ", ".join(f"self.{n}" for n in rest) + ("," if len(rest) == 1 else "")
        source += (
            "def build(seq, t_ns, run_id, fields):\n"
            "    self = __ft_new(__ft_mutable)\n"
            "    self.seq = seq\n"
            "    self.t_ns = t_ns\n"
            "    self.run_id = run_id\n"
            f"    {unpack} = fields\n"
            "    self.__class__ = __ft_cls\n"
            "    return self\n"
        )
    env: dict[str, Any] = {
        "__ft_type": type,
        "__ft_cls": cls,
        "__ft_mutable": mutable,
        "__ft_setattr": object.__setattr__,
        "__ft_new": object.__new__,
    }
    exec(source, env)  # generated from cls's own field names only
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(original.__annotations__)
    init.__doc__ = original.__doc__
    cls.__init__ = init  # type: ignore[misc]
    _MUTABLE_TWINS[cls] = mutable
    if "build" in env:
        _BUILDERS[cls] = env["build"]


for _cls in (
    ErrorInfo,
    PortInfo,
    NodeInfo,
    GraphInfo,
    InputRead,
    CycleBreak,
    WaitInfo,
    Event,
    *EVENT_TYPES,
):
    _make_fast(_cls)
del _cls
