"""Replay: the state of a flow run at any event, rebuilt from its events alone.

A recorded run is a list of events; everything a debugger shows — which node was
executing, which generation each node had reached, what a node last read and from
whom, who was blocking whom — is a *pure function* of a prefix of that list. This
module is that function (:meth:`State.apply`, a reducer) plus what makes it usable on
a million events:

* **keyframes**: a full copy of the state every ``K`` events, so :meth:`Replay.state_at`
  copies the nearest keyframe and applies at most ``K - 1`` events (bounded time
  anywhere in the run);
* **indexes** built in the same single pass: events per node and per kind, the seqs of
  errors, cycle breaks, stalls, cancellations and evaluations, and where each output
  generation was emitted (for lineage).

It imports only :mod:`flowtrace.events` and :mod:`flowtrace.codec` — never the engine —
so a trace can be replayed without the program that produced it. :class:`Replay` grows
with :meth:`Replay.extend`, so a viewer can show the beginning of a large trace while
the rest is still loading; readers only ever see the prefix published so far.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from flowtrace.codec import JsonValue, describe
from flowtrace.events import (
    BarrierCountdown,
    BarrierWaitBegan,
    BarrierWaitEnded,
    DataEmitted,
    DeadlockDetected,
    ErrorInfo,
    Event,
    FlowFinished,
    FlowStarted,
    Generation,
    GraphInfo,
    InputRead,
    InputsGathered,
    IOWaitBegan,
    IOWaitEnded,
    LoopExited,
    NodeErrored,
    NodeFinished,
    NodeInfo,
    NodeRegistered,
    NodeStarted,
    NodeStatusChanged,
    ResolutionQueueGet,
    ResolutionQueuePut,
    SleepBegan,
    SleepEnded,
    SolutionFound,
    StreamCancelled,
    StreamCancelRequested,
    StreamEnded,
    StreamItemConsumed,
    StreamResumed,
    StreamStalled,
    TaskCancelRequested,
    TaskFinished,
    TaskSpawned,
    WaitBegan,
    WaitEnded,
    WaitInfo,
)
from flowtrace.generation import cmp_generation
from flowtrace.runs import events_by_run

__all__ = [
    "DEFAULT_KEYFRAME_INTERVAL",
    "NORMAL_OUTCOMES",
    "NodeView",
    "BarrierView",
    "StreamView",
    "ErrorView",
    "WaitEdge",
    "Change",
    "StateDiff",
    "InputSource",
    "State",
    "Replay",
    "split_runs",
    "event_nodes",
    "cmp_generation",
    "format_generation",
    "format_values",
]

#: Events between two keyframes: ``state_at`` applies at most this many events.
DEFAULT_KEYFRAME_INTERVAL = 2000

#: Run outcomes that end a run normally even when they carry the exception that ended
#: it (a generation limit ends a cyclic flow by raising).
NORMAL_OUTCOMES = frozenset({"completed", "limit", "exit"})


# --------------------------------------------------------------------------- helpers


def format_generation(g: Generation) -> str:
    """``(1, 2)`` → ``"1.2"``; ``None`` → ``"-"`` (compact, for tables)."""
    if g is None:
        return "-"
    return ".".join(str(x) for x in g)


def format_values(values: Sequence[JsonValue] | None, limit: int = 40) -> str:
    """``(1,)`` → ``"1"``; several values joined by commas, each shortened to about
    ``limit`` characters; ``None`` → ``"-"``."""
    if values is None:
        return "-"
    return ", ".join(describe(v, limit) for v in values)


_NODE_FIELDS = ("node_id", "consumer", "producer", "head", "reader")


def _node_getter(cls: type[Event]) -> Callable[[Event], tuple[str, ...]]:
    slots = [f for f in _NODE_FIELDS if f in getattr(cls, "__dataclass_fields__", {})]
    if cls is NodeRegistered:
        return lambda e: (e.node.node_id,)  # type: ignore[attr-defined]
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


def event_nodes(event: Event) -> tuple[str, ...]:
    """The flow nodes an event is about, primary first (``node_id`` / ``consumer``
    before ``producer``). Loop events name no node (their task may; see
    :meth:`Replay.events_of_node`)."""
    cls = type(event)
    getter = _GETTERS.get(cls)
    if getter is None:
        getter = _GETTERS[cls] = _node_getter(cls)
    return getter(event)


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
    """A producer's barrier at one run level: readers of ``generation`` still to read
    it (``remaining``), who already did, and whether the writer is blocked on it."""

    node_id: str
    run_level: int
    generation: Generation
    remaining: int
    readers_done: tuple[str, ...]
    writer_waiting: bool


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


# --------------------------------------------------------------------------- state


class _Node:
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

    def copy(self) -> _Node:
        new = _Node.__new__(_Node)
        for name in _Node.__slots__:
            setattr(new, name, getattr(self, name))
        return new

    def view(self) -> NodeView:
        return NodeView(*(getattr(self, name) for name in _VIEW_FIELDS))


_VIEW_FIELDS: tuple[str, ...] = tuple(NodeView.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class _Barrier:
    generation: Generation
    remaining: int
    readers_done: tuple[str, ...]
    writer_waiting: bool


@dataclass(frozen=True, slots=True)
class _Task:
    name: str
    node_id: str | None
    state: str
    detail: str


class State:
    """The whole run at one position. Built by :meth:`apply`-ing events in order.

    Treat a state returned by :meth:`Replay.state_at` as read-only; the accessors return
    immutable views. Internals are mutable only so that applying an event is cheap.
    """

    __slots__ = (
        "_barriers",
        "_cancels",
        "_nodes",
        "_solutions",
        "_streams",
        "_tasks",
        "cycle_breaks",
        "deadlock",
        "errors",
        "flow_error",
        "graph",
        "outcome",
        "queue",
        "seq",
    )

    def __init__(self) -> None:
        self.seq: int | None = None
        self.graph: GraphInfo | None = None
        self._nodes: dict[str, _Node] = {}  # in registration order
        self.queue: list[str] = []
        self._barriers: dict[tuple[str, int], _Barrier] = {}
        self._streams: dict[tuple[str, int], StreamView] = {}
        self._solutions: dict[str, tuple[str, ...]] = {}
        self._cancels: dict[str, tuple[str, ...]] = {}
        self._tasks: dict[int, _Task] = {}
        self.errors: list[ErrorView] = []
        self.deadlock: tuple[WaitInfo, ...] = ()
        self.outcome: str | None = None
        self.flow_error: ErrorInfo | None = None
        self.cycle_breaks = 0

    # ------------------------------------------------------------------ copying

    def copy(self) -> State:
        """A deep-enough copy: records that :meth:`apply` mutates are copied, immutable
        values are shared. O(nodes + connections), never O(events)."""
        new = State.__new__(State)
        new.seq = self.seq
        new.graph = self.graph
        new._nodes = {k: n.copy() for k, n in self._nodes.items()}
        new.queue = list(self.queue)
        new._barriers = dict(self._barriers)
        new._streams = dict(self._streams)
        new._solutions = dict(self._solutions)
        new._cancels = dict(self._cancels)
        new._tasks = dict(self._tasks)
        new.errors = list(self.errors)
        new.deadlock = self.deadlock
        new.outcome = self.outcome
        new.flow_error = self.flow_error
        new.cycle_breaks = self.cycle_breaks
        return new

    # ------------------------------------------------------------------ reducer

    def apply(self, event: Event) -> None:
        """Advance this state by one event (events must come in seq order)."""
        self.seq = event.seq
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _node(self, node_id: str) -> _Node:
        node = self._nodes.get(node_id)
        if node is None:
            node = self._nodes[node_id] = _Node(node_id)
        return node

    def _register(self, info: NodeInfo) -> None:
        node = self._nodes.get(info.node_id)
        if node is None:
            self._nodes[info.node_id] = _Node(info.node_id, info.label, info.kind)
        else:
            node.label, node.kind = info.label, info.kind

    def _on_flow_started(self, e: FlowStarted) -> None:
        self.graph = e.graph
        for info in e.graph.nodes:
            self._register(info)

    def _on_flow_finished(self, e: FlowFinished) -> None:
        self.outcome = e.outcome
        self.flow_error = e.error
        if e.error is not None and e.outcome in NORMAL_OUTCOMES:
            # the loop saw the limit's exception end its root task; it was no error
            key = _error_key(e.error)
            self.errors = [
                v
                for v in self.errors
                if v.where not in ("task", "loop") or _error_key(v.error) != key
            ]
        elif e.error is not None and not any(_same(v.error, e.error) for v in self.errors):
            self.errors.append(ErrorView(e.seq, e.node_id, e.generation, e.error, "flow"))

    def _on_registered(self, e: NodeRegistered) -> None:
        self._register(e.node)

    def _on_status(self, e: NodeStatusChanged) -> None:
        node = self._node(e.node_id)
        node.status = e.new
        if e.run_level is not None:  # the run level of the last park, as the engine keeps it
            node.run_level = e.run_level
        node.stalled_port = e.port if e.new == "stalled" else None
        node.last_seq = e.seq

    def _on_queue_put(self, e: ResolutionQueuePut) -> None:
        if e.added and e.node_id not in self.queue:
            self.queue.append(e.node_id)

    def _on_queue_get(self, e: ResolutionQueueGet) -> None:
        if e.node_id in self.queue:
            self.queue.remove(e.node_id)

    def _on_solution(self, e: SolutionFound) -> None:
        leaves = tuple(n for n in e.leaves if n != e.head)
        if leaves:
            self._solutions[e.head] = leaves
        else:
            self._solutions.pop(e.head, None)
        if e.cycle_breaks:
            self.cycle_breaks += len(e.cycle_breaks)

    def _on_started(self, e: NodeStarted) -> None:
        node = self._node(e.node_id)
        node.evaluating = e.generation
        node.finished = None
        node.evaluations += 1
        node.last_seq = e.seq
        self._solutions.pop(e.node_id, None)
        self._cancels.pop(e.node_id, None)

    def _on_finished(self, e: NodeFinished) -> None:
        node = self._node(e.node_id)
        node.evaluating = None
        node.finished = e.outcome
        node.last_seq = e.seq
        if self._solutions:
            for head, leaves in list(self._solutions.items()):
                if e.node_id in leaves:
                    rest = tuple(n for n in leaves if n != e.node_id)
                    if rest:
                        self._solutions[head] = rest
                    else:
                        del self._solutions[head]

    def _on_gathered(self, e: InputsGathered) -> None:
        node = self._node(e.node_id)
        node.inputs = e.inputs
        node.inputs_seq = e.seq
        node.defaulted_ports = e.defaulted_ports
        node.last_seq = e.seq

    def _on_emitted(self, e: DataEmitted) -> None:
        node = self._node(e.node_id)
        node.generation = e.generation
        node.last_seq = e.seq
        if e.run_level == 0:
            node.output = e.values
            node.output_generation = e.generation
            node.output_seq = e.seq
        else:
            node.item = e.values
            node.item_generation = e.generation
            node.item_seq = e.seq

    def _on_errored(self, e: NodeErrored) -> None:
        node = self._node(e.node_id)
        node.error = e.error
        node.error_seq = e.seq
        node.last_seq = e.seq
        self.errors.append(ErrorView(e.seq, e.node_id, e.generation, e.error, e.phase))

    def _on_deadlock(self, e: DeadlockDetected) -> None:
        self.deadlock = e.waiting

    def _on_barrier_began(self, e: BarrierWaitBegan) -> None:
        key = (e.node_id, e.run_level)
        old = self._barriers.get(key)
        done = old.readers_done if old is not None and old.generation == e.generation else ()
        self._barriers[key] = _Barrier(e.generation, e.pending_readers, done, True)

    def _on_barrier_ended(self, e: BarrierWaitEnded) -> None:
        key = (e.node_id, e.run_level)
        old = self._barriers.get(key)
        if old is not None:
            self._barriers[key] = _Barrier(old.generation, old.remaining, old.readers_done, False)

    def _on_countdown(self, e: BarrierCountdown) -> None:
        key = (e.node_id, e.run_level)
        old = self._barriers.get(key)
        if old is not None and old.generation == e.generation:
            done = (*old.readers_done, e.reader)
            waiting = old.writer_waiting
        else:
            done, waiting = (e.reader,), False
        self._barriers[key] = _Barrier(e.generation, e.remaining, done, waiting)

    def _stream(self, consumer: str, port: int, producer: str) -> StreamView:
        view = self._streams.get((consumer, port))
        if view is None or view.producer != producer:
            return StreamView(consumer, port, producer, None, 0, False, False, False)
        return view

    def _on_item(self, e: StreamItemConsumed) -> None:
        s = self._stream(e.consumer, e.port, e.producer)
        self._streams[(e.consumer, e.port)] = StreamView(
            e.consumer, e.port, e.producer, e.generation, s.items + 1, False, False, False
        )
        self._node(e.consumer).last_seq = e.seq

    def _on_stalled(self, e: StreamStalled) -> None:
        s = self._stream(e.consumer, e.port, e.producer)
        self._streams[(e.consumer, e.port)] = StreamView(
            e.consumer, e.port, e.producer, e.last_generation, s.items, True, False, s.cancelled
        )

    def _on_resumed(self, e: StreamResumed) -> None:
        s = self._stream(e.consumer, e.port, e.producer)
        self._streams[(e.consumer, e.port)] = StreamView(
            e.consumer,
            e.port,
            e.producer,
            s.last_generation,
            s.items,
            False,
            s.ended,
            s.cancelled,
        )

    def _on_stream_ended(self, e: StreamEnded) -> None:
        s = self._stream(e.consumer, e.port, e.producer)
        self._streams[(e.consumer, e.port)] = StreamView(
            e.consumer,
            e.port,
            e.producer,
            s.last_generation,
            s.items,
            False,
            True,
            s.cancelled or e.cancelled,
        )

    def _on_cancel_requested(self, e: StreamCancelRequested) -> None:
        by = self._cancels.get(e.producer, ())
        if e.consumer not in by:
            self._cancels[e.producer] = (*by, e.consumer)
        s = self._stream(e.consumer, e.port, e.producer)
        self._streams[(e.consumer, e.port)] = StreamView(
            e.consumer, e.port, e.producer, s.last_generation, s.items, s.stalled, s.ended, True
        )

    def _on_cancelled(self, e: StreamCancelled) -> None:
        self._cancels.pop(e.producer, None)

    def _on_task_spawned(self, e: TaskSpawned) -> None:
        self._tasks[e.task_id] = _Task(e.name, e.node_id, "ready", "")

    def _task_state(self, task_id: int, state: str, detail: str) -> None:
        old = self._tasks.get(task_id)
        if old is not None:
            self._tasks[task_id] = _Task(old.name, old.node_id, state, detail)

    def _on_task_finished(self, e: TaskFinished) -> None:
        self._task_state(e.task_id, "finished", e.outcome)
        if e.error is not None and e.outcome == "failed":
            task = self._tasks.get(e.task_id)
            node_id = task.node_id if task is not None else None
            if not any(_same(v.error, e.error) for v in self.errors):
                self.errors.append(ErrorView(e.seq, node_id, None, e.error, "task"))

    def _on_sleep_began(self, e: SleepBegan) -> None:
        self._task_state(e.task_id, "sleeping", f"sleep {e.duration:g}s")

    def _on_wait_began(self, e: WaitBegan) -> None:
        self._task_state(e.task_id, "waiting", f"{e.primitive} #{e.primitive_id} {e.reason}")

    def _on_io_began(self, e: IOWaitBegan) -> None:
        self._task_state(e.task_id, "io", f"{e.operation} {e.target}")

    def _on_task_resumed(self, e: SleepEnded | WaitEnded | IOWaitEnded) -> None:
        self._task_state(e.task_id, "ready", "")

    def _on_loop_exited(self, e: LoopExited) -> None:
        if (
            e.outcome not in NORMAL_OUTCOMES
            and e.error is not None
            and not any(_same(v.error, e.error) for v in self.errors)
        ):
            self.errors.append(ErrorView(e.seq, None, None, e.error, "loop"))

    def _on_task_cancel(self, e: TaskCancelRequested) -> None:
        self._task_state(e.task_id, "cancelling", f"by task {e.by_task_id}")

    # ------------------------------------------------------------------ queries

    @property
    def order(self) -> list[str]:
        """Ids of the nodes known at this position, in registration order."""
        return list(self._nodes)

    def node(self, node_id: str) -> NodeView:
        """One node's view (``KeyError`` for a node not known at this position)."""
        return self._nodes[node_id].view()

    def nodes(self) -> list[NodeView]:
        """Every node known at this position, in registration order."""
        return [node.view() for node in self._nodes.values()]

    def node_ids(self) -> tuple[str, ...]:
        """Ids of the nodes known at this position, in registration order."""
        return tuple(self._nodes)

    def statuses(self) -> dict[str, str]:
        """node id → status (``waiting``, ``queued``, ``executing``, ``stalled``…)."""
        return {n: node.status for n, node in self._nodes.items()}

    def generations(self) -> dict[str, Generation]:
        """node id → newest data generation stored."""
        return {n: node.generation for n, node in self._nodes.items()}

    def outputs(self) -> dict[str, tuple[JsonValue, ...] | None]:
        """Last run-level-0 values of each node (encoded by the run's codec)."""
        return {n: node.output for n, node in self._nodes.items()}

    def barriers(self) -> list[BarrierView]:
        """Every producer's barrier, per run level: who still has to read what."""
        return [
            BarrierView(k[0], k[1], b.generation, b.remaining, b.readers_done, b.writer_waiting)
            for k, b in self._barriers.items()
        ]

    def streams(self) -> list[StreamView]:
        """Read positions per streaming connection ``(consumer, port)``."""
        return list(self._streams.values())

    def tasks(self) -> dict[int, tuple[str, str | None, str, str]]:
        """task id → (name, node id, state, detail) for the loop's tasks."""
        return {k: (t.name, t.node_id, t.state, t.detail) for k, t in self._tasks.items()}

    def pending_cancels(self) -> dict[str, tuple[str, ...]]:
        """Producers asked to cancel their current generation → who asked."""
        return dict(self._cancels)

    def wait_for(self) -> list[WaitEdge]:
        """The wait-for graph at this position: who cannot go on until whom.

        Edges come only from what events said: a stalled stream read (consumer →
        producer), a writer blocked on its barrier (writer → readers that have not read
        yet), a scheduled solution not yet run (demanded node → leaves still to run), a
        cancellation not yet delivered (consumer → producer), and a detected deadlock.
        """
        edges: list[WaitEdge] = []
        seen: set[tuple[str, str, str]] = set()

        def add(waiter: str, blocker: str, reason: WaitReason, detail: str) -> None:
            key = (waiter, blocker, reason)
            if key not in seen:
                seen.add(key)
                edges.append(WaitEdge(waiter, blocker, reason, detail))

        for s in self._streams.values():
            if s.stalled:
                add(
                    s.consumer,
                    s.producer,
                    "stall",
                    f"port {s.port} wants the item after {format_generation(s.last_generation)}",
                )
        for n, node in self._nodes.items():
            if node.status == "stalled" and node.stalled_port is not None and self.graph:
                producer = _producer_of(self.graph, n, node.stalled_port)
                if producer is not None:
                    add(n, producer, "stall", f"port {node.stalled_port} has no data yet")
        for (writer, level), b in self._barriers.items():
            if b.writer_waiting and b.remaining > 0:
                readers = _consumers_of(self.graph, writer) if self.graph else ()
                pending = [r for r in readers if r not in b.readers_done] or ["?"]
                for r in pending:
                    add(
                        writer,
                        r,
                        "barrier",
                        f"{b.remaining} reader(s) of {format_generation(b.generation)} "
                        f"(run level {level}) still to read",
                    )
        for head, leaves in self._solutions.items():
            for leaf in leaves:
                add(head, leaf, "needs", "must run first (scheduled by the resolver)")
        for producer, consumers in self._cancels.items():
            for c in consumers:
                add(c, producer, "cancel", "cancellation requested, not yet delivered")
        for info in self.deadlock:
            for blocker in info.waits_for:
                add(info.node_id, blocker, "deadlock", info.detail)
        return edges

    def waits_of(self, node_id: str) -> list[WaitEdge]:
        """The wait-for edges in which ``node_id`` is the waiter."""
        return [e for e in self.wait_for() if e.waiter == node_id]

    def final_summary(self) -> dict[str, tuple[str, Generation, tuple[JsonValue, ...] | None]]:
        """node id → (status, generation, last run-level-0 values): what the
        replay-equals-live property compares with the engine's own node states."""
        return {n: (node.status, node.generation, node.output) for n, node in self._nodes.items()}


def _producer_of(graph: GraphInfo, node_id: str, port: int) -> str | None:
    for info in graph.nodes:
        if info.node_id == node_id:
            for p in info.inputs:
                if p.index == port:
                    return p.producer
    return None


def _consumers_of(graph: GraphInfo | None, node_id: str) -> tuple[str, ...]:
    if graph is None:
        return ()
    out: list[str] = []
    for info in graph.nodes:
        for p in info.inputs:
            if p.producer == node_id and info.node_id not in out:
                out.append(info.node_id)
    return tuple(out)


_HANDLERS: dict[type[Event], Callable[[State, Any], None]] = {
    FlowStarted: State._on_flow_started,
    FlowFinished: State._on_flow_finished,
    NodeRegistered: State._on_registered,
    NodeStatusChanged: State._on_status,
    ResolutionQueuePut: State._on_queue_put,
    ResolutionQueueGet: State._on_queue_get,
    SolutionFound: State._on_solution,
    NodeStarted: State._on_started,
    NodeFinished: State._on_finished,
    InputsGathered: State._on_gathered,
    DataEmitted: State._on_emitted,
    NodeErrored: State._on_errored,
    DeadlockDetected: State._on_deadlock,
    BarrierWaitBegan: State._on_barrier_began,
    BarrierWaitEnded: State._on_barrier_ended,
    BarrierCountdown: State._on_countdown,
    StreamItemConsumed: State._on_item,
    StreamStalled: State._on_stalled,
    StreamResumed: State._on_resumed,
    StreamEnded: State._on_stream_ended,
    StreamCancelRequested: State._on_cancel_requested,
    StreamCancelled: State._on_cancelled,
    TaskSpawned: State._on_task_spawned,
    TaskFinished: State._on_task_finished,
    TaskCancelRequested: State._on_task_cancel,
    SleepBegan: State._on_sleep_began,
    SleepEnded: State._on_task_resumed,
    WaitBegan: State._on_wait_began,
    WaitEnded: State._on_task_resumed,
    IOWaitBegan: State._on_io_began,
    IOWaitEnded: State._on_task_resumed,
    LoopExited: State._on_loop_exited,
}


def diff_states(a: State, b: State) -> StateDiff:
    """Node by node, what differs between two states (status, generation, values…)."""
    changes: list[Change] = []
    ids = [*a._nodes, *(n for n in b._nodes if n not in a._nodes)]
    for n in ids:
        na, nb = a._nodes.get(n), b._nodes.get(n)
        if na is None or nb is None:
            changes.append(Change(n, "exists", str(na is not None), str(nb is not None)))
            continue
        for name, fmt in _DIFF_FIELDS:
            va, vb = getattr(na, name), getattr(nb, name)
            if va != vb:
                changes.append(Change(n, name, fmt(va), fmt(vb)))
    return StateDiff(
        a.seq if a.seq is not None else -1,
        b.seq if b.seq is not None else -1,
        tuple(changes),
        tuple(a.queue),
        tuple(b.queue),
    )


def _fmt_error(v: ErrorInfo | None) -> str:
    return "-" if v is None else f"{v.type}: {v.message}"


_DIFF_FIELDS: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("status", str),
    ("run_level", str),
    ("generation", format_generation),
    ("evaluating", format_generation),
    ("evaluations", str),
    ("output", format_values),
    ("item", format_values),
    ("defaulted_ports", str),
    ("error", _fmt_error),
)


# --------------------------------------------------------------------------- replay


def _error_key(error: ErrorInfo | None) -> tuple[str, str] | None:
    """Errors are the same when type and message are: each layer that re-raises an
    exception records its own traceback."""
    return None if error is None else (error.type, error.message)


def _same(a: ErrorInfo, b: ErrorInfo) -> bool:
    return (a.type, a.message) == (b.type, b.message)


_CANCEL_TYPES = (StreamCancelRequested, StreamCancelled, TaskCancelRequested)


class Replay:
    """The events of one run, indexed, with keyframes: any position in bounded time.

    ``Replay(events)`` indexes everything at once; ``Replay()`` then :meth:`extend`
    chunk by chunk lets a viewer use the prefix loaded so far. All public positions are
    event ``seq`` numbers.
    """

    def __init__(
        self,
        events: Iterable[Event] = (),
        *,
        keyframe_interval: int = DEFAULT_KEYFRAME_INTERVAL,
    ) -> None:
        if keyframe_interval < 1:
            raise ValueError("keyframe_interval must be at least 1")
        self.keyframe_interval = keyframe_interval
        self._events: list[Event] = []
        self._count = 0
        self._base = 0
        self._gapless = True
        self._seqs: list[int] = []
        self._state = State()
        self._keyframes: list[State] = [State()]
        self.run_id: str | None = None
        self._by_kind: dict[type[Event], list[int]] = {}
        self._by_node: dict[str, list[int]] = {}
        self._task_node: dict[int, str] = {}
        self._evaluations: dict[str, list[int]] = {}
        self._emitted: dict[tuple[str, Generation], int] = {}
        self._gathered: dict[tuple[str, Generation], int] = {}
        self._readers: dict[tuple[str, Generation], list[int]] = {}
        self._error_seqs: list[int] = []
        self._errors_seen: set[tuple[str, str]] = set()
        self._cycle_break_seqs: list[int] = []
        self._stall_seqs: list[int] = []
        self._cancel_seqs: list[int] = []
        self._cache: tuple[int, State] | None = None
        self.extend(events)

    # ------------------------------------------------------------------ building

    def extend(self, events: Iterable[Event]) -> None:
        """Append events (in seq order) and index them. Readers see them once the call
        returns (the published count moves last)."""
        evs = self._events
        state = self._state
        k = self.keyframe_interval
        handlers = _HANDLERS
        by_kind = self._by_kind
        by_node = self._by_node
        task_node = self._task_node
        pos = len(evs)
        for e in events:
            seq = e.seq
            if pos == 0:
                self._base = seq
                self.run_id = e.run_id
            elif self._gapless and seq != self._base + pos:
                self._gapless = False
                self._seqs = [ev.seq for ev in evs]
            if not self._gapless:
                self._seqs.append(seq)
            evs.append(e)
            cls = type(e)
            lst = by_kind.get(cls)
            if lst is None:
                lst = by_kind[cls] = []
            lst.append(seq)
            getter = _GETTERS.get(cls)
            if getter is None:
                getter = _GETTERS[cls] = _node_getter(cls)
            nodes = getter(e)
            if not nodes:
                task_id = getattr(e, "task_id", None)
                if task_id is not None:
                    owner = task_node.get(task_id)
                    if owner is not None:
                        nodes = (owner,)
            for n in nodes:
                lst = by_node.get(n)
                if lst is None:
                    lst = by_node[n] = []
                lst.append(seq)
            if cls in _SPECIAL:
                self._index_special(e)
            state.seq = seq
            handler = handlers.get(cls)
            if handler is not None:
                handler(state, e)
            pos += 1
            if pos % k == 0:
                self._keyframes.append(state.copy())
            self._count = pos

    def _index_special(self, e: Event) -> None:
        seq = e.seq
        if isinstance(e, DataEmitted):
            self._emitted[(e.node_id, e.generation)] = seq
        elif isinstance(e, InputsGathered):
            self._gathered[(e.node_id, e.generation)] = seq
            for r in e.inputs:
                if r.producer is not None and r.producer_generation is not None:
                    key = (r.producer, r.producer_generation)
                    lst = self._readers.get(key)
                    if lst is None:
                        lst = self._readers[key] = []
                    lst.append(seq)
        elif isinstance(e, StreamItemConsumed):
            item_key = (e.producer, e.generation)
            lst = self._readers.get(item_key)
            if lst is None:
                lst = self._readers[item_key] = []
            lst.append(seq)
        elif isinstance(e, NodeStarted):
            self._evaluations.setdefault(e.node_id, []).append(seq)
        elif isinstance(e, SolutionFound):
            if e.cycle_breaks:
                self._cycle_break_seqs.append(seq)
        elif isinstance(e, StreamStalled):
            self._stall_seqs.append(seq)
        elif isinstance(e, _CANCEL_TYPES):
            self._cancel_seqs.append(seq)
        elif isinstance(e, DeadlockDetected):
            self._error_seqs.append(seq)
        elif isinstance(e, (NodeErrored, FlowFinished, LoopExited, TaskFinished)):
            # one stop per distinct error: the task's, the loop's and the flow's end
            # repeat a node's error. A generation limit or an exit ends a run normally,
            # even though the loop saw its exception end the root task.
            if e.error is None:
                return
            ekey = (e.error.type, e.error.message)
            if isinstance(e, FlowFinished) and e.outcome in NORMAL_OUTCOMES:
                while (
                    self._error_seqs
                    and _error_key(getattr(self.event(self._error_seqs[-1]), "error", None)) == ekey
                ):
                    self._error_seqs.pop()
                return
            if isinstance(e, LoopExited) and e.outcome in NORMAL_OUTCOMES:
                return
            if ekey not in self._errors_seen:
                self._errors_seen.add(ekey)
                self._error_seqs.append(seq)
        elif isinstance(e, TaskSpawned) and e.node_id is not None:
            self._task_node[e.task_id] = e.node_id

    # ------------------------------------------------------------------ published views

    def _published(self, seqs: list[int]) -> Sequence[int]:
        """``seqs`` without the entries a concurrent :meth:`extend` indexed but has not
        published yet (a reader on another thread must never see an unknown seq)."""
        if seqs and self._count and seqs[-1] > self._events[self._count - 1].seq:
            return seqs[: bisect.bisect_right(seqs, self._events[self._count - 1].seq)]
        if seqs and not self._count:
            return []
        return seqs

    @property
    def error_seqs(self) -> Sequence[int]:
        """Seqs of errors: a node raised, a deadlock, a task failed, a run failed (one
        stop per distinct error)."""
        return self._published(self._error_seqs)

    @property
    def cycle_break_seqs(self) -> Sequence[int]:
        """Seqs of ``SolutionFound`` events that broke a cycle with defaults."""
        return self._published(self._cycle_break_seqs)

    @property
    def stall_seqs(self) -> Sequence[int]:
        """Seqs of ``StreamStalled`` events."""
        return self._published(self._stall_seqs)

    @property
    def cancel_seqs(self) -> Sequence[int]:
        """Seqs of stream cancellations requested or delivered, and task cancels."""
        return self._published(self._cancel_seqs)

    # ------------------------------------------------------------------ positions

    def __len__(self) -> int:
        return self._count

    @property
    def first_seq(self) -> int:
        """Seq of the run's first event."""
        return self._base

    @property
    def last_seq(self) -> int:
        """Seq of the last event published (``first_seq - 1`` when empty)."""
        if self._count == 0:
            return self._base - 1
        return self._events[self._count - 1].seq

    def event(self, seq: int) -> Event:
        """The event with this seq (``KeyError`` if there is none)."""
        return self._events[self.pos_of(seq)]

    def event_at(self, pos: int) -> Event:
        """The event at list position ``pos`` (0-based), for virtualized views."""
        if not 0 <= pos < self._count:
            raise IndexError(pos)
        return self._events[pos]

    def events(self) -> Sequence[Event]:
        """Every event published so far, in seq order."""
        return self._events[: self._count]

    def pos_of(self, seq: int) -> int:
        """List position of the event with this seq (``KeyError`` if there is none)."""
        if self._gapless:
            pos = seq - self._base
            if 0 <= pos < self._count:
                return pos
            raise KeyError(seq)
        pos = bisect.bisect_left(self._seqs, seq, 0, self._count)
        if pos < self._count and self._seqs[pos] == seq:
            return pos
        raise KeyError(seq)

    def seq_at(self, pos: int) -> int:
        """Seq of the event at list position ``pos``."""
        return self._events[pos].seq

    def clamp(self, seq: int) -> int:
        """The nearest seq that exists (the first or last one outside the range)."""
        if self._count == 0:
            raise IndexError("empty replay")
        if seq <= self._base:
            return self._base
        last = self.last_seq
        if seq >= last:
            return last
        if self._gapless:
            return seq
        pos = bisect.bisect_left(self._seqs, seq, 0, self._count)
        return self._seqs[pos]

    # ------------------------------------------------------------------ state

    def state_at(self, seq: int) -> State:
        """The state after the event ``seq`` was applied. Copies the keyframe at or
        before it and applies at most ``keyframe_interval - 1`` events. The result is
        the caller's (a fresh copy)."""
        pos = self.pos_of(seq)
        cached = self._cache
        if cached is not None and cached[0] == pos:
            return cached[1].copy()
        k = self.keyframe_interval
        index = (pos + 1) // k
        start = index * k
        if cached is not None and start <= cached[0] < pos:
            state = cached[1].copy()
            start = cached[0] + 1
        else:
            state = self._keyframes[index].copy()
        evs = self._events
        handlers = _HANDLERS
        for i in range(start, pos + 1):
            e = evs[i]
            state.seq = e.seq
            handler = handlers.get(type(e))
            if handler is not None:
                handler(state, e)
        self._cache = (pos, state)
        return state.copy()

    def state_before_start(self) -> State:
        """The empty state, before the run's first event."""
        return State()

    def final_state(self) -> State:
        """The state after the last event published so far."""
        if self._count == 0:
            return State()
        return self.state_at(self.last_seq)

    def diff(self, seq_a: int, seq_b: int) -> StateDiff:
        """What changed between the states after ``seq_a`` and after ``seq_b``."""
        return diff_states(self.state_at(seq_a), self.state_at(seq_b))

    # ------------------------------------------------------------------ indexes

    def node_ids(self) -> tuple[str, ...]:
        """Every node named by the run, in first-mention (registration) order."""
        return tuple(self._by_node)

    def events_of_node(self, node_id: str) -> Sequence[int]:
        """Seqs of the events about ``node_id`` (including its task's loop events)."""
        return self._published(self._by_node.get(node_id, []))

    def node_of(self, event: Event) -> str | None:
        """The node an event is about: its first named node, else the node whose task
        it concerns (a sleep, a wait), else ``None``."""
        nodes = event_nodes(event)
        if nodes:
            return nodes[0]
        task_id = getattr(event, "task_id", None)
        return self._task_node.get(task_id) if task_id is not None else None

    def events_of_kind(self, kind: type[Event]) -> Sequence[int]:
        """Seqs of the events of class ``kind``, in order."""
        return self._published(self._by_kind.get(kind, []))

    def kinds(self) -> list[type[Event]]:
        """Event classes present in the run, in first-appearance order."""
        return list(self._by_kind)

    def evaluations_of(self, node_id: str) -> Sequence[int]:
        """Seqs of ``NodeStarted`` of ``node_id``: its generation boundaries."""
        return self._published(self._evaluations.get(node_id, []))

    def emitted_seq(self, node_id: str, generation: Generation) -> int | None:
        """Seq of the ``DataEmitted`` that stored ``node_id``'s ``generation``."""
        return self._emitted.get((node_id, generation))

    def gathered_seq(self, node_id: str, generation: Generation) -> int | None:
        """Seq of the ``InputsGathered`` of ``node_id``'s evaluation ``generation``."""
        return self._gathered.get((node_id, generation))

    def readers_of(self, node_id: str, generation: Generation) -> Sequence[int]:
        """Seqs of the events that read ``node_id``'s output ``generation``."""
        return self._readers.get((node_id, generation), [])

    # ------------------------------------------------------------------ lineage

    def lineage(self, read: InputRead) -> int | None:
        """Seq of the producer's ``DataEmitted`` that an input read came from, or
        ``None`` for a defaulted, unconnected or stream input."""
        if read.producer is None or read.producer_generation is None or read.defaulted:
            return None
        return self._emitted.get((read.producer, read.producer_generation))

    def lineage_of_evaluation(self, node_id: str, generation: Generation) -> dict[int, int | None]:
        """port → producer ``DataEmitted`` seq, for the evaluation ``(node_id, generation)``."""
        seq = self._gathered.get((node_id, generation))
        if seq is None:
            return {}
        e = self.event(seq)
        assert isinstance(e, InputsGathered)
        return {r.port: self.lineage(r) for r in e.inputs}

    def sources(self, seq: int) -> list[InputSource]:
        """Where the values an event mentions came from (for "jump to producer")."""
        e = self.event(seq)
        out: list[InputSource] = []
        if isinstance(e, InputsGathered):
            for r in e.inputs:
                if r.defaulted:
                    label = f"port {r.port}: defaulted"
                elif r.producer is None:
                    label = f"port {r.port}: unconnected"
                elif r.stream:
                    items = self._items_read(e.node_id, r.port, seq)
                    if items:  # the items it read, not the producer's final value
                        out.extend(items)
                        continue
                    out.append(
                        InputSource(
                            f"port {r.port}: stream from {r.producer} (no item read)",
                            r.producer,
                            None,
                            None,
                        )
                    )
                    continue
                else:
                    label = (
                        f"port {r.port} ← {r.producer} g{format_generation(r.producer_generation)}"
                    )
                out.append(InputSource(label, r.producer, r.producer_generation, self.lineage(r)))
        elif isinstance(e, StreamItemConsumed):
            out.append(
                InputSource(
                    f"port {e.port} ← {e.producer} item g{format_generation(e.generation)}",
                    e.producer,
                    e.generation,
                    self._emitted.get((e.producer, e.generation)),
                )
            )
        elif isinstance(e, (NodeStarted, NodeFinished, DataEmitted, NodeErrored)):
            g = e.generation
            if isinstance(e, DataEmitted) and e.run_level == 1 and g is not None:
                g = g[:1]
            gathered = self._gathered.get((e.node_id, g))
            if gathered is None and g is not None:
                gathered = self._gathered.get((e.node_id, g[:1]))
            if gathered is not None and gathered != seq:
                out.extend(self.sources(gathered))
        return out

    def _items_read(self, consumer: str, port: int, gathered: int) -> list[InputSource]:
        """The stream items ``consumer`` read on ``port`` in the evaluation whose inputs
        were gathered at ``gathered``: one source per item, at the producer's
        ``DataEmitted`` of that item. Linear in the evaluation's events."""
        seqs = self.events_of_node(consumer)
        out: list[InputSource] = []
        for s in seqs[bisect.bisect_right(seqs, gathered) :]:
            ev = self.event(s)
            if isinstance(ev, NodeFinished) and ev.node_id == consumer:
                break
            if isinstance(ev, StreamItemConsumed) and ev.consumer == consumer and ev.port == port:
                out.append(
                    InputSource(
                        f"port {port} ← {ev.producer} item g{format_generation(ev.generation)}"
                        f" = {describe(ev.value, 20)} (read at #{s})",
                        ev.producer,
                        ev.generation,
                        self._emitted.get((ev.producer, ev.generation)),
                    )
                )
        return out

    # ------------------------------------------------------------------ navigation

    @staticmethod
    def next_in(seqs: Sequence[int], seq: int) -> int | None:
        """The first seq in the sorted ``seqs`` after ``seq``."""
        i = bisect.bisect_right(seqs, seq)
        return seqs[i] if i < len(seqs) else None

    @staticmethod
    def prev_in(seqs: Sequence[int], seq: int) -> int | None:
        """The last seq in the sorted ``seqs`` before ``seq``."""
        i = bisect.bisect_left(seqs, seq)
        return seqs[i - 1] if i > 0 else None


_SPECIAL: frozenset[type[Event]] = frozenset(
    {
        DataEmitted,
        InputsGathered,
        StreamItemConsumed,
        NodeStarted,
        SolutionFound,
        StreamStalled,
        StreamCancelRequested,
        StreamCancelled,
        TaskCancelRequested,
        NodeErrored,
        DeadlockDetected,
        FlowFinished,
        LoopExited,
        TaskFinished,
        TaskSpawned,
    }
)
