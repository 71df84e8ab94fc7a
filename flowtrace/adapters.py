"""Flowno-style flow instruments, built on the event stream.

:class:`FlowInstrument` has every hook name of Flowno's ``FlowInstrument`` (docs/compatibility.md
§4.1) as a no-op method; subclass it and override what you need, then activate it with
``with MyInstrument():`` (or pass it to ``run_until_complete(instruments=[...])``). It is
an ordinary flowtrace instrument: it receives the run's events and turns each into the
matching hook call with live objects (the flow, the finalized nodes, the data, the
``Stream``), so several can be active at once, in order, and every hook fires —
including the seven Flowno declares but never calls:

=============================  ==========================================================
hook                           fired on (schema 2.0 events; see :mod:`flowtrace.implied`)
=============================  ==========================================================
``on_flow_start``              ``FlowStarted``
``on_flow_end``                ``FlowFinished`` (every way a run ends, not only success)
``on_node_registered``         finalization while the instrument is active, and each
                               node of ``FlowStarted.graph`` (once per node and flow)
``on_node_visited``            ``NodeVisited`` (a skip), or the ``NodeStatusChanged`` to
                               ``queued`` of a leaf of the last solution (a resume)
``on_resolution_queue_put``    ``ResolutionQueuePut``, and ``StreamStalled`` whose
                               ``producer_queued`` is set (a stall-driven put)
``on_resolution_queue_get``    ``SolutionFound`` (its head), before ``on_solving_nodes``
``on_solving_nodes``           ``SolutionFound``
``on_node_resumed``            a status change to ``queued``
``on_node_pause``              a status change to ``waiting``: ``NodeFinished``
                               (completed) and a ``DataEmitted`` with ``parked``, fired
                               after the producer's notifications of its consumers
``on_node_stalled``            a status change to ``stalled`` (``StreamStalled``)
``on_node_status_change``      every status change, reported or implied (real changes
                               only; the old status is the one this adapter last saw)
``on_node_emitted_data``       ``DataEmitted`` (the live data tuple)
``on_node_generation_limit``   ``GenerationLimitReached``
``on_node_error``              ``NodeErrored`` (the live exception)
``on_defaulted_inputs_set``    ``InputsGathered`` (the defaulted port indices)
``node_lifecycle``             run level 0: ``NodeStarted`` … ``NodeFinished``; run
                               level 1: around each ``DataEmitted`` item
``on_barrier_node_write``      ``DataEmitted`` of a whole result, and of a stream item
                               with ``pending_readers`` (entered and left at once: the
                               barrier never blocks)
``on_barrier_node_read``       ``BarrierCountdown`` (run level 0) and
                               ``StreamItemConsumed.remaining`` (run level 1)
``on_stream_start``            a stream's first read, stall or end
``on_stream_next``             ``StreamItemConsumed`` (the live item)
``on_stream_end``              ``StreamEnded``
``on_stream_error``            ``NodeErrored`` of a producer with live readers
=============================  ==========================================================

Status changes that schema 2.0 folds into other events (``NodeStarted`` is the change to
``executing``, ``StreamStalled`` to ``stalled``…) come from :func:`flowtrace.implied.
status_change`, so the status hooks fire for them exactly as for a reported change.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from flowtrace import events as ev
from flowtrace.implied import queue_put, status_change
from flowtrace.instrument import InstrumentBase, _context_stack

__all__ = [
    "FlowInstrument",
    "PrintInstrument",
    "LogInstrument",
    "MinimalInstrument",
    "NO_OP_INSTRUMENT",
    "get_current_flow_instrument",
]

logger = logging.getLogger("flowtrace.adapters")


class FlowInstrument(InstrumentBase):
    """Flowno's hook interface on top of flowtrace events (see the module docstring)."""

    kinds = None

    _registered: dict[tuple[int, str], bool]
    _flows: dict[str, Any]
    _lifecycles: dict[tuple[str, int], AbstractContextManager[Any]]
    _streams_started: dict[int, Any]
    _runs: dict[str, _RunState]

    def __new__(cls, *args: Any, **kwargs: Any) -> FlowInstrument:
        # State lives here so subclasses need not call super().__init__().
        self = super().__new__(cls)
        self._registered = {}
        self._flows = {}
        self._lifecycles = {}
        self._streams_started = {}
        self._runs = {}
        return self

    # -- Flowno hooks (no-ops) ----------------------------------------------------------

    def on_flow_start(self, flow: Any) -> None:
        pass

    def on_flow_end(self, flow: Any) -> None:
        pass

    def on_node_registered(self, flow: Any, node: Any) -> None:
        pass

    def on_node_visited(self, flow: Any, node: Any) -> None:
        pass

    def on_resolution_queue_put(self, flow: Any, node: Any) -> None:
        pass

    def on_resolution_queue_get(self, flow: Any, node: Any) -> None:
        pass

    def on_solving_nodes(self, flow: Any, head_node: Any, solution_nodes: list[Any]) -> None:
        pass

    def on_node_resumed(self, flow: Any, node: Any, run_level: int) -> None:
        pass

    def on_node_stalled(self, flow: Any, node: Any, stalled_input: Any) -> None:
        pass

    def on_node_emitted_data(self, flow: Any, node: Any, data: Any, run_level: int) -> None:
        pass

    def on_node_generation_limit(self, flow: Any, node: Any, limit: Any) -> None:
        pass

    def on_node_error(self, flow: Any, node: Any, error: BaseException) -> None:
        pass

    def on_node_pause(self, flow: Any, node: Any, run_level: int) -> None:
        pass

    def on_node_status_change(self, flow: Any, node: Any, old_status: Any, new_status: Any) -> None:
        pass

    def on_stream_start(self, stream: Any) -> None:
        pass

    def on_stream_next(self, stream: Any, data: Any) -> None:
        pass

    def on_stream_end(self, stream: Any) -> None:
        pass

    def on_stream_error(self, stream: Any, error: BaseException) -> None:
        pass

    def on_defaulted_inputs_set(self, flow: Any, node: Any, defaulted_inputs: list[int]) -> None:
        pass

    def on_barrier_node_write(
        self, flow: Any, node: Any, data: Any, run_level: int
    ) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def on_barrier_node_read(self, node: Any, run_level: int) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def node_lifecycle(self, flow: Any, node: Any, run_level: int) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    # -- event → hook ----------------------------------------------------------------------

    _DISPATCH: ClassVar[dict[type, str]] = {
        ev.FlowStarted: "_ev_flow_started",
        ev.FlowFinished: "_ev_flow_finished",
        ev.NodeVisited: "_ev_visited",
        ev.ResolutionQueuePut: "_ev_put",
        ev.SolutionFound: "_ev_solution",
        ev.NodeStatusChanged: "_ev_status",
        ev.NodeStarted: "_ev_started",
        ev.NodeFinished: "_ev_finished",
        ev.InputsGathered: "_ev_gathered",
        ev.DataEmitted: "_ev_data",
        ev.GenerationLimitReached: "_ev_limit",
        ev.NodeErrored: "_ev_errored",
        ev.BarrierCountdown: "_ev_barrier_count",
        ev.StreamItemConsumed: "_ev_stream_item",
        ev.StreamStalled: "_ev_stream_stalled",
        ev.StreamResumed: "_ev_stream_resumed",
        ev.StreamEnded: "_ev_stream_ended",
    }

    def on_event(self, event: ev.Event) -> None:
        name = self._DISPATCH.get(type(event))
        if name is None:
            return
        run_id = event.run_id
        flow = self._flow(run_id)
        if flow is None:
            return
        run = self._runs.get(run_id)
        if run is None:
            run = self._runs[run_id] = _RunState()
        park = run.park
        if park is not None and not (type(event) is ev.ResolutionQueuePut and event.by == park[0]):
            # A park reported by its NodeFinished / DataEmitted: the hooks fire after
            # the producer's notifications of its consumers, where the park happens.
            run.park = None
            self._change(flow, run, park[0], "waiting", park[1], None)
        getattr(self, name)(flow, run, event)

    def _flow(self, run_id: str) -> Any:
        flow = self._flows.get(run_id)
        if flow is None:
            from flowtrace.engine.flow import flow_for_run

            flow = flow_for_run(run_id)
            if flow is not None:
                self._flows[run_id] = flow
        return flow

    @staticmethod
    def _node(flow: Any, node_id: str | None) -> Any:
        return flow.node_by_id(node_id) if node_id is not None else None

    def _registered_live(self, flow: Any, node: Any) -> None:
        """Called by the engine when a node is registered while this is active."""
        key = (id(flow), node.node_id)
        if key not in self._registered:
            self._registered[key] = True
            self.on_node_registered(flow, node)

    def _change(
        self,
        flow: Any,
        run: _RunState,
        node_id: str,
        new: ev.NodeStatus,
        run_level: int | None,
        port: int | None,
    ) -> None:
        """A status change, reported or implied (:mod:`flowtrace.implied`): the status
        hooks, with the old status as this adapter last saw it."""
        old = run.status.get(node_id, _INITIAL)
        if old[0] == new:
            return  # a status the node already has: nothing changed
        run.status[node_id] = (new, run_level, port)
        node = self._node(flow, node_id)
        if node is None:
            return
        self.on_node_status_change(
            flow, node, _status_object(node, *old), _status_object(node, new, run_level, port)
        )
        if new == "queued":
            rt = node._rt
            self.on_node_resumed(flow, node, rt.run_level if rt is not None else 0)
            if node_id in run.leaves:
                # The scheduler's visit of a leaf of the last solution resumed it.
                run.leaves.remove(node_id)
                self.on_node_visited(flow, node)
        elif new == "waiting":
            self.on_node_pause(flow, node, run_level if run_level is not None else 0)
        elif new == "stalled" and port is not None:
            self.on_node_stalled(flow, node, node.input(port))

    def _implied(self, flow: Any, run: _RunState, event: ev.Event) -> None:
        change = status_change(event)
        if change is not None:
            self._change(flow, run, change.node_id, change.new, change.run_level, change.port)

    def _ev_flow_started(self, flow: Any, run: _RunState, e: ev.FlowStarted) -> None:
        self.on_flow_start(flow)
        for info in e.graph.nodes:
            node = self._node(flow, info.node_id)
            if node is not None:
                self._registered_live(flow, node)

    def _ev_flow_finished(self, flow: Any, run: _RunState, e: ev.FlowFinished) -> None:
        for cm in list(self._lifecycles.values()):
            with contextlib.suppress(Exception):
                cm.__exit__(None, None, None)
        self._lifecycles.clear()
        self._streams_started.clear()
        self._runs.pop(e.run_id, None)
        self.on_flow_end(flow)

    def _ev_visited(self, flow: Any, run: _RunState, e: ev.NodeVisited) -> None:
        if e.node_id in run.leaves:
            run.leaves.remove(e.node_id)
        self.on_node_visited(flow, self._node(flow, e.node_id))

    def _ev_put(self, flow: Any, run: _RunState, e: ev.ResolutionQueuePut) -> None:
        self.on_resolution_queue_put(flow, self._node(flow, e.node_id))

    def _ev_solution(self, flow: Any, run: _RunState, e: ev.SolutionFound) -> None:
        head = self._node(flow, e.head)
        self.on_resolution_queue_get(flow, head)  # the SolutionFound is the get
        run.leaves = list(e.leaves)
        self.on_solving_nodes(flow, head, [self._node(flow, n) for n in e.leaves])

    def _ev_status(self, flow: Any, run: _RunState, e: ev.NodeStatusChanged) -> None:
        self._change(flow, run, e.node_id, e.new, e.run_level, e.port)

    def _ev_started(self, flow: Any, run: _RunState, e: ev.NodeStarted) -> None:
        self._implied(flow, run, e)  # executing
        node = self._node(flow, e.node_id)
        cm = self.node_lifecycle(flow, node, 0)
        cm.__enter__()
        self._lifecycles[(e.node_id, 0)] = cm

    def _ev_finished(self, flow: Any, run: _RunState, e: ev.NodeFinished) -> None:
        cm = self._lifecycles.pop((e.node_id, 0), None)
        if cm is not None:
            cm.__exit__(None, None, None)
        change = status_change(e)
        if change is not None:  # completed: parked at run level 0 (hooks deferred)
            run.park = (e.node_id, change.run_level)

    def _ev_gathered(self, flow: Any, run: _RunState, e: ev.InputsGathered) -> None:
        self.on_defaulted_inputs_set(flow, self._node(flow, e.node_id), list(e.defaulted_ports))

    def _ev_data(self, flow: Any, run: _RunState, e: ev.DataEmitted) -> None:
        node = self._node(flow, e.node_id)
        store = node._store
        data = store.last_data if e.run_level == 0 else store.chunk_data
        if e.run_level == 0 or e.pending_readers > 0:
            # The write barrier (it never blocks here): always for a whole result, for
            # a stream item when readers of the previous item were still pending.
            with self.on_barrier_node_write(flow, node, data, e.run_level):
                pass
        if e.run_level == 1:
            with self.node_lifecycle(flow, node, 1):
                self.on_node_emitted_data(flow, node, data, 1)
        else:
            self.on_node_emitted_data(flow, node, data, 0)
        if e.parked:  # the producer parks for its readers (hooks deferred)
            run.park = (e.node_id, e.run_level)

    def _ev_limit(self, flow: Any, run: _RunState, e: ev.GenerationLimitReached) -> None:
        self.on_node_generation_limit(flow, self._node(flow, e.node_id), e.limit)

    def _ev_errored(self, flow: Any, run: _RunState, e: ev.NodeErrored) -> None:
        node = self._node(flow, e.node_id)
        error = node._rt.error if node._rt is not None else None
        if error is None:
            error = RuntimeError(e.error.message)
        self.on_node_error(flow, node, error)
        for conn in node._stream_conns:
            for stream in conn.consumer._rt.streams:
                if stream.output.node is node and not stream._done:
                    self.on_stream_error(stream, error)

    def _ev_barrier_count(self, flow: Any, run: _RunState, e: ev.BarrierCountdown) -> None:
        with self.on_barrier_node_read(self._node(flow, e.node_id), e.run_level):
            pass

    def _live_stream(self, flow: Any, consumer_id: str, port: int) -> Any:
        consumer = self._node(flow, consumer_id)
        if consumer is None or consumer._rt is None:
            return None
        for stream in consumer._rt.streams:
            if stream.input.port_index == port:
                if id(stream) not in self._streams_started:
                    self._streams_started[id(stream)] = stream
                    self.on_stream_start(stream)
                return stream
        return None

    def _ev_stream_item(self, flow: Any, run: _RunState, e: ev.StreamItemConsumed) -> None:
        if e.remaining is not None:  # the stream read's barrier countdown (run level 1)
            with self.on_barrier_node_read(self._node(flow, e.producer), 1):
                pass
        stream = self._live_stream(flow, e.consumer, e.port)
        if stream is not None:
            self.on_stream_next(stream, stream._last)

    def _ev_stream_stalled(self, flow: Any, run: _RunState, e: ev.StreamStalled) -> None:
        self._implied(flow, run, e)  # stalled on the port
        self._live_stream(flow, e.consumer, e.port)
        if queue_put(e) is not None:  # the consumer demanded its producer
            self.on_resolution_queue_put(flow, self._node(flow, e.producer))

    def _ev_stream_resumed(self, flow: Any, run: _RunState, e: ev.StreamResumed) -> None:
        self._implied(flow, run, e)  # executing again

    def _ev_stream_ended(self, flow: Any, run: _RunState, e: ev.StreamEnded) -> None:
        stream = self._live_stream(flow, e.consumer, e.port)
        if stream is not None:
            self._streams_started.pop(id(stream), None)
            self.on_stream_end(stream)


#: A node's status before its first change: waiting, never parked.
_INITIAL: tuple[ev.NodeStatus, int | None, int | None] = ("waiting", -1, None)


class _RunState:
    """What the adapter follows of one run: each node's status (with the run level of
    a wait and the port of a stall), the leaves of the last solution not yet visited,
    and a park whose hooks wait for the producer's notifications."""

    __slots__ = ("leaves", "park", "status")

    def __init__(self) -> None:
        self.status: dict[str, tuple[ev.NodeStatus, int | None, int | None]] = {}
        self.leaves: list[str] = []
        self.park: tuple[str, int | None] | None = None


def _status_object(node: Any, status: str, run_level: int | None, port: int | None) -> Any:
    from flowtrace.engine.flow import NodeTaskStatus

    if status == "waiting":
        return NodeTaskStatus.WaitingForStartNextGeneration(
            run_level if run_level is not None else -1
        )
    if status == "queued":
        return NodeTaskStatus.Queued()
    if status == "executing":
        return NodeTaskStatus.Executing()
    if status == "stalled":
        return NodeTaskStatus.Stalled(node.input(port) if port is not None else None)
    return NodeTaskStatus.Error()


NO_OP_INSTRUMENT = FlowInstrument()


def get_current_flow_instrument() -> FlowInstrument:
    """The innermost ``FlowInstrument`` entered with ``with``, else the no-op one."""
    for inst in reversed(_context_stack.get()):
        if isinstance(inst, FlowInstrument):
            return inst
    return NO_OP_INSTRUMENT


class PrintInstrument(FlowInstrument):
    """Prints one bracketed line per hook (``print`` is a class attribute so a
    subclass can redirect it)."""

    print: ClassVar[Callable[..., None]] = staticmethod(print)

    def _out(self, tag: str, text: str) -> None:
        type(self).print(f"[{tag}] {text}")

    def on_flow_start(self, flow: Any) -> None:
        self._out("FLOW-START", repr(flow))

    def on_flow_end(self, flow: Any) -> None:
        self._out("FLOW-END", repr(flow))

    def on_node_registered(self, flow: Any, node: Any) -> None:
        self._out("NODE-REGISTERED", node.node_id)

    def on_node_visited(self, flow: Any, node: Any) -> None:
        self._out("NODE-VISITED", node.node_id)

    def on_resolution_queue_put(self, flow: Any, node: Any) -> None:
        self._out("QUEUE-PUT", node.node_id)

    def on_resolution_queue_get(self, flow: Any, node: Any) -> None:
        self._out("QUEUE-GET", node.node_id)

    def on_solving_nodes(self, flow: Any, head_node: Any, solution_nodes: list[Any]) -> None:
        self._out("SOLVE", f"{head_node.node_id} -> {[n.node_id for n in solution_nodes]}")

    def on_node_resumed(self, flow: Any, node: Any, run_level: int) -> None:
        self._out("NODE-RESUMED", f"{node.node_id} rl={run_level}")

    def on_node_pause(self, flow: Any, node: Any, run_level: int) -> None:
        self._out("NODE-PAUSED", f"{node.node_id} rl={run_level}")

    def on_node_stalled(self, flow: Any, node: Any, stalled_input: Any) -> None:
        self._out("NODE-STALLED", f"{node.node_id} on {stalled_input!r}")

    def on_node_emitted_data(self, flow: Any, node: Any, data: Any, run_level: int) -> None:
        self._out("NODE-OUTPUT", f"{node.node_id} {node.generation} rl={run_level} {data!r}")

    def on_node_generation_limit(self, flow: Any, node: Any, limit: Any) -> None:
        self._out("NODE-LIMIT", f"{node.node_id} limit={limit}")

    def on_node_error(self, flow: Any, node: Any, error: BaseException) -> None:
        self._out("NODE-ERROR", f"{node.node_id} {type(error).__name__}: {error}")

    def on_node_status_change(self, flow: Any, node: Any, old_status: Any, new_status: Any) -> None:
        self._out("NODE-STATUS", f"{node.node_id} {old_status} -> {new_status}")

    def on_stream_start(self, stream: Any) -> None:
        self._out("STREAM-START", repr(stream))

    def on_stream_next(self, stream: Any, data: Any) -> None:
        self._out("STREAM-NEXT", f"{stream!r} {data!r}")

    def on_stream_end(self, stream: Any) -> None:
        self._out("STREAM-END", repr(stream))

    def on_stream_error(self, stream: Any, error: BaseException) -> None:
        self._out("STREAM-ERROR", f"{stream!r} {error!r}")

    def on_defaulted_inputs_set(self, flow: Any, node: Any, defaulted_inputs: list[int]) -> None:
        if defaulted_inputs:
            self._out("DEFAULTED", f"{node.node_id} {defaulted_inputs}")

    @contextlib.contextmanager
    def node_lifecycle(self, flow: Any, node: Any, run_level: int) -> Iterator[None]:
        self._out("LIFECYCLE-START", f"{node.node_id} rl={run_level}")
        yield
        self._out("LIFECYCLE-END", f"{node.node_id} rl={run_level}")


class LogInstrument(PrintInstrument):
    """Like :class:`PrintInstrument`, to the ``flowtrace.adapters`` logger (debug)."""

    def _out(self, tag: str, text: str) -> None:
        logger.debug("[%s] %s", tag, text)


class MinimalInstrument(FlowInstrument):
    """Prints flow start/end and node lifecycles only."""

    print: ClassVar[Callable[..., None]] = staticmethod(print)

    def on_flow_start(self, flow: Any) -> None:
        type(self).print(f"[FLOW-START] {flow!r}")

    def on_flow_end(self, flow: Any) -> None:
        type(self).print(f"[FLOW-END] {flow!r}")

    @contextlib.contextmanager
    def node_lifecycle(self, flow: Any, node: Any, run_level: int) -> Iterator[None]:
        type(self).print(f"[NODE-START] {node.node_id} rl={run_level}")
        yield
        type(self).print(f"[NODE-END] {node.node_id} rl={run_level}")
