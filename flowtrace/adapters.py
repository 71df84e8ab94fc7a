"""Flowno-style flow instruments, built on the event stream.

:class:`FlowInstrument` has every hook name of Flowno's ``FlowInstrument`` (docs/compatibility.md
§4.1) as a no-op method; subclass it and override what you need, then activate it with
``with MyInstrument():`` (or pass it to ``run_until_complete(instruments=[...])``). It is
an ordinary flowtrace instrument: it receives the run's events and turns each into the
matching hook call with live objects (the flow, the finalized nodes, the data, the
``Stream``), so several can be active at once, in order, and every hook fires —
including the seven Flowno declares but never calls:

=============================  ==========================================================
hook                           fired on
=============================  ==========================================================
``on_flow_start``              ``FlowStarted``
``on_flow_end``                ``FlowFinished`` (every way a run ends, not only success)
``on_node_registered``         finalization while the instrument is active, and
                               ``NodeRegistered`` at run start (once per node and flow)
``on_node_visited``            ``NodeVisited``
``on_resolution_queue_put``    ``ResolutionQueuePut`` (also stall-driven puts)
``on_resolution_queue_get``    ``ResolutionQueueGet``
``on_solving_nodes``           ``SolutionFound``
``on_node_resumed``            ``NodeStatusChanged`` to ``queued``
``on_node_pause``              ``NodeStatusChanged`` to ``waiting``
``on_node_stalled``            ``NodeStatusChanged`` to ``stalled``
``on_node_status_change``      every ``NodeStatusChanged`` (real changes only)
``on_node_emitted_data``       ``DataEmitted`` (the live data tuple)
``on_node_generation_limit``   ``GenerationLimitReached``
``on_node_error``              ``NodeErrored`` (the live exception)
``on_defaulted_inputs_set``    ``InputsGathered`` (the defaulted port indices)
``node_lifecycle``             run level 0: ``NodeStarted`` … ``NodeFinished``; run
                               level 1: around each ``DataEmitted`` item
``on_barrier_node_write``      ``BarrierWaitBegan`` … ``BarrierWaitEnded``
``on_barrier_node_read``       ``BarrierCountdown``
``on_stream_start``            a stream's first read, stall or end
``on_stream_next``             ``StreamItemConsumed`` (the live item)
``on_stream_end``              ``StreamEnded``
``on_stream_error``            ``NodeErrored`` of a producer with live readers
=============================  ==========================================================
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from flowtrace import events as ev
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
    _barriers: dict[tuple[str, int], AbstractContextManager[Any]]
    _streams_started: dict[int, Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> FlowInstrument:
        # State lives here so subclasses need not call super().__init__().
        self = super().__new__(cls)
        self._registered = {}
        self._flows = {}
        self._lifecycles = {}
        self._barriers = {}
        self._streams_started = {}
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
        ev.NodeRegistered: "_ev_registered",
        ev.NodeVisited: "_ev_visited",
        ev.ResolutionQueuePut: "_ev_put",
        ev.ResolutionQueueGet: "_ev_get",
        ev.SolutionFound: "_ev_solution",
        ev.NodeStatusChanged: "_ev_status",
        ev.NodeStarted: "_ev_started",
        ev.NodeFinished: "_ev_finished",
        ev.InputsGathered: "_ev_gathered",
        ev.DataEmitted: "_ev_data",
        ev.GenerationLimitReached: "_ev_limit",
        ev.NodeErrored: "_ev_errored",
        ev.BarrierWaitBegan: "_ev_barrier_began",
        ev.BarrierWaitEnded: "_ev_barrier_ended",
        ev.BarrierCountdown: "_ev_barrier_count",
        ev.StreamItemConsumed: "_ev_stream_item",
        ev.StreamStalled: "_ev_stream_stalled",
        ev.StreamEnded: "_ev_stream_ended",
    }

    def on_event(self, event: ev.Event) -> None:
        name = self._DISPATCH.get(type(event))
        if name is None:
            return
        flow = self._flow(event.run_id)
        if flow is None:
            return
        getattr(self, name)(flow, event)

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

    def _ev_flow_started(self, flow: Any, e: ev.FlowStarted) -> None:
        self.on_flow_start(flow)

    def _ev_flow_finished(self, flow: Any, e: ev.FlowFinished) -> None:
        for cm in list(self._lifecycles.values()):
            with contextlib.suppress(Exception):
                cm.__exit__(None, None, None)
        self._lifecycles.clear()
        self._barriers.clear()
        self._streams_started.clear()
        self.on_flow_end(flow)

    def _ev_registered(self, flow: Any, e: ev.NodeRegistered) -> None:
        node = self._node(flow, e.node.node_id)
        if node is not None:
            self._registered_live(flow, node)

    def _ev_visited(self, flow: Any, e: ev.NodeVisited) -> None:
        self.on_node_visited(flow, self._node(flow, e.node_id))

    def _ev_put(self, flow: Any, e: ev.ResolutionQueuePut) -> None:
        self.on_resolution_queue_put(flow, self._node(flow, e.node_id))

    def _ev_get(self, flow: Any, e: ev.ResolutionQueueGet) -> None:
        self.on_resolution_queue_get(flow, self._node(flow, e.node_id))

    def _ev_solution(self, flow: Any, e: ev.SolutionFound) -> None:
        self.on_solving_nodes(
            flow, self._node(flow, e.head), [self._node(flow, n) for n in e.leaves]
        )

    def _ev_status(self, flow: Any, e: ev.NodeStatusChanged) -> None:
        node = self._node(flow, e.node_id)
        old = _status_object(e.old, e.run_level, None)
        new = _status_object(e.new, e.run_level, node.input(e.port) if e.port is not None else None)
        self.on_node_status_change(flow, node, old, new)
        rt = node._rt
        if e.new == "queued":
            self.on_node_resumed(flow, node, rt.run_level if rt is not None else 0)
        elif e.new == "waiting":
            self.on_node_pause(flow, node, e.run_level if e.run_level is not None else 0)
        elif e.new == "stalled" and e.port is not None:
            self.on_node_stalled(flow, node, node.input(e.port))

    def _ev_started(self, flow: Any, e: ev.NodeStarted) -> None:
        node = self._node(flow, e.node_id)
        cm = self.node_lifecycle(flow, node, 0)
        cm.__enter__()
        self._lifecycles[(e.node_id, 0)] = cm

    def _ev_finished(self, flow: Any, e: ev.NodeFinished) -> None:
        cm = self._lifecycles.pop((e.node_id, 0), None)
        if cm is not None:
            cm.__exit__(None, None, None)

    def _ev_gathered(self, flow: Any, e: ev.InputsGathered) -> None:
        self.on_defaulted_inputs_set(flow, self._node(flow, e.node_id), list(e.defaulted_ports))

    def _ev_data(self, flow: Any, e: ev.DataEmitted) -> None:
        node = self._node(flow, e.node_id)
        store = node._store
        data = store.last_data if e.run_level == 0 else store.chunk_data
        if e.run_level == 1:
            with self.node_lifecycle(flow, node, 1):
                self.on_node_emitted_data(flow, node, data, 1)
        else:
            self.on_node_emitted_data(flow, node, data, 0)

    def _ev_limit(self, flow: Any, e: ev.GenerationLimitReached) -> None:
        self.on_node_generation_limit(flow, self._node(flow, e.node_id), e.limit)

    def _ev_errored(self, flow: Any, e: ev.NodeErrored) -> None:
        node = self._node(flow, e.node_id)
        error = node._rt.error if node._rt is not None else None
        if error is None:
            error = RuntimeError(e.error.message)
        self.on_node_error(flow, node, error)
        for conn in node._stream_conns:
            for stream in conn.consumer._rt.streams:
                if stream.output.node is node and not stream._done:
                    self.on_stream_error(stream, error)

    def _ev_barrier_began(self, flow: Any, e: ev.BarrierWaitBegan) -> None:
        node = self._node(flow, e.node_id)
        data = node._store.last_data if e.run_level == 0 else node._store.chunk_data
        cm = self.on_barrier_node_write(flow, node, data, e.run_level)
        cm.__enter__()
        self._barriers[(e.node_id, e.run_level)] = cm

    def _ev_barrier_ended(self, flow: Any, e: ev.BarrierWaitEnded) -> None:
        cm = self._barriers.pop((e.node_id, e.run_level), None)
        if cm is not None:
            cm.__exit__(None, None, None)

    def _ev_barrier_count(self, flow: Any, e: ev.BarrierCountdown) -> None:
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

    def _ev_stream_item(self, flow: Any, e: ev.StreamItemConsumed) -> None:
        stream = self._live_stream(flow, e.consumer, e.port)
        if stream is not None:
            self.on_stream_next(stream, stream._last)

    def _ev_stream_stalled(self, flow: Any, e: ev.StreamStalled) -> None:
        self._live_stream(flow, e.consumer, e.port)

    def _ev_stream_ended(self, flow: Any, e: ev.StreamEnded) -> None:
        stream = self._live_stream(flow, e.consumer, e.port)
        if stream is not None:
            self._streams_started.pop(id(stream), None)
            self.on_stream_end(stream)


def _status_object(status: str, run_level: int | None, port_ref: Any) -> Any:
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
        return NodeTaskStatus.Stalled(port_ref)
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
