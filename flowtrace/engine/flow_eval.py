"""Node evaluation: one node task's loop over its runs — gather the inputs (defaults,
lineage records, the level-0 read barrier), call the user's function, store a mono
result (limit check, consumers put on the queue) and park — and what happens when a
node fails (``NodeErrored``, then the run aborts or, with
``terminate_on_node_error=False``, goes on). A streaming run is
``Flow._run_stream`` (flow_streams.py).

The functions here are methods of :class:`~flowtrace.engine.flow.Flow` (``self`` is the
flow): ``flow.py`` binds each in the class body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowtrace.codec import JsonValue, ValueCodec
from flowtrace.engine.flow_errors import NodeExecutionError, TerminateLimitReached
from flowtrace.engine.flow_loop import ParkCommand, _yield
from flowtrace.engine.flow_state import (
    _K_BCOUNT,
    _K_DATA,
    _K_ERRORED,
    _K_FINISHED,
    _K_GATHERED,
    _K_LIMIT,
    _K_STARTED,
    _K_STATUS,
    _NOLIMIT,
)
from flowtrace.engine.generation import Generation, cmp_generation, inc_generation
from flowtrace.engine.loop import error_info
from flowtrace.engine.node import FinalizedInputPort, FinalizedNode, MissingDefaultError
from flowtrace.events import (
    BarrierCountdown,
    DataEmitted,
    ErrorPhase,
    GenerationLimitReached,
    InputRead,
    InputsGathered,
    NodeErrored,
    NodeFinished,
    NodeStarted,
    NodeStatus,
    NodeStatusChanged,
)

if TYPE_CHECKING:
    from flowtrace.engine.flow import Flow


def _not_a_tuple(node: FinalizedNode, verb: str, value: Any) -> TypeError:
    """The error for a multi-output node whose result or item is not one value per
    output (``verb``: ``return`` or ``yield``)."""
    plural = "a tuple" if verb == "return" else "tuples"
    return TypeError(
        f"{node.node_id} has multiple outputs and must {verb} {plural} "
        f"(one value per output), got {type(value).__name__}: {value!r}"
    )


def _encode_values(self: Flow, data: Any) -> tuple[JsonValue, ...]:
    encode = self._bus.codec.encode
    if isinstance(data, tuple):
        if len(data) == 1:
            return (encode(data[0]),)
        return tuple([encode(v) for v in data])
    return (encode(data),)


def _set_status(
    self: Flow,
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


async def _node_main(self: Flow, node: FinalizedNode) -> None:
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


def _start_run(self: Flow, node: FinalizedNode) -> tuple[Any, Generation] | None:
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


def _finish_mono(self: Flow, node: FinalizedNode, value: Any, eval_gen: Generation) -> bool:
    """Store a coroutine's result (wrapped for a single-output node)."""
    data = self._output_data(node, value, type(node._draft_node)._wrap_single)
    if data is None:
        return self._node_failed(node, _not_a_tuple(node, "return", value), "call")
    return self._store_result(node, data, eval_gen)


def _output_data(node: FinalizedNode, value: Any, single: bool) -> tuple[Any, ...] | None:
    """The data tuple a result or item is stored as: ``(value,)`` for a single-output
    node, the value as a tuple for a multi-output one (``None`` if it is not one)."""
    return (value,) if single else _as_output_tuple(node, value)


def _as_output_tuple(node: FinalizedNode, value: Any) -> tuple[Any, ...] | None:
    if isinstance(value, tuple):
        return value
    if isinstance(value, list):
        return tuple(value)
    return None


def _gather(self: Flow, node: FinalizedNode, eval_gen: Generation) -> tuple[list[Any], list[int]]:
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


def _store_result(self: Flow, node: FinalizedNode, data: Any, eval_gen: Generation) -> bool:
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
    self: Flow, node: FinalizedNode, gen: Generation, limit: Any, eval_gen: Generation
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


def _is_node_error(self: Flow, exc: BaseException) -> bool:
    """Whether ``exc``, escaping the user's code of the running node, is that node's
    error: anything but an interrupt (``KeyboardInterrupt``, ``SystemExit``) and
    the engine closing the task after the run (``GeneratorExit`` thrown in by
    ``close()`` while no task runs). ``asyncio.CancelledError``, a ``GeneratorExit``
    the node raised and custom ``BaseException`` subclasses are node errors."""
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return False
    return self.event_loop.running_task is not None


def _node_task_died(self: Flow, node: FinalizedNode, exc: BaseException) -> None:
    """A node's task ended with an exception the node's own handling did not take
    (it escaped the engine's code around the node): still that node's error, so
    the run ends with it instead of a deadlock."""
    rt = node._rt
    if rt is None or rt.status == "error" or self._aborted is not None:
        return
    if not self._is_node_error(exc):
        return
    self._node_failed(node, exc, "call")


def _node_failed(self: Flow, node: FinalizedNode, exc: BaseException, phase: ErrorPhase) -> bool:
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
            self.event_loop.make_ready(crt.task, None, NodeExecutionError(node.node_id, gen, exc))
    self._request_drain()
    return False
