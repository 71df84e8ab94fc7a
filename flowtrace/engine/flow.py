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

The engine is split by job. This module holds :class:`Flow` itself (building the graph,
its state for replay) and binds, in the class body, the methods the other modules
define as plain functions of ``self: Flow`` — one class attribute each, so a call costs
what a method written here would, and ``Flow.<name>`` stays the place to look up or
patch one:

* ``flow_run.py`` — the run life cycle: begin, the root task, end, limits, offload session;
* ``flow_schedule.py`` — the resolution queue and the scheduler (put, drain, solve, visit,
  resume, the end of a run);
* ``flow_eval.py`` — node evaluation: a node task's runs, gathering inputs, storing mono
  results, node errors;
* ``flow_streams.py`` — streaming producers and the consumer side of streams (read,
  stall, resume, end, cancel);
* ``flow_deadlock.py`` — deadlock reports naming each waiting node;
* ``flow_loop.py`` — :class:`FlowEventLoop` and the commands node tasks yield (each with
  its handler);
* ``flow_state.py`` — per-node run state, ``NodeTaskStatus``, ``NodeStateView``;
* ``flow_errors.py``, ``flow_context.py`` — the run's errors; ``current_flow`` and
  friends.

Every name other modules import from here (``Flow``, ``FlowEventLoop``, the errors,
``NodeTaskStatus``, ``NodeStateView``, ``current_*``, ``flow_for_run``) still is.
"""

from __future__ import annotations

import itertools
import types
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flowtrace.codec import DEFAULT_CODEC, JsonValue, ValueCodec
from flowtrace.engine import flow_deadlock, flow_eval, flow_run, flow_schedule, flow_streams
from flowtrace.engine.flow_context import current_context, current_flow, current_node, flow_for_run
from flowtrace.engine.flow_errors import NodeExecutionError, TerminateLimitReached
from flowtrace.engine.flow_loop import FlowEventLoop
from flowtrace.engine.flow_state import NodeStateView, NodeTaskStatus
from flowtrace.engine.generation import Generation
from flowtrace.engine.loop import DEFAULT_DEADLOCK_TIMEOUT
from flowtrace.engine.node import DraftNode, FinalizedInputPort, FinalizedNode
from flowtrace.engine.tasks import Task
from flowtrace.instrument import Bus, active_instruments

if TYPE_CHECKING:
    from flowtrace.engine.offload import OffloadSession

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

_flow_counter = itertools.count()


class Flow:
    """A graph of finalized nodes and the engine that runs it.

    Build one with :class:`~flowtrace.engine.hdl.FlowHDL` (which owns a flow), or
    directly: ``flow.add_node(SomeNode()._blank_finalized())``. A flow can run any
    number of times; every run after the first starts from empty data stores (user
    state of stateful nodes persists, as it lives on the node).
    """

    #: This run's offload session (set by ``_open_offload``; absent before a first run).
    _offload_session: OffloadSession | None

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

    # -- the run life cycle: flow_run.py ---------------------------------------------------

    run_until_complete = flow_run.run_until_complete
    run_async = flow_run.run_async
    _open_offload = flow_run._open_offload
    _close_offload = flow_run._close_offload
    _outcome_of = flow_run._outcome_of
    _begin_run = flow_run._begin_run
    _end_run = flow_run._end_run
    _prepare_nodes = flow_run._prepare_nodes
    _apply_limits = flow_run._apply_limits
    _emit_start = flow_run._emit_start
    _node_info = staticmethod(flow_run._node_info)
    _root = flow_run._root
    _start = flow_run._start
    _component_starts = flow_run._component_starts

    # -- the resolution queue and the scheduler: flow_schedule.py --------------------------

    _stale_edges = flow_schedule._stale_edges
    _find_node_solution = flow_schedule._find_node_solution
    _condensed_tree = flow_schedule._condensed_tree
    _put = flow_schedule._put
    _enqueue = flow_schedule._enqueue
    _request_drain = flow_schedule._request_drain
    _wake_root = flow_schedule._wake_root
    _drain = flow_schedule._drain
    _next_unvisited = flow_schedule._next_unvisited
    _process = flow_schedule._process
    _shallow_solution = flow_schedule._shallow_solution
    _outdated = staticmethod(flow_schedule._outdated)
    _visit = flow_schedule._visit
    _resume = flow_schedule._resume
    _quiescent = flow_schedule._quiescent
    _other_tasks_alive = flow_schedule._other_tasks_alive
    _abort = flow_schedule._abort

    # -- deadlock reports: flow_deadlock.py ------------------------------------------------

    _deadlock_error = flow_deadlock._deadlock_error
    _spawning_node = flow_deadlock._spawning_node

    # -- node evaluation: flow_eval.py -----------------------------------------------------

    _encode_values = flow_eval._encode_values
    _set_status = flow_eval._set_status
    _node_main = flow_eval._node_main
    _start_run = flow_eval._start_run
    _finish_mono = flow_eval._finish_mono
    _output_data = staticmethod(flow_eval._output_data)
    _as_output_tuple = staticmethod(flow_eval._as_output_tuple)
    _gather = flow_eval._gather
    _use_default = staticmethod(flow_eval._use_default)
    _store_result = flow_eval._store_result
    _limit_reached = flow_eval._limit_reached
    _is_node_error = flow_eval._is_node_error
    _node_task_died = flow_eval._node_task_died
    _node_failed = flow_eval._node_failed

    # -- stream producers and consumers: flow_streams.py -----------------------------------

    _run_stream = flow_streams._run_stream
    _emit_thrown = flow_streams._emit_thrown
    _emit_cancelled = flow_streams._emit_cancelled
    _open_stream = flow_streams._open_stream
    _current_main = staticmethod(flow_streams._current_main)
    _stream_try_read = flow_streams._stream_try_read
    _end_stream = flow_streams._end_stream
    _stall = flow_streams._stall
    _after_stall = flow_streams._after_stall
    _stream_cancel = flow_streams._stream_cancel


# The functions bound above keep the qualified names they had as methods written in the
# class (``Flow._root`` names a task in traces; tracebacks and profiles read the same).
for _name, _member in list(vars(Flow).items()):
    _function = getattr(_member, "__func__", _member)
    if isinstance(_function, types.FunctionType) and "." not in _function.__qualname__:
        _function.__qualname__ = f"Flow.{_name}"
del _name, _member, _function
