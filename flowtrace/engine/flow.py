"""The flow engine: runs a graph of finalized nodes on a flowtrace event loop.

Every node has one persistent task (created when the node first runs). A run is a
*demand-driven* schedule (compatibility §4): putting a node on the resolution queue
demands it; solving it (``resolve.solve``) finds the nodes that must run first — the
leaves of its stale subgraph, cycles broken by defaults — and those are resumed. When
a node stores a result (or a stream item) its consumers are put on the queue.

The scheduler here is not a task: the queue is drained synchronously at the points
where it can change (a node parks, stalls or ends, a run starts), so a scheduling
decision costs no extra task switch and happens in a fixed order. Every structure that
can reach the schedule is ordered (lists, deques, insertion-ordered dicts) and every
lookup is O(1): the running task carries its node, each node caches its generation,
and the queue membership is a flag on the node.

A run ends, and always emits ``FlowFinished`` last, when:

* nothing is queued, no node is running, every node has been visited and no task a
  node spawned is still alive → completed;
* a node raises → its exception, unchanged, out of ``run_until_complete`` (with
  ``terminate_on_node_error=False`` the rest of the flow runs first and the run then
  raises :class:`NodeExecutionError`);
* a node reaches its generation limit → :class:`TerminateLimitReached`;
* stream consumers still wait but nothing can wake them, or every running node waits
  on something nobody will provide → :class:`~flowtrace.engine.loop.DeadlockError`
  naming each waiting node and what it waits for;
* ``KeyboardInterrupt`` / ``exit()``.

Differences from Flowno are listed in docs/DESIGN.md §12.2.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import time
import types
import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any

from flowtrace.codec import DEFAULT_CODEC, JsonValue, ValueCodec, exception_message
from flowtrace.engine import gcpolicy
from flowtrace.engine.commands import Command
from flowtrace.engine.generation import Generation, cmp_generation, inc_generation
from flowtrace.engine.loop import (
    DEFAULT_DEADLOCK_TIMEOUT,
    DeadlockError,
    EventLoop,
    current_event_loop,
    error_info,
)
from flowtrace.engine.node import (
    Constant,
    DraftNode,
    FinalizedInputPort,
    FinalizedNode,
    MissingDefaultError,
    SuperNode,
)
from flowtrace.engine.resolve import (
    Solution,
    component_firsts,
    condensed_tree,
    port_is_stale,
    solve,
    source_starts,
)
from flowtrace.engine.streams import (
    _MISSING,
    ChunkLog,
    Connection,
    Stream,
    StreamCancelled,
    StreamWaitCommand,
)
from flowtrace.engine.tasks import Task, TaskState
from flowtrace.events import (
    BarrierCountdown,
    CycleBreak,
    DataEmitted,
    DeadlockDetected,
    ErrorPhase,
    FlowFinished,
    FlowOutcome,
    FlowStarted,
    GenerationLimitReached,
    GraphInfo,
    InputRead,
    InputsGathered,
    NodeErrored,
    NodeFinished,
    NodeInfo,
    NodeStarted,
    NodeStatus,
    NodeStatusChanged,
    NodeVisited,
    PortInfo,
    QueueReason,
    ResolutionQueuePut,
    SolutionFound,
    StreamCancelRequested,
    StreamEnded,
    StreamItemConsumed,
    StreamResumed,
    StreamStalled,
    VisitAction,
    WaitInfo,
)
from flowtrace.events import StreamCancelled as StreamCancelledEvent
from flowtrace.instrument import Bus, active_instruments, new_run_id

__all__ = [
    "Flow",
    "FlowEventLoop",
    "NodeStateView",
    "NodeTaskStatus",
    "NodeExecutionError",
    "TerminateLimitReached",
    "current_flow",
    "current_node",
    "current_context",
    "flow_for_run",
]

_K_STATUS = NodeStatusChanged.kind
_K_PUT = ResolutionQueuePut.kind
_K_SOLUTION = SolutionFound.kind
_K_VISITED = NodeVisited.kind
_K_STARTED = NodeStarted.kind
_K_FINISHED = NodeFinished.kind
_K_GATHERED = InputsGathered.kind
_K_DATA = DataEmitted.kind
_K_LIMIT = GenerationLimitReached.kind
_K_ERRORED = NodeErrored.kind
_K_BCOUNT = BarrierCountdown.kind
_K_CONSUMED = StreamItemConsumed.kind
_K_STALLED = StreamStalled.kind
_K_RESUMED = StreamResumed.kind
_K_ENDED = StreamEnded.kind
_K_CANCEL_REQ = StreamCancelRequested.kind
_K_CANCELLED = StreamCancelledEvent.kind

_NOLIMIT: Any = object()
_NO_CONNS: dict[int, Connection] = {}


# --------------------------------------------------------------------------- errors


class TerminateLimitReached(Exception):
    """A node reached its generation limit (``stop_at_node_generation``)."""

    def __init__(
        self,
        node_id: str | None = None,
        generation: Generation = None,
        limit: tuple[int, ...] | None = None,
    ) -> None:
        if node_id is None:
            super().__init__("generation limit reached")
        else:
            super().__init__(f"node {node_id!r} reached generation {generation} (limit {limit})")
        self.node_id = node_id
        self.generation = generation
        self.limit = limit


class NodeExecutionError(Exception):
    """A node failed while the flow was asked to keep going
    (``terminate_on_node_error=False``), or a stream's producer failed under a
    reader. ``__cause__`` is the node's own exception; ``errors`` lists every failure
    of the run as ``(node_id, generation, exception)``."""

    def __init__(
        self,
        node_id: str,
        generation: Generation,
        error: BaseException,
        errors: list[tuple[str, Generation, BaseException]] | None = None,
    ) -> None:
        super().__init__(
            f"node {node_id!r} failed at generation {generation}: "
            f"{type(error).__name__}: {exception_message(error)}"
        )
        self.node_id = node_id
        self.generation = generation
        self.error = error
        self.errors = errors if errors is not None else [(node_id, generation, error)]


class NodeTaskStatus:
    """Flowno's status classes, for code that inspects ``flow.node_tasks``. The
    engine itself uses the strings ``waiting``, ``queued``, ``executing``, ``stalled``
    and ``error`` (the ``status`` attribute of each class)."""

    @dataclass(frozen=True)
    class WaitingForStartNextGeneration:
        run_level: int = -1
        status = "waiting"

    @dataclass(frozen=True)
    class Queued:
        status = "queued"

    @dataclass(frozen=True)
    class Executing:
        status = "executing"

    @dataclass(frozen=True)
    class Stalled:
        stalling_input: Any = None
        status = "stalled"

    @dataclass(frozen=True)
    class Error:
        status = "error"

    @staticmethod
    def of(node: FinalizedNode) -> Any:
        rt = node._rt
        if rt is None:
            return NodeTaskStatus.WaitingForStartNextGeneration(-1)
        status = rt.status
        if status == "waiting":
            return NodeTaskStatus.WaitingForStartNextGeneration(rt.run_level)
        if status == "queued":
            return NodeTaskStatus.Queued()
        if status == "executing":
            return NodeTaskStatus.Executing()
        if status == "stalled":
            return NodeTaskStatus.Stalled(node.input(rt.stalled_port))
        return NodeTaskStatus.Error()


@dataclass(frozen=True, slots=True)
class NodeStateView:
    """A node's final state as the engine sees it (what a replayed trace must match):
    status string, generation, run level of its last park, and its newest complete
    result encoded with the run's codec."""

    node_id: str
    status: NodeStatus
    generation: Generation
    run_level: int
    data: JsonValue


# --------------------------------------------------------------------------- context

_current_flow: contextvars.ContextVar[Flow | None] = contextvars.ContextVar(
    "flowtrace_flow", default=None
)
_flows_by_run: weakref.WeakValueDictionary[str, Flow] = weakref.WeakValueDictionary()


def current_flow() -> Flow | None:
    """The flow running in this context (``None`` outside a run; reset on every end)."""
    return _current_flow.get()


def current_node() -> FinalizedNode | None:
    """The node whose task is executing right now (``None`` outside nodes and inside
    tasks a node spawned). O(1): the running task carries its node."""
    if _current_flow.get() is None:
        return None
    loop = current_event_loop()
    if loop is None or loop.running_task is None:
        return None
    found: FinalizedNode | None = loop.running_task.node
    return found


def current_context() -> Any:
    """``context_factory(current_node())`` of the running flow (called each time)."""
    flow = _current_flow.get()
    if flow is None:
        raise RuntimeError("current_context() called outside of a flow")
    here = current_node()
    if here is None:
        raise RuntimeError("current_context() called outside of a node")
    factory = flow._context_factory
    if factory is None:
        raise RuntimeError("No context factory provided to run_until_complete()")
    return factory(here)


def flow_for_run(run_id: str) -> Flow | None:
    """The flow that ran (or runs) ``run_id`` while it is alive (for adapters)."""
    return _flows_by_run.get(run_id)


# --------------------------------------------------------------------------- commands


class ParkCommand(Command):
    """A node task waits to be resumed for its next generation (or next item)."""

    __slots__ = ("flow", "node", "run_level")

    def __init__(self, flow: Flow, node: FinalizedNode, run_level: int) -> None:
        self.flow = flow
        self.node = node
        self.run_level = run_level


class WaitFlowEndCommand(Command):
    """The flow's root task waits for the run to end."""

    __slots__ = ("flow",)

    def __init__(self, flow: Flow) -> None:
        self.flow = flow


@types.coroutine
def _yield(command: Command) -> Generator[Any, Any, Any]:
    return (yield command)


def _handle_park(loop: EventLoop, task: Task, cmd: ParkCommand) -> None:
    flow = cmd.flow
    node = cmd.node
    rt = node._rt
    rt.run_level = cmd.run_level
    # Reported already: a park at run level 0 by the NodeFinished(completed) before
    # it, at run level 1 by the item's DataEmitted(parked=True) (schema 2.0).
    rt.status = "waiting"
    flow._active -= 1
    task.waiting_on = "its next generation"
    if cmd.run_level == 0 and rt.renotify:
        # Producers that told this node of new data while it was running: look again
        # now that the run is over (a notification is never lost).
        notifiers, rt.renotify = rt.renotify, ()
        for producer in notifiers:
            flow._put(node, producer, "consumer")
    flow._request_drain()


def _handle_wait_end(loop: EventLoop, task: Task, cmd: WaitFlowEndCommand) -> None:
    flow = cmd.flow
    if flow._done:
        loop.make_ready(task, "done")
    elif flow._queue:
        loop.make_ready(task, "drain")
    else:
        flow._root_parked = True
        loop.park(task, None, "the flow's nodes")


def _handle_stream_wait(loop: EventLoop, task: Task, cmd: StreamWaitCommand) -> None:
    stream = cmd.stream
    flow = stream._flow
    flow._stall(task, stream)


EventLoop.register_handler(ParkCommand, _handle_park)
EventLoop.register_handler(WaitFlowEndCommand, _handle_wait_end)
EventLoop.register_handler(StreamWaitCommand, _handle_stream_wait)


def _not_a_tuple(node: FinalizedNode, verb: str, value: Any) -> TypeError:
    """The error for a multi-output node whose result or item is not one value per
    output (``verb``: ``return`` or ``yield``)."""
    plural = "a tuple" if verb == "return" else "tuples"
    return TypeError(
        f"{node.node_id} has multiple outputs and must {verb} {plural} "
        f"(one value per output), got {type(value).__name__}: {value!r}"
    )


class FlowEventLoop(EventLoop):
    """The loop a :class:`Flow` runs on: knows its flow, counts node tasks, and names
    nodes in deadlock reports."""

    def __init__(
        self,
        flow: Flow,
        *,
        virtual_time: bool = False,
        deadlock_timeout: float | None = DEFAULT_DEADLOCK_TIMEOUT,
    ) -> None:
        super().__init__(virtual_time=virtual_time, deadlock_timeout=deadlock_timeout)
        self.flow = flow

    def on_task_finished(self, task: Task) -> None:
        flow = self.flow
        if task.node is not None:
            flow._node_tasks_alive -= 1
            if task.state is TaskState.FAILED and task.exception is not None:
                flow._node_task_died(task.node, task.exception)
        elif flow._awaiting_tasks and flow._other_tasks_alive() == 0:
            flow._awaiting_tasks = False
            flow._request_drain()

    def deadlock_error(self, stalled_for: float | None = None) -> DeadlockError:
        return self.flow._deadlock_error(self.blocked_tasks(), stalled_for)


# --------------------------------------------------------------------------- runtime


class _Runtime:
    """Per-run engine state of one node (kept off the user-visible node object).

    Defaults are class attributes, so creating one allocates almost nothing; lists are
    created on first use (a shared empty tuple until then)."""

    status = "waiting"
    run_level = -1
    task: Task | None = None
    stalled_port = -1
    defaulted: list[int] | tuple[()] = ()
    pending_cancels: list[Stream[Any]] | tuple[()] = ()
    #: Cancellations thrown at an offloaded call the producer waited on (offload.py).
    cancels_thrown: list[Stream[Any]] | tuple[()] = ()
    streams: list[Stream[Any]] | tuple[()] = ()
    queued = False
    q_demand = False
    q_notifiers: list[FinalizedNode] | tuple[()] = ()
    renotify: list[FinalizedNode] | tuple[()] = ()
    visited = False
    eval_gen: Generation = None
    in_eval = False
    limit: Any = _NOLIMIT
    conns: dict[int, Connection] = _NO_CONNS
    barrier0 = 0
    barrier1 = 0
    mono_readers = 0
    stream_readers = 0
    error: BaseException | None = None


class _Accumulator:
    """Builds a streaming node's final value from its items when the generator does
    not give one: per output port, ``str``/``bytes``/``list``/``tuple`` concatenate and
    numbers add. A port whose items cannot be combined (mixed or other types) leaves
    the whole value undefined (``None``) — consumers then get a clear error instead of
    Flowno's "restart from the next item"."""

    __slots__ = ("failed", "values")

    def __init__(self) -> None:
        self.values: list[Any] | None = None
        self.failed = False

    def add(self, data: Any) -> None:
        if self.failed:
            return
        if not isinstance(data, tuple):
            self.failed = True
            return
        if self.values is None:
            self.values = list(data)
            return
        values = self.values
        if len(values) != len(data):
            self.failed = True
            return
        for i, item in enumerate(data):
            combined = _combine(values[i], item)
            if combined is _MISSING:
                self.failed = True
                return
            values[i] = combined

    def result(self) -> tuple[Any, ...] | None:
        if self.failed or self.values is None:
            return None
        return tuple(self.values)


_NUMBER = (int, float, complex)


def _combine(a: Any, b: Any) -> Any:
    if isinstance(a, bool) or isinstance(b, bool):
        return _MISSING
    if isinstance(a, _NUMBER) and isinstance(b, _NUMBER):
        return a + b
    for kind in (str, bytes, list, tuple):
        if isinstance(a, kind) and isinstance(b, kind):
            combined: Any = a + b  # type: ignore[operator]
            return combined
    return _MISSING


# --------------------------------------------------------------------------- the flow

_flow_counter = itertools.count()


class Flow:
    """A graph of finalized nodes and the engine that runs it.

    Build one with :class:`~flowtrace.engine.hdl.FlowHDL` (which owns a flow), or
    directly: ``flow.add_node(SomeNode()._blank_finalized())``. A flow can run any
    number of times; every run after the first starts from empty data stores (user
    state of stateful nodes persists, as it lives on the node).
    """

    _start_from_sources = True

    def __init__(
        self,
        is_finalized: bool = True,
        *,
        virtual_time: bool = False,
        name: str | None = None,
        deadlock_timeout: float | None = DEFAULT_DEADLOCK_TIMEOUT,
    ) -> None:
        self._number = next(_flow_counter)
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ValueError(f"a flow's name must be a non-empty string, not {name!r}")
        #: ``name`` when given (it names the flow's runs in traces), else ``flow-N``.
        self.flow_id = name if name is not None else f"flow-{self._number}"
        self._nodes: list[FinalizedNode] = []
        self._by_id: dict[str, FinalizedNode] = {}
        self._label_counts: dict[str, int] = {}
        #: ``deadlock_timeout`` (the watchdog, see :mod:`flowtrace.engine.loop`) is an
        #: attribute of this loop; change it between runs if needed.
        self.event_loop = FlowEventLoop(
            self, virtual_time=virtual_time, deadlock_timeout=deadlock_timeout
        )
        self._bus: Bus = Bus("idle")
        self._queue: deque[FinalizedNode] = deque()
        self._running = False
        self._runs = 0
        self._context_factory: Callable[[FinalizedNode], Any] | None = None
        self._starts_cache: list[FinalizedNode] | None = None
        self._froze = False
        #: The twin of each draft given to add_node(s), by id(draft) (kept alive by the
        #: twin): adding a draft again, or a draft fed by it, reuses the twin.
        self._twin_of: dict[int, FinalizedNode] = {}
        self._reset_run_state()

    def _reset_run_state(self) -> None:
        self._queue.clear()
        self._active = 0
        self._stalled = 0
        self._node_tasks_alive = 0
        self._draining = False
        self._done = False
        self._completed = False
        self._root_parked = False
        self._awaiting_tasks = False
        self._root_task: Task | None = None
        self._aborted: BaseException | None = None
        self._abort_node: str | None = None
        self._abort_gen: Generation = None
        self._terminate_on_error = True
        self._errors: list[tuple[str, Generation, BaseException]] = []
        self._unvisited_cursor = 0

    def __repr__(self) -> str:
        return f"<Flow#{self._number}>"

    # -- building -----------------------------------------------------------------------

    def add_node(
        self,
        node: FinalizedNode | DraftNode[Any],
        name: str | None = None,
        _hooks: list[Any] | None = None,
    ) -> None:
        """Register a finalized node (idempotent). A draft is finalized on its own
        first (no connections to other drafts)."""
        if isinstance(node, DraftNode):
            self.add_nodes([node])
            return
        if node._flow is self:
            return
        if node._flow is not None:
            raise ValueError(f"{node!r} already belongs to {node._flow!r}")
        node.__dict__["_flow"] = self
        node_id = name if name is not None and name not in self._by_id else None
        if node_id is None:
            label = type(node._draft_node)._label or type(node._draft_node).__name__
            while True:
                k = self._label_counts.get(label, 0)
                self._label_counts[label] = k + 1
                candidate = f"{label}#{k}"
                if candidate not in self._by_id:
                    node_id = candidate
                    break
        node.__dict__["node_id"] = node_id
        self._by_id[node_id] = node
        self._nodes.append(node)
        self._starts_cache = None
        hooks = _hooks if _hooks is not None else self.registration_hooks()
        for hook in hooks:
            hook(self, node)

    @staticmethod
    def registration_hooks() -> list[Any]:
        """Flowno-style instruments active now want ``on_node_registered`` at once."""
        hooks = []
        for inst in active_instruments():
            hook = getattr(inst, "_registered_live", None)
            if hook is not None:
                hooks.append(hook)
        return hooks

    def add_nodes(self, nodes: Iterable[FinalizedNode | DraftNode[Any]]) -> None:
        """Register several nodes. Drafts are finalized together (their connections
        among themselves are kept), as a FlowHDL block would — except that an input
        neither connected nor defaulted is accepted, as Flowno's ``add_node`` accepts
        it: running the node then fails with a ``MissingDefaultError`` naming the node
        and port. A draft added again, or fed by a draft already added, reuses the
        twin; a connection made between added drafts afterwards reaches the flow when it
        next runs (:meth:`_follow_draft_wiring`)."""
        items = list(nodes)
        twin_of = self._twin_of
        drafts = [n for n in items if isinstance(n, DraftNode) and id(n) not in twin_of]
        if drafts:
            from flowtrace.engine.hdl import FlowHDLView

            def register(fin: FinalizedNode) -> None:
                self.add_node(fin)
                twin_of[id(fin._draft_node)] = fin

            view = FlowHDLView(register)
            view._allow_unconnected = True
            view._known_twins = twin_of
            view._drafts = drafts
            view._finalize()
        for n in items:
            if isinstance(n, FinalizedNode):
                self.add_node(n)

    def _follow_draft_wiring(self) -> None:
        """Wire twins as their drafts were connected after ``add_node(s)`` (Flowno's
        ``Flow`` holds the drafts themselves, so ``a.output(0).connect(b.input(0))``
        after adding both counts). Additive: an input of a twin that is not connected
        gets the connection its draft has, when the producer's draft is in this flow
        too; nothing connected is ever changed. O(ports) per run of such a flow."""
        from flowtrace.engine.hdl import FlowHDLView
        from flowtrace.engine.node import DraftOutputPortRef, FinalizedOutputPortRef, _port_spec

        twin_of = self._twin_of
        changed = False
        for twin in twin_of.values():
            draft = twin._draft_node
            for index in sorted(draft._input_ports):
                fin_port = twin._input_ports.get(index)
                if fin_port is not None and fin_port.connected_output is not None:
                    continue
                src = draft._input_ports[index].connected_output
                if not isinstance(src, DraftOutputPortRef):
                    continue
                producer = twin_of.get(id(src.node))
                if producer is None or producer._flow is not self:
                    continue
                ref = FinalizedOutputPortRef(producer, src.port_index)
                if fin_port is None:
                    level, default, name = _port_spec(type(draft), index)
                    twin._input_ports[index] = FinalizedInputPort(index, ref, level, default, name)
                else:
                    fin_port.connected_output = ref
                changed = True
        if changed:
            view = FlowHDLView()
            view._known_twins = twin_of
            view._rewire_outputs([t._draft_node for t in twin_of.values()], {})
            self._starts_cache = None

    @property
    def nodes(self) -> list[FinalizedNode]:
        """Registered nodes in registration order."""
        return list(self._nodes)

    def node_by_id(self, node_id: str) -> FinalizedNode | None:
        return self._by_id.get(node_id)

    @property
    def node_tasks(self) -> dict[FinalizedNode, tuple[Task | None, Any]]:
        """Flowno compatibility: node → (task, status object)."""
        return {
            n: (n._rt.task if n._rt is not None else None, NodeTaskStatus.of(n))
            for n in self._nodes
        }

    @property
    def unvisited(self) -> list[FinalizedNode]:
        """Nodes the last (or current) run has not visited yet."""
        return [n for n in self._nodes if n._rt is None or not n._rt.visited]

    # -- solver access (tests, tools) -------------------------------------------------

    def _stale_edges(self, node: FinalizedNode) -> list[tuple[int, FinalizedNode]]:
        gen = node._store.gen
        rt = node._rt
        ports = node._input_ports
        if rt is not None:
            if rt.status == "stalled":
                port = ports[rt.stalled_port]
                src = port.connected_output
                if src is not None and port_is_stale(port, gen):
                    return [(rt.stalled_port, src.node)]
                return []
            excluded = rt.defaulted
        else:
            excluded = []
        out: list[tuple[int, FinalizedNode]] = []
        for index, port in ports.items():
            src = port.connected_output
            if src is None:
                continue
            pgen = src.node._store.gen
            if (
                port.minimum_run_level == 0
                and pgen is not None
                and len(pgen) == 1
                and (gen is None or len(gen) == 1)
            ):
                # The common case, inlined: complete results compared by their index.
                stale = gen is not None and pgen[0] + port.stitch_level_0 <= gen[0]
            else:
                stale = port_is_stale(port, gen)
            if stale and index not in excluded:
                out.append((index, src.node))
        return out

    def _find_node_solution(self, node: FinalizedNode) -> list[FinalizedNode]:
        """The nodes that must run so ``node`` can progress (compatibility §4)."""
        if not self._stale_edges(node):
            return [node]
        return solve(node, self._stale_edges).leaves

    def _condensed_tree(self, node: FinalizedNode) -> SuperNode:
        return condensed_tree(node, self._stale_edges)

    # -- state for replay ----------------------------------------------------------------

    def node_states(self) -> dict[str, NodeStateView]:
        """Per node id: status, generation, last park run level and newest complete
        result (encoded with the last run's codec). A replayed trace of the last run
        must reach the same values."""
        codec: ValueCodec = self._bus.codec if self._runs else DEFAULT_CODEC
        out: dict[str, NodeStateView] = {}
        for n in self._nodes:
            rt = n._rt
            store = n._store
            data = store.last_data
            encoded: JsonValue
            if data is None:
                encoded = None
            elif isinstance(data, tuple):
                encoded = [codec.encode(v) for v in data]
            else:
                encoded = codec.encode(data)
            out[n.node_id] = NodeStateView(
                n.node_id,
                rt.status if rt is not None else "waiting",
                store.gen,
                rt.run_level if rt is not None else -1,
                encoded,
            )
        return out

    # -- running ----------------------------------------------------------------------

    def run_until_complete(
        self,
        stop_at_node_generation: Any = (),
        terminate_on_node_error: bool = True,
        _debug_max_wait_time: float | None = None,
        context_factory: Callable[[FinalizedNode], Any] | None = None,
        *,
        instruments: list[Any] | tuple[Any, ...] = (),
        virtual_time: bool | None = None,
        executors: Any = None,
    ) -> None:
        """Run until the flow is done (see the module docstring for how runs end).

        ``stop_at_node_generation``: a generation tuple applied to every node, or a
        dict ``{node: generation}`` (``()`` = no limit, ``None`` = stop at the first
        result). ``terminate_on_node_error``: ``True`` (default) aborts the run on the
        first node error and re-raises it unchanged; ``False`` lets independent nodes
        finish, then raises :class:`NodeExecutionError`. ``instruments`` are attached
        to this run only; ``virtual_time`` overrides the flow's clock mode for it.
        ``executors``: where offloaded node bodies and ``offload()`` calls run, a dict
        ``{name: executor}`` or one executor (``default``) — see docs/offload.md.
        """
        offload = self._open_offload(executors)
        saved = self._begin_run(
            stop_at_node_generation,
            terminate_on_node_error,
            context_factory,
            instruments,
            virtual_time,
        )
        outcome: FlowOutcome = "completed"
        error: BaseException | None = None
        try:
            self.event_loop.run_until_complete(
                self._root(),
                join=True,
                wait_for_spawned_tasks=False,
                _debug_max_wait_time=_debug_max_wait_time,
                bus=self._bus,
            )
            if not self._completed:
                outcome = "exit"
        except BaseException as exc:
            outcome, error = self._outcome_of(exc), exc
            raise
        finally:
            self._close_offload(offload)
            self._end_run(outcome, error, saved)

    async def run_async(
        self,
        stop_at_node_generation: Any = (),
        terminate_on_node_error: bool = True,
        context_factory: Callable[[FinalizedNode], Any] | None = None,
        *,
        instruments: list[Any] | tuple[Any, ...] = (),
        virtual_time: bool | None = None,
        executors: Any = None,
    ) -> None:
        """:meth:`run_until_complete` from inside a running asyncio loop: nodes may
        await asyncio awaitables, and asyncio keeps running while the flow waits."""
        offload = self._open_offload(executors)
        saved = self._begin_run(
            stop_at_node_generation,
            terminate_on_node_error,
            context_factory,
            instruments,
            virtual_time,
        )
        outcome: FlowOutcome = "completed"
        error: BaseException | None = None
        try:
            await self.event_loop.run_until_complete_async(
                self._root(), join=True, wait_for_spawned_tasks=False, bus=self._bus
            )
            if not self._completed:
                outcome = "exit"
        except BaseException as exc:
            outcome, error = self._outcome_of(exc), exc
            raise
        finally:
            self._close_offload(offload)
            self._end_run(outcome, error, saved)

    def _open_offload(self, executors: Any) -> Any:
        """This run's offload session (:mod:`flowtrace.engine.offload`): cheap, as
        executors and wake-up sockets are made only when a call needs them."""
        from flowtrace.engine.offload import OffloadSession

        if self._running:
            raise RuntimeError(f"{self!r} is already running")
        session = OffloadSession(self, executors)
        self._offload_session: OffloadSession | None = session
        return session

    def _close_offload(self, session: Any) -> None:
        """Pending offloaded calls are cancelled and reported before ``FlowFinished``."""
        session.close()
        self._offload_session = None

    def _outcome_of(self, exc: BaseException) -> FlowOutcome:
        if isinstance(exc, TerminateLimitReached):
            return "limit"
        if isinstance(exc, DeadlockError):
            return "deadlock"
        if isinstance(exc, KeyboardInterrupt | SystemExit | asyncio.CancelledError):
            return "interrupted"  # CancelledError: asyncio.run's answer to a Ctrl-C
        return "error"

    def _begin_run(
        self,
        limits: Any,
        terminate_on_node_error: bool,
        context_factory: Callable[[FinalizedNode], Any] | None,
        instruments: list[Any] | tuple[Any, ...],
        virtual_time: bool | None,
    ) -> tuple[contextvars.Token[Flow | None], bool]:
        if self._running:
            raise RuntimeError(f"{self!r} is already running")
        if self._twin_of:
            self._follow_draft_wiring()
        bus = Bus(new_run_id("flow"), active_instruments(instruments))
        self._bus = bus
        _flows_by_run[bus.run_id] = self
        self._reset_run_state()
        self._terminate_on_error = terminate_on_node_error
        self._context_factory = context_factory
        fresh_stores = self._runs > 0
        self._runs += 1
        self._prepare_nodes(fresh_stores)
        self._apply_limits(limits)
        self._running = True
        loop = self.event_loop
        saved_virtual = loop.virtual_time
        if virtual_time is not None:
            loop.virtual_time = virtual_time
        token = _current_flow.set(self)
        try:
            self._emit_start()
        except BaseException:
            self._running = False
            loop.virtual_time = saved_virtual
            _current_flow.reset(token)
            raise
        # A big graph is left out of the cyclic collector's scans while it runs (see
        # gcpolicy: flat per-node cost, and flat memory over many runs).
        self._froze = gcpolicy.run_began(len(self._nodes))
        return token, saved_virtual

    def _end_run(
        self,
        outcome: FlowOutcome,
        error: BaseException | None,
        saved: tuple[contextvars.Token[Flow | None], bool],
    ) -> None:
        token, saved_virtual = saved
        try:
            bus = self._bus
            try:
                if bus.listening[_K_FINISHED]:
                    for n in self._nodes:
                        rt = n._rt
                        if rt is not None and rt.in_eval:
                            rt.in_eval = False
                            bus.emit(NodeFinished, n.node_id, rt.eval_gen, 0, "abandoned")
            finally:  # an instrument interrupting above must not cost the run its end
                if bus.listening[FlowFinished.kind]:
                    node_id = self._abort_node if error is not None else None
                    gen = self._abort_gen if error is not None else None
                    bus.emit(
                        FlowFinished,
                        self.flow_id,
                        outcome,
                        error_info(error) if error is not None else None,
                        node_id,
                        gen,
                    )
        finally:
            self._running = False
            self.event_loop.virtual_time = saved_virtual
            _current_flow.reset(token)
            if self._froze:
                self._froze = False
                gcpolicy.run_ended(True)

    def _prepare_nodes(self, fresh_stores: bool) -> None:
        from flowtrace.engine.node import DataStore

        for n in self._nodes:
            d = n.__dict__  # engine-private attributes: skip the forwarding __setattr__
            d["_rt"] = _Runtime()
            d["_stream_conns"] = []
            d["_chunk_log"] = None
            if fresh_stores:
                d["_store"] = DataStore()
                for port in n._input_ports.values():
                    port.stitch_level_0 = 0
        for n in self._nodes:
            rt = n._rt
            if not n._input_ports:
                continue
            for index, port in n._input_ports.items():
                src = port.connected_output
                if src is None:
                    continue
                producer = src.node
                if producer._rt is None:  # a producer that was never registered
                    self.add_node(producer)
                    producer._rt = _Runtime()
                if port.minimum_run_level >= 1:
                    conn = Connection(n, index, producer, src.port_index)
                    if rt.conns is _NO_CONNS:
                        rt.conns = {}
                    rt.conns[index] = conn
                    producer._stream_conns.append(conn)
                    producer._rt.stream_readers += 1
                else:
                    producer._rt.mono_readers += 1
        for n in self._nodes:
            if n._stream_conns:
                n._chunk_log = ChunkLog(n._stream_conns)

    def _apply_limits(self, limits: Any) -> None:
        if isinstance(limits, dict):
            twins = {id(n._draft_node): n for n in self._nodes}
            for key, limit in limits.items():
                target = key if isinstance(key, FinalizedNode) else twins.get(id(key))
                if target is not None and target._rt is not None:
                    target._rt.limit = limit
            return
        if limits == ():
            return
        for n in self._nodes:
            n._rt.limit = limits

    # -- events helpers --------------------------------------------------------------

    def _emit_start(self) -> None:
        bus = self._bus
        if not bus.listening[FlowStarted.kind]:
            return
        codec = bus.codec
        infos = tuple([self._node_info(n, codec) for n in self._nodes])
        bus.emit(FlowStarted, self.flow_id, time.time_ns(), GraphInfo(infos))

    @staticmethod
    def _node_info(n: FinalizedNode, codec: ValueCodec) -> NodeInfo:
        draft_cls = type(n._draft_node)
        ports = []
        for index, port in n._input_ports.items():
            src = port.connected_output
            has_default = port.has_default
            ports.append(
                PortInfo(
                    index,
                    port.name,
                    port.minimum_run_level,
                    has_default,
                    codec.encode(port.default_value) if has_default else None,
                    src.node.node_id if src is not None else None,
                    src.port_index if src is not None else None,
                )
            )
        outputs = draft_cls._n_outputs_hint
        for i in n._connected_output_nodes:  # the highest connected output counts too
            if i >= outputs:
                outputs = i + 1
        return NodeInfo(
            n.node_id,
            draft_cls._label or draft_cls.__name__,
            "stream" if draft_cls._is_stream_func else "mono",
            draft_cls._stateful,
            isinstance(n._draft_node, Constant),
            tuple(ports),
            outputs,
        )

    def _encode_values(self, data: Any) -> tuple[JsonValue, ...]:
        encode = self._bus.codec.encode
        if isinstance(data, tuple):
            if len(data) == 1:
                return (encode(data[0]),)
            return tuple([encode(v) for v in data])
        return (encode(data),)

    def _set_status(
        self,
        node: FinalizedNode,
        new: NodeStatus,
        run_level: int | None = None,
        port: int | None = None,
    ) -> None:
        """Change a node's status and report it. Changes that another event already
        says (schema 2.0: see :mod:`flowtrace.implied`) set ``rt.status`` directly."""
        rt = node._rt
        old = rt.status
        if old == new:
            return
        rt.status = new
        bus = self._bus
        if bus.listening[_K_STATUS]:
            bus.emit(NodeStatusChanged, node.node_id, old, new, run_level, port)

    # -- the root task ------------------------------------------------------------------

    async def _root(self) -> None:
        loop = self.event_loop
        self._root_task = loop.running_task
        self._start()
        while await _yield(WaitFlowEndCommand(self)) != "done":
            self._drain()
        if self._errors:
            node_id, gen, first = self._errors[0]
            self._abort_node, self._abort_gen = node_id, gen
            raise NodeExecutionError(node_id, gen, first, list(self._errors)) from first
        self._completed = True

    def _start(self) -> None:
        for n in self._component_starts():
            self._put(n, None, "start")
        self._drain()

    def _component_starts(self) -> list[FinalizedNode]:
        """The nodes a run starts from: every source, and the first node of each
        component without one (``resolve.source_starts``; cached until a node is
        added). ``_start_from_sources = False`` (a class or instance attribute; for
        the differential tester, not an API) starts from the first node of each
        component instead, as Flowno does."""
        if self._starts_cache is None:
            if self._start_from_sources:
                self._starts_cache = source_starts(self._nodes)
            else:
                self._starts_cache = component_firsts(self._nodes)
        return self._starts_cache

    # -- the resolution queue and the scheduler -----------------------------------------

    def _put(self, node: FinalizedNode, by: FinalizedNode | None, reason: QueueReason) -> None:
        added = self._enqueue(node, by, reason)
        bus = self._bus
        if bus.listening[_K_PUT]:
            bus.emit(
                ResolutionQueuePut,
                node.node_id,
                by.node_id if by is not None else None,
                reason,
                added,
            )

    def _enqueue(self, node: FinalizedNode, by: FinalizedNode | None, reason: QueueReason) -> bool:
        """Demand ``node`` (unreported: :meth:`_put` reports it, a stall reports it as
        part of its StreamStalled); false when it was already queued."""
        rt = node._rt
        if reason == "consumer":
            notifiers = rt.q_notifiers
            if not notifiers:
                rt.q_notifiers = [by] if by is not None else ()
            elif by is not None and notifiers[-1] is not by:
                notifiers.append(by)  # repeats are harmless
        else:
            rt.q_demand = True
        added = not rt.queued
        if added:
            rt.queued = True
            self._queue.append(node)
        return added

    def _request_drain(self) -> None:
        """The queue may have work (or the run may be over): drain it now when no
        other task is ready — nothing would run before the scheduler anyway — else
        let the root task drain it after the tasks already ready (Flowno's order,
        and many puts to one node then cost one solve)."""
        if self._aborted is not None:
            return
        if self._root_parked and not self.event_loop.has_ready():
            try:
                self._drain()
            except BaseException as exc:
                self._abort(exc, None, None)
        else:
            self._wake_root("drain")

    def _wake_root(self, reason: str) -> None:
        root = self._root_task
        if self._root_parked and root is not None:
            self._root_parked = False
            self.event_loop.make_ready(root, reason)

    def _drain(self) -> None:
        if self._draining:
            return
        if self._aborted is not None:
            return
        self._draining = True
        try:
            queue = self._queue
            while True:
                while queue:
                    self._process(queue.popleft())
                if self._active or self._done or self._awaiting_tasks:
                    return
                nxt = self._next_unvisited()
                if nxt is not None:
                    nxt._rt.visited = True  # popped from "unvisited", as Flowno does
                    self._put(nxt, None, "start")
                    continue
                self._quiescent()
                return
        finally:
            self._draining = False

    def _next_unvisited(self) -> FinalizedNode | None:
        nodes = self._nodes
        i = self._unvisited_cursor
        while i < len(nodes) and nodes[i]._rt.visited:
            i += 1
        self._unvisited_cursor = i
        return nodes[i] if i < len(nodes) else None

    def _process(self, head: FinalizedNode) -> None:
        rt = head._rt
        rt.queued = False
        demand = rt.q_demand
        notifiers = rt.q_notifiers
        rt.q_demand = False
        if notifiers:
            rt.q_notifiers = ()
        bus = self._bus  # the get is reported as the SolutionFound below
        edges = self._stale_edges(head)
        if not edges:
            if bus.listening[_K_SOLUTION]:
                bus.emit(SolutionFound, head.node_id, (head.node_id,), (), ())
            if notifiers and (rt.status == "queued" or rt.status == "executing"):
                pending = rt.renotify
                if not pending:
                    rt.renotify = list(notifiers)
                else:
                    for n in notifiers:
                        if pending[-1] is not n:  # repeats of one producer collapse
                            pending.append(n)
            self._visit(head)
            return
        if not demand and self._outdated(head, edges, notifiers):
            # A consumer told of data it has already used: nothing is demanded. (Flowno
            # re-runs the producer here, the runaway of compatibility §9.)
            if bus.listening[_K_SOLUTION]:
                bus.emit(SolutionFound, head.node_id, (), (), ())
            return
        solution = self._shallow_solution(head, edges) or solve(head, self._stale_edges)
        if bus.listening[_K_SOLUTION]:
            bus.emit(
                SolutionFound,
                head.node_id,
                tuple([n.node_id for n in solution.leaves]),
                tuple([tuple([m.node_id for m in scc]) for scc in solution.sccs])
                if solution.sccs
                else (),
                tuple(
                    [
                        CycleBreak(
                            b.node.node_id,
                            tuple([m.node_id for m in b.members]),
                            tuple(b.defaulted_ports),
                        )
                        for b in solution.breaks
                    ]
                )
                if solution.breaks
                else (),
            )
        for leaf in solution.leaves:
            self._visit(leaf)

    def _shallow_solution(
        self, head: FinalizedNode, edges: list[tuple[int, FinalizedNode]]
    ) -> Solution | None:
        """The solution when every stale producer of ``head`` is itself ready (the
        common case: one step upstream, no cycle) — what the full search would return,
        without building the condensation. ``None`` when the full search is needed."""
        leaves: list[FinalizedNode] = []
        seen: dict[int, bool] = {}
        for _port, producer in edges:
            if id(producer) in seen:
                continue
            if producer is head or self._stale_edges(producer):
                return None
            seen[id(producer)] = True
            leaves.append(producer)
        return Solution(leaves)

    @staticmethod
    def _outdated(
        head: FinalizedNode, edges: list[tuple[int, FinalizedNode]], notifiers: list[FinalizedNode]
    ) -> bool:
        """True when every notifier finished its generation and every port it feeds
        into ``head`` is stale: ``head`` has already consumed what it was told of."""
        if not notifiers:
            return False
        stale_ports = [p for p, _ in edges]
        for n in notifiers:
            gen = n._store.gen
            if gen is None or len(gen) != 1:
                return False
            for index, port in head._input_ports.items():
                src = port.connected_output
                if src is not None and src.node is n and index not in stale_ports:
                    return False
        return True

    def _visit(self, leaf: FinalizedNode) -> None:
        rt = leaf._rt
        rt.visited = True
        status = rt.status
        action: VisitAction
        if rt.queued:
            action = "already_queued"
        elif status == "waiting" or status == "stalled":
            self._resume(leaf)  # reported as the node's status change to queued
            return
        elif status == "error":
            action = "error"
        else:
            action = "running"
        bus = self._bus
        if bus.listening[_K_VISITED]:
            bus.emit(NodeVisited, leaf.node_id, action)

    def _resume(self, node: FinalizedNode) -> None:
        rt = node._rt
        if rt.status == "stalled":
            self._stalled -= 1
        self._set_status(node, "queued")
        self._active += 1
        task = rt.task
        loop = self.event_loop
        if task is None:
            rt.task = loop.spawn_task(
                self._node_main(node), node.node_id, node=node, node_id=node.node_id
            )
            self._node_tasks_alive += 1
        else:
            loop.make_ready(task)

    def _quiescent(self) -> None:
        """Nothing queued or running and every node visited: finish, or report the
        stream consumers that nothing can wake."""
        if self._stalled:
            raise self._deadlock_error([], idle=False)
        if self._other_tasks_alive():
            self._awaiting_tasks = True
            return
        self._done = True
        self._wake_root("done")

    def _other_tasks_alive(self) -> int:
        return self.event_loop.living_task_count() - self._node_tasks_alive - 1

    def _abort(self, exc: BaseException, node: FinalizedNode | None, gen: Generation) -> None:
        """End the run with ``exc`` (thrown into the root task, ahead of anything else)."""
        if self._aborted is not None:
            return
        self._aborted = exc
        if node is not None:
            self._abort_node = node.node_id
            self._abort_gen = gen
        root = self._root_task
        if root is None or root is self.event_loop.running_task:
            raise exc
        self._root_parked = False
        self.event_loop.make_ready(root, None, exc, front=True)

    def _deadlock_error(
        self, blocked: list[Task], stalled_for: float | None = None, *, idle: bool = True
    ) -> DeadlockError:
        infos: list[WaitInfo] = []
        waiting: list[tuple[str, str]] = []
        for n in self._nodes:
            rt = n._rt
            if rt is None:
                continue
            if rt.status == "stalled":
                port = n._input_ports[rt.stalled_port]
                src = port.connected_output
                producer = src.node if src is not None else None
                pstatus = producer._rt.status if producer is not None else "?"
                detail = (
                    f"stalled reading input {rt.stalled_port} (`{port.name}`) from "
                    f"{producer.node_id if producer is not None else '?'} ({pstatus}"
                    + (", which nothing will resume)" if pstatus != "executing" else ")")
                )
                infos.append(
                    WaitInfo(
                        n.node_id,
                        "stalled",
                        (producer.node_id,) if producer is not None else (),
                        detail,
                    )
                )
                waiting.append((n.node_id, detail))
            elif rt.status in ("executing", "queued") and rt.task is not None:
                what = rt.task.waiting_on or "something"
                detail = f"running, blocked on {what}"
                infos.append(WaitInfo(n.node_id, rt.status, (), detail))
                waiting.append((n.node_id, detail))
        parts = [f"node {name!r} {what}" for name, what in waiting]
        for task in blocked:
            if task.node is None and task is not self._root_task:
                spawner = self._spawning_node(task)
                by = f" (spawned by node {spawner!r})" if spawner is not None else ""
                detail = f"blocked on {task.waiting_on}"
                waiting.append((task.name, f"task{by} {detail}"))
                parts.append(f"task {task.name!r}{by} {detail}")
        bus = self._bus
        if bus.listening[DeadlockDetected.kind]:
            bus.emit(DeadlockDetected, tuple(infos))
        if stalled_for is None:
            who = "nodes" if len(parts) == len(infos) else "nodes or their tasks"
            headline = f"deadlock: the flow can make no progress while {who} still wait" + (
                self.event_loop.grace_note() if idle else ""
            )
        else:
            headline = self.event_loop.deadlock_headline(stalled_for) + "; still waiting"
        return DeadlockError(
            f"{headline} ({'; '.join(parts)}). "
            "A stream consumer waits for an item its producer will never emit, or a node "
            "waits on an event, lock or queue nobody will release.",
            waiting,
        )

    def _spawning_node(self, task: Task) -> str | None:
        """The node whose task (or a task it spawned) spawned ``task``, if any."""
        tasks = self.event_loop._tasks
        parent = tasks.get(task.parent_id) if task.parent_id is not None else None
        while parent is not None:
            if parent.node is not None:
                node_id: str = parent.node.node_id
                return node_id
            parent = tasks.get(parent.parent_id) if parent.parent_id is not None else None
        return None

    # -- node tasks -------------------------------------------------------------------

    async def _node_main(self, node: FinalizedNode) -> None:
        """The node's task: one iteration per run (gather, call, store, notify, park).
        The mono path is inline (no extra coroutine per run); a streaming run is
        :meth:`_run_stream`. Returning ends the task (error, limit)."""
        park = ParkCommand(self, node, 0)
        while True:
            node._rt.status = "executing"  # reported by _start_run's NodeStarted
            started = self._start_run(node)
            if started is None:
                return
            result, eval_gen = started
            if hasattr(result, "__anext__"):
                if not await self._run_stream(node, result, eval_gen):
                    return
            else:
                try:
                    value = await result
                except BaseException as exc:
                    if not self._is_node_error(exc):
                        raise
                    self._node_failed(node, exc, "call")
                    return
                if not self._finish_mono(node, value, eval_gen):
                    return
            await _yield(park)

    def _start_run(self, node: FinalizedNode) -> tuple[Any, Generation] | None:
        """Begin a run: gather the inputs and call the user's function. Returns its
        coroutine or async generator, or ``None`` after a node error."""
        rt = node._rt
        bus = self._bus
        eval_gen = inc_generation(node._store.gen, 0)
        rt.eval_gen = eval_gen
        rt.in_eval = True
        if rt.streams:
            for old in rt.streams:
                old._done = True
            rt.streams = ()
        if bus.listening[_K_STARTED]:
            bus.emit(NodeStarted, node.node_id, eval_gen, 0)
        try:
            args, defaulted = self._gather(node, eval_gen)
        except BaseException as exc:
            if not self._is_node_error(exc):
                raise
            self._node_failed(node, exc, "gather")
            return None
        if defaulted:
            ports = node._input_ports
            for p in defaulted:
                ports[p].stitch_level_0 += 1
        rt.defaulted = defaulted
        draft = node._draft_node
        func = type(draft)._func
        try:
            result = func(*args) if func is not None else draft.call(*args)
        except BaseException as exc:
            if not self._is_node_error(exc):
                raise
            self._node_failed(node, exc, "call")
            return None
        if not (hasattr(result, "__await__") or hasattr(result, "__anext__")):
            close = getattr(result, "close", None)
            if callable(close):
                close()
            if type(draft)._original_call is not None:
                err: Exception = TypeError("Unexpected return type (must be async function)")
            else:
                err = NotImplementedError(
                    "Node must be a coroutine or an async generator: "
                    f"{type(draft).__name__}.call returned {type(result).__name__}"
                )
            self._node_failed(node, err, "call")
            return None
        return result, eval_gen

    def _finish_mono(self, node: FinalizedNode, value: Any, eval_gen: Generation) -> bool:
        """Store a coroutine's result (wrapped for a single-output node)."""
        data = self._output_data(node, value, type(node._draft_node)._wrap_single)
        if data is None:
            return self._node_failed(node, _not_a_tuple(node, "return", value), "call")
        return self._store_result(node, data, eval_gen)

    @classmethod
    def _output_data(cls, node: FinalizedNode, value: Any, single: bool) -> tuple[Any, ...] | None:
        """The data tuple a result or item is stored as: ``(value,)`` for a single-output
        node, the value as a tuple for a multi-output one (``None`` if it is not one)."""
        return (value,) if single else cls._as_output_tuple(node, value)

    @staticmethod
    def _as_output_tuple(node: FinalizedNode, value: Any) -> tuple[Any, ...] | None:
        if isinstance(value, tuple):
            return value
        if isinstance(value, list):
            return tuple(value)
        return None

    def _gather(self, node: FinalizedNode, eval_gen: Generation) -> tuple[list[Any], list[int]]:
        rt = node._rt
        bus = self._bus
        want_reads = bus.listening[_K_GATHERED]
        want_count = bus.listening[_K_BCOUNT]
        args: list[Any] = []
        defaulted: list[int] = []
        reads: list[InputRead] = []
        codec = bus.codec
        for index, port in node._input_ports.items():
            src = port.connected_output
            if src is None:
                if not port.has_default:
                    raise MissingDefaultError(
                        f"{node.node_id}.input({index}) `{port.name}` is not connected and "
                        "has no default value"
                    )
                args.append(port.default_value)
                if want_reads:
                    reads.append(
                        InputRead(
                            index,
                            None,
                            None,
                            None,
                            codec.encode(port.default_value),
                            False,
                            False,
                        )
                    )
                continue
            producer = src.node
            if port.minimum_run_level == 0:
                data = producer.get_data(0)
                if data is None:
                    args.append(
                        self._use_default(
                            node,
                            port,
                            producer,
                            src.port_index,
                            defaulted,
                            reads if want_reads else None,
                            codec,
                        )
                    )
                    continue
                try:
                    value = data[src.port_index]
                except (IndexError, TypeError, KeyError):
                    shape = f"{len(data)} output(s)" if isinstance(data, tuple) else "not a tuple"
                    raise IndexError(
                        f"{node.node_id}.input({index}) `{port.name}` reads output "
                        f"{src.port_index} of {producer.node_id}, which produced {data!r} "
                        f"({shape})"
                    ) from None
                args.append(value)
                prt = producer._rt
                if prt.barrier0 > 0:
                    prt.barrier0 -= 1
                if want_count:
                    bus.emit(
                        BarrierCountdown,
                        producer.node_id,
                        node.node_id,
                        producer._store.last_gen,
                        0,
                        prt.barrier0,
                    )
                if want_reads:
                    reads.append(
                        InputRead(
                            index,
                            producer.node_id,
                            src.port_index,
                            producer._store.last_gen,
                            codec.encode(value),
                            False,
                            False,
                        )
                    )
            else:
                pgen = producer._store.gen
                if pgen is None:
                    args.append(
                        self._use_default(
                            node,
                            port,
                            producer,
                            src.port_index,
                            defaulted,
                            reads if want_reads else None,
                            codec,
                        )
                    )
                    continue
                stream = self._open_stream(node, index, producer, src.port_index)
                if rt.streams:
                    rt.streams.append(stream)
                else:
                    rt.streams = [stream]
                args.append(stream)
                if want_reads:
                    reads.append(
                        InputRead(
                            index,
                            producer.node_id,
                            src.port_index,
                            (stream._gen,),
                            None,
                            False,
                            True,
                        )
                    )
        if want_reads:
            bus.emit(InputsGathered, node.node_id, eval_gen, tuple(reads), tuple(defaulted))
        return args, defaulted

    @staticmethod
    def _use_default(
        node: FinalizedNode,
        port: FinalizedInputPort,
        producer: FinalizedNode,
        output: int,
        defaulted: list[int],
        reads: list[InputRead] | None,
        codec: ValueCodec,
    ) -> Any:
        """The default value of a connected port whose producer has no data for it (and
        its lineage record in ``reads``), or the error saying why there is no value."""
        if port.has_default:
            defaulted.append(port.port_index)
            if reads is not None:
                reads.append(
                    InputRead(
                        port.port_index,
                        producer.node_id,
                        output,
                        None,
                        codec.encode(port.default_value),
                        True,
                        False,
                    )
                )
            return port.default_value
        pgen = producer._store.gen
        if pgen is None:
            why = f"{producer.node_id} has produced nothing yet"
        else:
            why = (
                f"{producer.node_id}'s generation {pgen} has no final value (its stream items "
                "could not be combined: end the generator with "
                "`raise StopAsyncIteration(value)` to give one)"
            )
        raise MissingDefaultError(
            f"{node.node_id}.input({port.port_index}) `{port.name}` has no value: {why}, "
            "and the input has no default value"
        )

    def _store_result(self, node: FinalizedNode, data: Any, eval_gen: Generation) -> bool:
        """Store a run-level-0 result, check the limit, notify consumers."""
        rt = node._rt
        bus = self._bus
        pending_readers = rt.barrier0  # the write barrier: reported, never waited on
        store = node._store  # push_data(data, 0), inlined: the hottest store
        old = store.gen
        gen = (0,) if old is None else ((old[0] + 1,) if len(old) == 1 else (old[0],))
        store.gen = store.last_gen = gen
        store.last_data = data
        store.chunk_data = None
        rt.barrier0 = rt.mono_readers
        if bus.listening[_K_DATA]:
            bus.emit(
                DataEmitted,
                node.node_id,
                gen,
                0,
                self._encode_values(data),
                pending_readers,
                False,
            )
        limit = rt.limit
        if limit is not _NOLIMIT and cmp_generation(gen, limit) >= 0:
            return self._limit_reached(node, gen, limit, eval_gen)
        rt.in_eval = False
        rt.defaulted = ()
        if bus.listening[_K_FINISHED]:
            bus.emit(NodeFinished, node.node_id, eval_gen, 0, "completed")
        for consumer in node._consumers:
            self._put(consumer, node, "consumer")
        return True

    def _limit_reached(
        self, node: FinalizedNode, gen: Generation, limit: Any, eval_gen: Generation
    ) -> bool:
        rt = node._rt
        bus = self._bus
        if bus.listening[_K_LIMIT]:
            bus.emit(GenerationLimitReached, node.node_id, gen, limit)
        rt.in_eval = False
        if bus.listening[_K_FINISHED]:
            bus.emit(NodeFinished, node.node_id, eval_gen, 0, "limit")
        self._abort(TerminateLimitReached(node.node_id, gen, limit), node, gen)
        return False

    def _is_node_error(self, exc: BaseException) -> bool:
        """Whether ``exc``, escaping the user's code of the running node, is that node's
        error: anything but an interrupt (``KeyboardInterrupt``, ``SystemExit``) and
        the engine closing the task after the run (``GeneratorExit`` thrown in by
        ``close()`` while no task runs). ``asyncio.CancelledError``, a ``GeneratorExit``
        the node raised and custom ``BaseException`` subclasses are node errors."""
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            return False
        return self.event_loop.running_task is not None

    def _node_task_died(self, node: FinalizedNode, exc: BaseException) -> None:
        """A node's task ended with an exception the node's own handling did not take
        (it escaped the engine's code around the node): still that node's error, so
        the run ends with it instead of a deadlock."""
        rt = node._rt
        if rt is None or rt.status == "error" or self._aborted is not None:
            return
        if not self._is_node_error(exc):
            return
        self._node_failed(node, exc, "call")

    def _node_failed(self, node: FinalizedNode, exc: BaseException, phase: ErrorPhase) -> bool:
        rt = node._rt
        bus = self._bus
        gen = rt.eval_gen
        rt.error = exc
        if bus.listening[_K_ERRORED]:
            bus.emit(NodeErrored, node.node_id, gen, error_info(exc), phase)
        self._set_status(node, "error")
        rt.in_eval = False
        if bus.listening[_K_FINISHED]:
            bus.emit(NodeFinished, node.node_id, gen, 0, "error")
        if self._terminate_on_error:
            if isinstance(exc, Exception):
                self._abort(exc, node, gen)  # Flowno: the node's exception, unchanged
            else:
                # A CancelledError or GeneratorExit reaching the caller would read as
                # its own cancellation or close: wrap what is not an Exception.
                wrapped = NodeExecutionError(node.node_id, gen, exc)
                wrapped.__cause__ = exc
                self._abort(wrapped, node, gen)
            return False
        self._errors.append((node.node_id, gen, exc))
        self._active -= 1
        for conn in node._stream_conns:
            consumer = conn.consumer
            crt = consumer._rt
            if crt.status == "stalled" and crt.stalled_port == conn.port and crt.task is not None:
                self._stalled -= 1
                self._active += 1
                self._set_status(consumer, "queued")
                self.event_loop.make_ready(
                    crt.task, None, NodeExecutionError(node.node_id, gen, exc)
                )
        self._request_drain()
        return False

    # -- streaming producers --------------------------------------------------------------

    async def _run_stream(self, node: FinalizedNode, agen: Any, eval_gen: Generation) -> bool:
        rt = node._rt
        bus = self._bus
        assert eval_gen is not None
        log = node._chunk_log
        if log is not None:
            log.begin(eval_gen[0])
        rt.pending_cancels = ()
        single = type(node._draft_node)._wrap_single
        acc = _Accumulator()
        explicit: Any = _MISSING
        cancelled_end = False
        while True:
            pending = rt.pending_cancels
            threw = bool(pending)
            try:
                if threw:
                    rt.pending_cancels = ()
                    chunk = await agen.athrow(StreamCancelled(pending[0]))
                else:
                    chunk = await agen.__anext__()
            except StopAsyncIteration:
                if threw:
                    self._emit_cancelled(node, eval_gen, pending, True)
                self._emit_thrown(node, eval_gen, True)
                break
            except StreamCancelled:
                if threw:
                    self._emit_cancelled(node, eval_gen, pending, False)
                self._emit_thrown(node, eval_gen, False)
                cancelled_end = True
                break
            except RuntimeError as exc:
                if isinstance(exc.__cause__, StopAsyncIteration):
                    if threw:
                        self._emit_cancelled(node, eval_gen, pending, True)
                    args = exc.__cause__.args
                    if args:
                        explicit = args[0]
                    break
                return self._node_failed(node, exc, "stream")
            except BaseException as exc:
                if not self._is_node_error(exc):
                    raise
                return self._node_failed(node, exc, "stream")
            if threw:
                self._emit_cancelled(node, eval_gen, pending, True)
            self._emit_thrown(node, eval_gen, True)
            data = self._output_data(node, chunk, single)
            if data is None:
                return self._node_failed(node, _not_a_tuple(node, "yield", chunk), "stream")
            acc.add(data)
            pending_readers = rt.barrier1  # the write barrier: reported, never waited on
            node.push_data(data, 1)
            rt.barrier1 = rt.stream_readers
            gen = node._store.gen
            limit = rt.limit
            hit_limit = limit is not _NOLIMIT and cmp_generation(gen, limit) >= 0
            if bus.listening[_K_DATA]:
                bus.emit(
                    DataEmitted,
                    node.node_id,
                    gen,
                    1,
                    self._encode_values(data),
                    pending_readers,
                    not hit_limit and not rt.pending_cancels,  # parks right after
                )
            if hit_limit:
                return self._limit_reached(node, gen, limit, eval_gen)
            for consumer in node._consumers:
                self._put(consumer, node, "consumer")
            if not rt.pending_cancels:
                await _yield(ParkCommand(self, node, 1))
                self._set_status(node, "executing")
        if cancelled_end:
            for stream in rt.streams:
                self._stream_cancel(stream, propagated=True)
        if explicit is not _MISSING:
            final = self._output_data(node, explicit, single)
            if final is None:
                return self._node_failed(
                    node,
                    ValueError(
                        f"{node.node_id} has multiple outputs: "
                        "`raise StopAsyncIteration(value)` needs a tuple, got "
                        f"{explicit!r}"
                    ),
                    "finalize",
                )
        else:
            final = acc.result()
        return self._store_result(node, final, eval_gen)

    def _emit_thrown(self, node: FinalizedNode, gen: Generation, handled: bool) -> None:
        """Report a cancellation thrown at an offloaded call (see ``_stream_cancel``)."""
        rt = node._rt
        if rt.cancels_thrown:
            thrown, rt.cancels_thrown = rt.cancels_thrown, ()
            self._emit_cancelled(node, gen, thrown, handled)

    def _emit_cancelled(
        self, node: FinalizedNode, gen: Generation, pending: list[Stream[Any]], handled: bool
    ) -> None:
        bus = self._bus
        if bus.listening[_K_CANCELLED]:
            bus.emit(
                StreamCancelledEvent,
                node.node_id,
                gen,
                tuple(s._conn.consumer.node_id for s in pending),
                handled,
            )

    # -- stream consumers -----------------------------------------------------------------

    def _open_stream(
        self, consumer: FinalizedNode, port: int, producer: FinalizedNode, output: int
    ) -> Stream[Any]:
        conn = consumer._rt.conns[port]
        gen = producer._store.gen
        assert gen is not None
        target = gen[0]
        log = producer._chunk_log
        if conn.gen < target:
            conn.gen = target
            conn.idx = 0
            if log is not None:
                log.release(self._current_main(producer))
        mono: Any = _MISSING
        if (log is None or not log.is_streaming(target)) and len(gen) == 1:
            data = producer._store.last_data
            try:
                mono = data[output]
            except (IndexError, TypeError, KeyError):
                raise IndexError(
                    f"{consumer.node_id}.input({port}) reads output {output} of "
                    f"{producer.node_id}, which produced {data!r}"
                ) from None
        return Stream(self, conn, target, mono)

    @staticmethod
    def _current_main(producer: FinalizedNode) -> int:
        gen = producer._store.gen
        if gen is None:
            return 0
        return gen[0] + 1 if len(gen) == 1 else gen[0]

    def _stream_try_read(self, stream: Stream[Any]) -> Any:
        """The next item for ``stream``, ``_MISSING`` to stall, or StopAsyncIteration."""
        if stream._done:
            raise StopAsyncIteration
        conn = stream._conn
        producer = conn.producer
        target = stream._gen
        bus = self._bus
        if stream._mono_value is not _MISSING:
            if stream._idx == 0 and not stream._cancelled:
                stream._idx = 1
                conn.idx = 1
                value = stream._mono_value
                stream._last = value
                if bus.listening[_K_CONSUMED]:
                    bus.emit(
                        StreamItemConsumed,
                        conn.consumer.node_id,
                        conn.port,
                        producer.node_id,
                        conn.output,
                        (target,),
                        bus.codec.encode(value),
                        None,
                    )
                return value
            self._end_stream(stream, stream._cancelled)
        prt = producer._rt
        if prt is not None and prt.status == "error":
            raise NodeExecutionError(
                producer.node_id, prt.eval_gen, prt.error or RuntimeError("failed")
            )
        gen = producer._store.gen
        assert gen is not None
        complete = gen[0] > target or len(gen) == 1
        log = producer._chunk_log
        assert log is not None
        if stream._cancelled:
            if complete or log.count(target) > stream._cancel_mark:
                self._end_stream(stream, True)
            return _MISSING
        idx = stream._idx
        data = log.get(target, idx)
        if data is not _MISSING:
            stream._idx = idx + 1
            if conn.gen == target:
                conn.idx = idx + 1
                chunks = log.gens.get(target)
                if chunks is not None and chunks.start <= idx:
                    log.release(self._current_main(producer))
            try:
                value = data[conn.output]
            except (IndexError, TypeError, KeyError):
                raise IndexError(
                    f"{conn.consumer.node_id}.input({conn.port}) reads output {conn.output} "
                    f"of {producer.node_id}, whose item was {data!r}"
                ) from None
            stream._last = value
            if prt is not None and prt.barrier1 > 0:
                prt.barrier1 -= 1
            if bus.listening[_K_CONSUMED]:
                bus.emit(
                    StreamItemConsumed,
                    conn.consumer.node_id,
                    conn.port,
                    producer.node_id,
                    conn.output,
                    (target, idx),
                    bus.codec.encode(value),
                    prt.barrier1 if prt is not None else 0,  # the read barrier's count
                )
            return value
        if complete:
            self._end_stream(stream, False)
        return _MISSING

    def _end_stream(self, stream: Stream[Any], cancelled: bool) -> None:
        stream._done = True
        conn = stream._conn
        target = stream._gen
        if conn.gen <= target:
            conn.gen = target + 1
            conn.idx = 0
            log = conn.producer._chunk_log
            if log is not None:
                log.release(self._current_main(conn.producer))
        bus = self._bus
        if bus.listening[_K_ENDED]:
            bus.emit(
                StreamEnded,
                conn.consumer.node_id,
                conn.port,
                conn.producer.node_id,
                (target,),
                cancelled,
            )
        raise StopAsyncIteration

    def _stall(self, task: Task, stream: Stream[Any]) -> None:
        conn = stream._conn
        consumer = conn.consumer
        rt = consumer._rt
        rt.stalled_port = conn.port
        rt.status = "stalled"  # reported by the StreamStalled below
        self._active -= 1
        self._stalled += 1
        task.waiting_on = f"stream item from {conn.producer.node_id}"
        producer = conn.producer
        pstatus = producer._rt.status
        producer_queued: bool | None = None
        if pstatus == "waiting" or pstatus == "stalled":
            producer_queued = self._enqueue(producer, consumer, "stall")
        bus = self._bus
        if bus.listening[_K_STALLED]:
            last = (stream._gen, stream._idx - 1) if stream._idx > 0 else None
            bus.emit(
                StreamStalled,
                consumer.node_id,
                conn.port,
                producer.node_id,
                last,
                producer_queued,
            )
        self._request_drain()

    def _after_stall(self, stream: Stream[Any]) -> None:
        conn = stream._conn
        conn.consumer._rt.status = "executing"  # reported by the StreamResumed below
        bus = self._bus
        if bus.listening[_K_RESUMED]:
            bus.emit(StreamResumed, conn.consumer.node_id, conn.port, conn.producer.node_id)

    def _stream_cancel(self, stream: Stream[Any], propagated: bool) -> None:
        if stream._done or stream._cancelled:
            return
        stream._cancelled = True
        conn = stream._conn
        producer = conn.producer
        target = stream._gen
        bus = self._bus
        if bus.listening[_K_CANCEL_REQ]:
            bus.emit(
                StreamCancelRequested,
                conn.consumer.node_id,
                conn.port,
                producer.node_id,
                (target,),
                propagated,
            )
        if stream._mono_value is not _MISSING:
            return
        gen = producer._store.gen
        if gen is None or gen[0] > target or len(gen) == 1:
            return  # that generation is already complete: nothing to stop
        log = producer._chunk_log
        stream._cancel_mark = log.count(target) if log is not None else 0
        prt = producer._rt
        if not prt.pending_cancels:
            prt.pending_cancels = [stream]
        elif not any(s is stream for s in prt.pending_cancels):
            prt.pending_cancels.append(stream)
        if prt.barrier1 > 0:
            prt.barrier1 -= 1
        session = self._offload_session
        if (
            session is not None
            and prt.task is not None
            and session.interrupt(prt.task, StreamCancelled(stream))
        ):
            # The producer waited on an offloaded call: dropped, and the cancellation
            # thrown where it waited instead of at its next yield.
            prt.cancels_thrown, prt.pending_cancels = prt.pending_cancels, ()
            return
        if prt.status == "waiting" and prt.run_level == 1:
            self._resume(producer)
