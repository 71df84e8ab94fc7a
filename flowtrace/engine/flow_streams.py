"""The behaviour of streams in a flow (their data is :mod:`flowtrace.engine.streams`).

Producers: a streaming node's run emits items at run level 1, parks after each until a
reader wants more, takes the cancellations its readers asked for (thrown at its
``yield``, or where it waits on an offloaded call) and ends with a final value (given,
or accumulated from the items). Consumers: opening a stream on a producer's generation,
reading it item by item, stalling when no item is there (the producer is demanded),
resuming, ending and cancelling.

The functions here are methods of :class:`~flowtrace.engine.flow.Flow` (``self`` is the
flow): ``flow.py`` binds each in the class body.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flowtrace.engine.flow_errors import NodeExecutionError
from flowtrace.engine.flow_eval import _not_a_tuple
from flowtrace.engine.flow_loop import ParkCommand, _yield
from flowtrace.engine.flow_state import (
    _K_CANCEL_REQ,
    _K_CANCELLED,
    _K_CONSUMED,
    _K_DATA,
    _K_ENDED,
    _K_RESUMED,
    _K_STALLED,
    _NOLIMIT,
)
from flowtrace.engine.generation import Generation, cmp_generation
from flowtrace.engine.node import FinalizedNode
from flowtrace.engine.streams import _MISSING, Stream, StreamCancelled
from flowtrace.engine.tasks import Task
from flowtrace.events import (
    DataEmitted,
    StreamCancelRequested,
    StreamEnded,
    StreamItemConsumed,
    StreamResumed,
    StreamStalled,
)
from flowtrace.events import StreamCancelled as StreamCancelledEvent

if TYPE_CHECKING:
    from flowtrace.engine.flow import Flow


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


async def _run_stream(self: Flow, node: FinalizedNode, agen: Any, eval_gen: Generation) -> bool:
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
        pending: Sequence[Stream[Any]] = rt.pending_cancels
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


def _emit_thrown(self: Flow, node: FinalizedNode, gen: Generation, handled: bool) -> None:
    """Report a cancellation thrown at an offloaded call (see ``_stream_cancel``)."""
    rt = node._rt
    if rt.cancels_thrown:
        thrown, rt.cancels_thrown = rt.cancels_thrown, ()
        self._emit_cancelled(node, gen, thrown, handled)


def _emit_cancelled(
    self: Flow, node: FinalizedNode, gen: Generation, pending: Sequence[Stream[Any]], handled: bool
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


def _open_stream(
    self: Flow, consumer: FinalizedNode, port: int, producer: FinalizedNode, output: int
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


def _current_main(producer: FinalizedNode) -> int:
    gen = producer._store.gen
    if gen is None:
        return 0
    return gen[0] + 1 if len(gen) == 1 else gen[0]


def _stream_try_read(self: Flow, stream: Stream[Any]) -> Any:
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


def _end_stream(self: Flow, stream: Stream[Any], cancelled: bool) -> None:
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


def _stall(self: Flow, task: Task, stream: Stream[Any]) -> None:
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


def _after_stall(self: Flow, stream: Stream[Any]) -> None:
    conn = stream._conn
    conn.consumer._rt.status = "executing"  # reported by the StreamResumed below
    bus = self._bus
    if bus.listening[_K_RESUMED]:
        bus.emit(StreamResumed, conn.consumer.node_id, conn.port, conn.producer.node_id)


def _stream_cancel(self: Flow, stream: Stream[Any], propagated: bool) -> None:
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
