"""A flow run's life cycle: begin (a fresh bus and run id, per-node state, limits,
``FlowStarted``), the root task that starts the schedule and waits for its end, and end
(``NodeFinished(abandoned)`` for nodes cut short, then always ``FlowFinished`` last),
for :meth:`Flow.run_until_complete` and :meth:`Flow.run_async`. How a run ends is in
the docstring of :mod:`flowtrace.engine.flow`.

The functions here are methods of :class:`~flowtrace.engine.flow.Flow` (``self`` is the
flow): ``flow.py`` binds each in the class body.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowtrace.codec import ValueCodec
from flowtrace.engine import gcpolicy
from flowtrace.engine.flow_context import _current_flow, _flows_by_run
from flowtrace.engine.flow_errors import NodeExecutionError, TerminateLimitReached
from flowtrace.engine.flow_loop import WaitFlowEndCommand, _yield
from flowtrace.engine.flow_state import _K_FINISHED, _NO_CONNS, _Runtime
from flowtrace.engine.loop import DeadlockError, error_info
from flowtrace.engine.node import Constant, FinalizedNode
from flowtrace.engine.resolve import component_firsts, source_starts
from flowtrace.engine.streams import ChunkLog, Connection
from flowtrace.events import (
    FlowFinished,
    FlowOutcome,
    FlowStarted,
    GraphInfo,
    NodeFinished,
    NodeInfo,
    PortInfo,
)
from flowtrace.instrument import Bus, active_instruments, new_run_id

if TYPE_CHECKING:
    from flowtrace.engine.flow import Flow


def run_until_complete(
    self: Flow,
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
    self: Flow,
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


def _open_offload(self: Flow, executors: Any) -> Any:
    """This run's offload session (:mod:`flowtrace.engine.offload`): cheap, as
    executors and wake-up sockets are made only when a call needs them."""
    from flowtrace.engine.offload import OffloadSession

    if self._running:
        raise RuntimeError(f"{self!r} is already running")
    session = OffloadSession(self, executors)
    self._offload_session = session
    return session


def _close_offload(self: Flow, session: Any) -> None:
    """Pending offloaded calls are cancelled and reported before ``FlowFinished``."""
    session.close()
    self._offload_session = None


def _outcome_of(self: Flow, exc: BaseException) -> FlowOutcome:
    if isinstance(exc, TerminateLimitReached):
        return "limit"
    if isinstance(exc, DeadlockError):
        return "deadlock"
    if isinstance(exc, KeyboardInterrupt | SystemExit | asyncio.CancelledError):
        return "interrupted"  # CancelledError: asyncio.run's answer to a Ctrl-C
    return "error"


def _begin_run(
    self: Flow,
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
    self: Flow,
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


def _prepare_nodes(self: Flow, fresh_stores: bool) -> None:
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


def _apply_limits(self: Flow, limits: Any) -> None:
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


def _emit_start(self: Flow) -> None:
    bus = self._bus
    if not bus.listening[FlowStarted.kind]:
        return
    codec = bus.codec
    infos = tuple([self._node_info(n, codec) for n in self._nodes])
    bus.emit(FlowStarted, self.flow_id, time.time_ns(), GraphInfo(infos))


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


async def _root(self: Flow) -> None:
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


def _start(self: Flow) -> None:
    for n in self._component_starts():
        self._put(n, None, "start")
    self._drain()


def _component_starts(self: Flow) -> list[FinalizedNode]:
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
