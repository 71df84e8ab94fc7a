"""The reducer: the whole run at one position, advanced one event at a time.

:meth:`State.apply` is a pure function of the events applied so far. Node statuses and
the resolution queue follow what each event says *or implies* (schema 2.0 folds a
status change into the event that causes it: :mod:`flowtrace.implied` derives it, the
same way for every consumer). An explicit ``NodeStatusChanged`` to the status a node
already has — a 1.x trace, upgraded, may carry one that 2.0 would have implied — is a
no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowtrace.codec import JsonValue
from flowtrace.events import (
    EVENT_TYPES,
    BarrierCountdown,
    DataEmitted,
    DeadlockDetected,
    ErrorInfo,
    Event,
    FlowFinished,
    FlowStarted,
    Generation,
    GraphInfo,
    InputsGathered,
    IOWaitBegan,
    IOWaitEnded,
    LoopExited,
    NodeErrored,
    NodeFinished,
    NodeInfo,
    NodeStarted,
    NodeStatusChanged,
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
from flowtrace.implied import (
    QUEUE_GET_KINDS,
    QUEUE_PUT_KINDS,
    STATUS_KINDS,
    StatusChange,
    queue_get,
    queue_put,
    status_change,
)

from .records import BarrierRecord, NodeRecord, TaskRecord
from .views import (
    NORMAL_OUTCOMES,
    BarrierView,
    ErrorView,
    NodeView,
    StreamView,
    WaitEdge,
    WaitReason,
    format_generation,
)

__all__ = ["State", "apply_event", "reducer", "error_key", "same_error"]


def error_key(error: ErrorInfo | None) -> tuple[str, str] | None:
    """Errors are the same when type and message are: each layer that re-raises an
    exception records its own traceback."""
    return None if error is None else (error.type, error.message)


def same_error(a: ErrorInfo, b: ErrorInfo) -> bool:
    return (a.type, a.message) == (b.type, b.message)


class State:
    """The whole run at one position. Built by :meth:`apply`-ing events in order.

    Treat a state returned by :meth:`Replay.state_at` as read-only; the accessors return
    immutable views. Internals are mutable only so that applying an event is cheap.
    """

    __slots__ = (
        "_barriers",
        "_cancels",
        "_nodes",
        "_reader_counts",
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
        self._nodes: dict[str, NodeRecord] = {}  # in registration order
        self.queue: list[str] = []
        self._barriers: dict[tuple[str, int], BarrierRecord] = {}
        self._reader_counts: dict[tuple[str, int], int] = {}  # from the graph; never mutated
        self._streams: dict[tuple[str, int], StreamView] = {}
        self._solutions: dict[str, tuple[str, ...]] = {}
        self._cancels: dict[str, tuple[str, ...]] = {}
        self._tasks: dict[int, TaskRecord] = {}
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
        new._reader_counts = self._reader_counts
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
        apply_event(self, event)

    def _node(self, node_id: str) -> NodeRecord:
        node = self._nodes.get(node_id)
        if node is None:
            node = self._nodes[node_id] = NodeRecord(node_id)
        return node

    def _register(self, info: NodeInfo) -> None:
        node = self._nodes.get(info.node_id)
        if node is None:
            self._nodes[info.node_id] = NodeRecord(info.node_id, info.label, info.kind)
        else:
            node.label, node.kind = info.label, info.kind

    def _set_status(self, change: StatusChange, seq: int) -> None:
        node = self._node(change.node_id)
        if change.old is not None and change.new == node.status:
            return  # an explicit change to the status it has (an upgraded 1.x trace)
        node.status = change.new
        if change.run_level is not None:  # the run level of the last park, as the engine keeps it
            node.run_level = change.run_level
        node.stalled_port = change.port if change.new == "stalled" else None
        node.last_seq = seq

    def _on_flow_started(self, e: FlowStarted) -> None:
        self.graph = e.graph
        readers: dict[tuple[str, int], int] = {}
        for info in e.graph.nodes:
            self._register(info)
            for p in info.inputs:
                if p.producer is not None:
                    key = (p.producer, 1 if p.min_run_level >= 1 else 0)
                    readers[key] = readers.get(key, 0) + 1
        self._reader_counts = readers

    def _on_flow_finished(self, e: FlowFinished) -> None:
        self.outcome = e.outcome
        self.flow_error = e.error
        if e.error is not None and e.outcome in NORMAL_OUTCOMES:
            # the loop saw the limit's exception end its root task; it was no error
            key = error_key(e.error)
            self.errors = [
                v
                for v in self.errors
                if v.where not in ("task", "loop") or error_key(v.error) != key
            ]
        elif e.error is not None and not any(same_error(v.error, e.error) for v in self.errors):
            self.errors.append(ErrorView(e.seq, e.node_id, e.generation, e.error, "flow"))

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
        level = 0 if e.run_level == 0 else 1
        if level == 0:
            node.output = e.values
            node.output_generation = e.generation
            node.output_seq = e.seq
        else:
            node.item = e.values
            node.item_generation = e.generation
            node.item_seq = e.seq
        # the new data's read barrier: every reader at this run level still to read it
        key = (e.node_id, level)
        readers = self._reader_counts.get(key, 0)
        if readers or e.pending_readers or key in self._barriers:
            self._barriers[key] = BarrierRecord(e.generation, readers, (), e.pending_readers)

    def _on_errored(self, e: NodeErrored) -> None:
        node = self._node(e.node_id)
        node.error = e.error
        node.error_seq = e.seq
        node.last_seq = e.seq
        self.errors.append(ErrorView(e.seq, e.node_id, e.generation, e.error, e.phase))

    def _on_deadlock(self, e: DeadlockDetected) -> None:
        self.deadlock = e.waiting

    def _countdown(
        self, node_id: str, level: int, reader: str, generation: Generation, remaining: int
    ) -> None:
        key = (node_id, level)
        old = self._barriers.get(key)
        if old is not None and old.generation == generation:
            done = (*old.readers_done, reader)
            unread = old.overwritten_unread
        else:
            done, unread = (reader,), 0
        self._barriers[key] = BarrierRecord(generation, remaining, done, unread)

    def _on_countdown(self, e: BarrierCountdown) -> None:
        self._countdown(
            e.node_id, 0 if e.run_level == 0 else 1, e.reader, e.generation, e.remaining
        )

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
        if e.remaining is not None:  # the item's read barrier (1.x: a BarrierCountdown)
            self._countdown(e.producer, 1, e.consumer, e.generation, e.remaining)

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
        self._tasks[e.task_id] = TaskRecord(e.name, e.node_id, "ready", "")

    def _task_state(self, task_id: int, state: str, detail: str) -> None:
        old = self._tasks.get(task_id)
        if old is not None:
            self._tasks[task_id] = TaskRecord(old.name, old.node_id, state, detail)

    def _on_task_finished(self, e: TaskFinished) -> None:
        self._task_state(e.task_id, "finished", e.outcome)
        if e.error is not None and e.outcome == "failed":
            task = self._tasks.get(e.task_id)
            node_id = task.node_id if task is not None else None
            if not any(same_error(v.error, e.error) for v in self.errors):
                self.errors.append(ErrorView(e.seq, node_id, None, e.error, "task"))

    def _on_sleep_began(self, e: SleepBegan) -> None:
        how = "sleep without end" if e.duration is None else f"sleep {e.duration:g}s"
        self._task_state(e.task_id, "sleeping", how)

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
            and not any(same_error(v.error, e.error) for v in self.errors)
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
        """Every producer's read barrier, per run level: who still has to read what."""
        return [
            BarrierView(
                k[0], k[1], b.generation, b.remaining, b.readers_done, False, b.overwritten_unread
            )
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
        producer), a scheduled solution not yet run (demanded node → leaves still to
        run), a cancellation not yet delivered (consumer → producer), and a detected
        deadlock. (A writer never waits for its readers in this engine: schema 2.0
        records how many had not read, ``DataEmitted.pending_readers``.)
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


#: What each event does to a state besides the statuses and the queue (which every
#: event may imply: :func:`apply_event` asks :mod:`flowtrace.implied`).
_HANDLERS: dict[type[Event], Callable[[State, Any], None]] = {
    FlowStarted: State._on_flow_started,
    FlowFinished: State._on_flow_finished,
    SolutionFound: State._on_solution,
    NodeStarted: State._on_started,
    NodeFinished: State._on_finished,
    InputsGathered: State._on_gathered,
    DataEmitted: State._on_emitted,
    NodeErrored: State._on_errored,
    DeadlockDetected: State._on_deadlock,
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

assert NodeStatusChanged not in _HANDLERS  # statuses come only through flowtrace.implied


def _reducer(cls: type[Event]) -> Callable[[State, Event], None] | None:
    """The function that applies an event of class ``cls`` (``None``: it changes
    nothing but the position): its handler, then what :mod:`flowtrace.implied` derives
    from it (asked only for the classes it names). ``state.seq`` is the caller's."""
    base = EVENT_TYPES[cls.kind] if 0 <= cls.kind < len(EVENT_TYPES) else cls  # a subclass
    handler = _HANDLERS.get(cls) or _HANDLERS.get(base)
    status = base in STATUS_KINDS
    put = base in QUEUE_PUT_KINDS
    get = base in QUEUE_GET_KINDS
    if not (status or put or get):
        return handler

    def reduce(state: State, e: Event) -> None:
        if handler is not None:
            handler(state, e)
        if status:
            change = status_change(e)
            if change is not None:
                state._set_status(change, e.seq)
        if put:
            p = queue_put(e)
            if p is not None and p.added and p.node_id not in state.queue:
                state.queue.append(p.node_id)
        if get:
            head = queue_get(e)
            if head is not None and head in state.queue:
                state.queue.remove(head)

    return reduce


_REDUCERS: dict[type[Event], Callable[[State, Event], None] | None] = {}


def reducer(cls: type[Event]) -> Callable[[State, Event], None] | None:
    """The (cached) function applying an event of class ``cls`` to a state, ``None``
    when such an event changes nothing but the position (``state.seq``, which the
    caller sets)."""
    try:
        return _REDUCERS[cls]
    except KeyError:
        fn = _REDUCERS[cls] = _reducer(cls)
        return fn


def apply_event(state: State, e: Event) -> None:
    """Advance ``state`` by one event: its own handler, then the status change and the
    resolution-queue put or get it is or implies (:mod:`flowtrace.implied`)."""
    fn = reducer(type(e))
    if fn is not None:
        fn(state, e)
    state.seq = e.seq
