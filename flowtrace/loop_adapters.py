"""Flowno-style event-loop instruments, built on the event stream.

:class:`EventLoopInstrument` has every hook of Flowno's
``flowno.core.event_loop.instrumentation.EventLoopInstrument`` as a no-op method;
subclass it (together with ``typing.Generic`` if you like), override what you need and
activate it with ``with MyInstrument():`` — nested instruments all receive every call,
the innermost first, as in Flowno — or pass it to ``run_until_complete(instruments=[...])``.
It is an ordinary flowtrace instrument that turns the loop's events into hook calls
with live objects (the queue, the item, the :class:`~flowtrace.engine.sockets.SocketHandle`,
the bytes, the task's coroutine):

==============================  ==========================================================
hook                            fired on
==============================  ==========================================================
``on_queue_put`` / ``_get``     ``AsyncQueuePut`` / ``AsyncQueueGot`` (``immediate``: the
                                task did not block on the queue first)
``on_socket_connect_start``     ``SocketOpBegan(operation="connect")``
``on_socket_connect_ready``     ``SocketOpEnded(operation="connect", outcome="ready")``
``on_socket_{recv,send,accept}  ``SocketOpBegan`` / ``SocketOpEnded`` of that operation
_start`` / ``_ready``           (``immediate``: it completed without waiting)
``on_socket_recv_data``         ``SocketOpEnded`` of a ``recv`` (the bytes received)
``on_socket_send_data``         ``SocketOpEnded`` of a ``send`` (bytes offered, sent)
``on_socket_close``             ``SocketClosed``
``on_tls_handshake_complete``   ``TLSHandshakeCompleted``
``on_task_completed`` /         ``TaskFinished`` (returned / failed / cancelled), with the
``_error`` / ``_cancelled``     task's coroutine and its live result or exception
``on_task_before_send`` /       around every step of every task: not events (that would
``_after_send`` / ``_throw``    double every trace) but the loop's ``step_watchers``,
                                registered only while an instrument overriding one of
                                these four hooks is attached
==============================  ==========================================================

:class:`PrintInstrument` prints a line per socket, TLS and queue hook (``print`` is a
class attribute, so a subclass can redirect it); :class:`LogInstrument` logs the same
lines at debug level (logger ``flowtrace.loop_adapters``).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, TypeVar

from flowtrace import events as ev
from flowtrace.instrument import InstrumentBase, _enter, _exit, is_strict

__all__ = [
    "EventLoopInstrument",
    "PrintInstrument",
    "LogInstrument",
    "InstrumentationMetadata",
    "ReadySocketInstrumentationMetadata",
    "SocketRecvDataMetadata",
    "SocketSendDataMetadata",
    "SocketConnectStartMetadata",
    "SocketConnectReadyMetadata",
    "TLSHandshakeMetadata",
    "TaskSendMetadata",
    "TaskThrowMetadata",
    "get_current_instrument",
]

logger = logging.getLogger("flowtrace.loop_adapters")

T = TypeVar("T")


# --------------------------------------------------------------------------- metadata


@dataclass
class InstrumentationMetadata:
    """A socket operation: the task (its coroutine), the command (``None``: flowtrace
    does not expose its internal commands), the socket, whether it completed at once."""

    _task: Any
    _command: Any
    socket_handle: Any
    immediate: bool = False
    start_time: float = field(default_factory=time.time)


@dataclass
class ReadySocketInstrumentationMetadata(InstrumentationMetadata):
    finish_time: float = field(default_factory=time.time)


@dataclass
class SocketRecvDataMetadata:
    socket_handle: Any
    data: bytes


@dataclass
class SocketSendDataMetadata:
    socket_handle: Any
    data: bytes
    bytes_sent: int


@dataclass
class SocketConnectStartMetadata:
    socket_handle: Any
    target_address: Any
    immediate: bool = False
    start_time: float = field(default_factory=time.time)


@dataclass
class SocketConnectReadyMetadata(SocketConnectStartMetadata):
    finish_time: float = field(default_factory=time.time)


@dataclass
class TLSHandshakeMetadata:
    socket_handle: Any
    cipher: tuple[str, str, int] | None
    version: str | None
    server_hostname: str | None
    start_time: float
    finish_time: float = field(default_factory=time.time)


@dataclass
class TaskSendMetadata:
    task: Any
    send_value: Any


@dataclass
class TaskThrowMetadata:
    task: Any
    exception: BaseException


_STEP_HOOKS = (
    "on_task_before_send",
    "on_task_after_send",
    "on_task_before_throw",
    "on_task_after_throw",
)

#: The nested ``with`` instruments, outermost first (Flowno's ``_instrument_stack``).
_instrument_stack: contextvars.ContextVar[tuple[EventLoopInstrument, ...]] = contextvars.ContextVar(
    "flowtrace_loop_instruments", default=()
)
#: What is entered in flowtrace's instrument context for that stack.
_entered: contextvars.ContextVar[EventLoopInstrument | None] = contextvars.ContextVar(
    "flowtrace_loop_instrument_entry", default=None
)


class EventLoopInstrument(InstrumentBase):
    """Flowno's event-loop hooks on top of flowtrace events (see the module docstring)."""

    kinds: Collection[type[ev.Event]] | None = (
        ev.LoopStarted,
        ev.LoopExited,
        ev.TaskFinished,
        ev.WaitBegan,
        ev.AsyncQueuePut,
        ev.AsyncQueueGot,
        ev.SocketOpBegan,
        ev.SocketOpEnded,
        ev.SocketClosed,
        ev.TLSHandshakeCompleted,
    )

    _queue_waits: dict[int, bool]
    _starts: dict[tuple[int, int], float]
    _watched: Any
    _tokens: list[tuple[contextvars.Token[Any], contextvars.Token[Any], Any]]

    def __new__(cls, *args: Any, **kwargs: Any) -> EventLoopInstrument:
        # State lives here so subclasses need not call super().__init__().
        self = super().__new__(cls)
        self._queue_waits = {}
        self._starts = {}
        self._watched = None
        self._tokens = []
        return self

    # -- Flowno hooks (no-ops) ----------------------------------------------------------

    def on_queue_get(self, queue: Any, item: Any, immediate: bool) -> None:
        pass

    def on_queue_put(self, queue: Any, item: Any, immediate: bool) -> None:
        pass

    def on_socket_connect_start(self, metadata: SocketConnectStartMetadata) -> None:
        pass

    def on_socket_connect_ready(self, metadata: SocketConnectReadyMetadata) -> None:
        pass

    def on_socket_recv_start(self, metadata: InstrumentationMetadata) -> None:
        pass

    def on_socket_recv_ready(self, metadata: ReadySocketInstrumentationMetadata) -> None:
        pass

    def on_socket_recv_data(self, metadata: SocketRecvDataMetadata) -> None:
        pass

    def on_socket_send_data(self, metadata: SocketSendDataMetadata) -> None:
        pass

    def on_tls_handshake_complete(self, metadata: TLSHandshakeMetadata) -> None:
        pass

    def on_socket_send_start(self, metadata: InstrumentationMetadata) -> None:
        pass

    def on_socket_send_ready(self, metadata: ReadySocketInstrumentationMetadata) -> None:
        pass

    def on_socket_accept_start(self, metadata: InstrumentationMetadata) -> None:
        pass

    def on_socket_accept_ready(self, metadata: ReadySocketInstrumentationMetadata) -> None:
        pass

    def on_socket_close(self, metadata: InstrumentationMetadata) -> None:
        pass

    def on_task_before_send(self, metadata: TaskSendMetadata) -> None:
        pass

    def on_task_after_send(self, metadata: TaskSendMetadata, command: Any) -> None:
        pass

    def on_task_before_throw(self, metadata: TaskThrowMetadata) -> None:
        pass

    def on_task_after_throw(self, metadata: TaskThrowMetadata, command: Any) -> None:
        pass

    def on_task_completed(self, task: Any, result: Any) -> None:
        pass

    def on_task_error(self, task: Any, exception: BaseException) -> None:
        pass

    def on_task_cancelled(self, task: Any, exception: BaseException) -> None:
        pass

    # -- activation ------------------------------------------------------------------------

    def __enter__(self) -> Any:
        stack = (*_instrument_stack.get(), self)
        previous = _entered.get()
        if previous is not None:
            _exit(previous)
        entry: EventLoopInstrument = self if len(stack) == 1 else _CompositeInstrument(stack)
        _enter(entry)
        self._tokens.append((_instrument_stack.set(stack), _entered.set(entry), previous))
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._tokens:
            return
        stack_token, entry_token, previous = self._tokens.pop()
        entry = _entered.get()
        if entry is not None:
            _exit(entry)
        _entered.reset(entry_token)
        _instrument_stack.reset(stack_token)
        if previous is not None:
            _enter(previous)

    # -- event → hook ------------------------------------------------------------------

    def _wants_steps(self) -> bool:
        cls = type(self)
        return any(getattr(cls, h) is not getattr(EventLoopInstrument, h) for h in _STEP_HOOKS)

    def on_event(self, event: ev.Event) -> None:
        from flowtrace.engine.loop import current_event_loop

        loop = current_event_loop()
        if loop is None:
            return
        if self._watched is not loop and not isinstance(event, ev.LoopExited):
            self._watch(loop)
        handler = _DISPATCH.get(type(event))
        if handler is not None:
            handler(self, loop, event)

    def _watch(self, loop: Any) -> None:
        self._unwatch()
        self._watched = loop
        if self._wants_steps():
            loop.step_watchers.append(_Stepper(self))

    def _unwatch(self) -> None:
        loop = self._watched
        if loop is not None:
            loop.step_watchers[:] = [
                w
                for w in loop.step_watchers
                if not (isinstance(w, _Stepper) and w.instrument is self)
            ]
        self._watched = None

    def _loop_exited(self, loop: Any, e: ev.LoopExited) -> None:
        self._unwatch()
        self._queue_waits.clear()
        self._starts.clear()

    def _task_finished(self, loop: Any, e: ev.TaskFinished) -> None:
        task = loop._tasks.get(e.task_id)
        if task is None:
            return
        if e.outcome == "returned":
            self.on_task_completed(task.coro, task.result)
        elif e.outcome == "failed":
            self.on_task_error(task.coro, task.exception)
        else:
            self.on_task_cancelled(task.coro, task.exception)

    def _wait_began(self, loop: Any, e: ev.WaitBegan) -> None:
        if e.primitive == "queue":
            self._queue_waits[e.task_id] = True

    def _queue_item(self, loop: Any, e: ev.AsyncQueuePut | ev.AsyncQueueGot) -> None:
        queue = loop.live_objects.get(e.queue_id)
        item = loop.live_value if loop.live_value is not None else e.item
        immediate = not self._queue_waits.pop(e.task_id, False)
        if isinstance(e, ev.AsyncQueuePut):
            self.on_queue_put(queue, item, immediate)
        else:
            self.on_queue_get(queue, item, immediate)

    def _task_coro(self, loop: Any, task_id: int | None) -> Any:
        task = loop._tasks.get(task_id) if task_id is not None else None
        return task.coro if task is not None else None

    def _op_began(self, loop: Any, e: ev.SocketOpBegan) -> None:
        now = time.time()
        self._starts[(e.socket_id, e.task_id)] = now
        handle = loop.live_objects.get(e.socket_id)
        if e.operation == "connect":
            self.on_socket_connect_start(SocketConnectStartMetadata(handle, e.target, False, now))
            return
        hook = _START_HOOKS.get(e.operation)
        if hook is not None:
            meta = InstrumentationMetadata(
                self._task_coro(loop, e.task_id), None, handle, False, now
            )
            getattr(self, hook)(meta)

    def _op_ended(self, loop: Any, e: ev.SocketOpEnded) -> None:
        now = time.time()
        start = self._starts.pop((e.socket_id, e.task_id), now)
        if e.outcome != "ready":
            return
        handle = loop.live_objects.get(e.socket_id)
        immediate = not e.waited
        if e.operation == "connect":
            self.on_socket_connect_ready(
                SocketConnectReadyMetadata(handle, e.target, immediate, start, now)
            )
            return
        hook = _READY_HOOKS.get(e.operation)
        if hook is None:
            return
        coro = self._task_coro(loop, e.task_id)
        getattr(self, hook)(
            ReadySocketInstrumentationMetadata(coro, None, handle, immediate, start, now)
        )
        live = loop.live_value
        if e.operation == "recv":
            self.on_socket_recv_data(SocketRecvDataMetadata(handle, live or b""))
        elif e.operation == "send":
            self.on_socket_send_data(SocketSendDataMetadata(handle, live or b"", e.nbytes or 0))

    def _closed(self, loop: Any, e: ev.SocketClosed) -> None:
        handle = loop.live_objects.get(e.socket_id)
        self.on_socket_close(
            InstrumentationMetadata(self._task_coro(loop, e.task_id), None, handle)
        )

    def _tls(self, loop: Any, e: ev.TLSHandshakeCompleted) -> None:
        handle = loop.live_objects.get(e.socket_id)
        cipher = (e.cipher, e.version or "", e.bits or 0) if e.cipher is not None else None
        start = self._starts.get((e.socket_id, e.task_id), time.time())
        self.on_tls_handshake_complete(
            TLSHandshakeMetadata(handle, cipher, e.version, e.server_hostname, start)
        )


_START_HOOKS = {
    "recv": "on_socket_recv_start",
    "send": "on_socket_send_start",
    "accept": "on_socket_accept_start",
}
_READY_HOOKS = {
    "recv": "on_socket_recv_ready",
    "send": "on_socket_send_ready",
    "accept": "on_socket_accept_ready",
}

_DISPATCH: dict[type, Callable[[EventLoopInstrument, Any, Any], None]] = {
    ev.LoopExited: EventLoopInstrument._loop_exited,
    ev.TaskFinished: EventLoopInstrument._task_finished,
    ev.WaitBegan: EventLoopInstrument._wait_began,
    ev.AsyncQueuePut: EventLoopInstrument._queue_item,
    ev.AsyncQueueGot: EventLoopInstrument._queue_item,
    ev.SocketOpBegan: EventLoopInstrument._op_began,
    ev.SocketOpEnded: EventLoopInstrument._op_ended,
    ev.SocketClosed: EventLoopInstrument._closed,
    ev.TLSHandshakeCompleted: EventLoopInstrument._tls,
}


class _Stepper:
    """A loop step watcher that calls one instrument's four per-step task hooks."""

    __slots__ = ("failed", "instrument")

    def __init__(self, instrument: EventLoopInstrument) -> None:
        self.instrument = instrument
        self.failed = False

    def before_step(self, task: Any, value: Any, exc: BaseException | None) -> None:
        if self.failed:
            return
        try:
            if exc is None:
                self.instrument.on_task_before_send(TaskSendMetadata(task.coro, value))
            else:
                self.instrument.on_task_before_throw(TaskThrowMetadata(task.coro, exc))
        except Exception:
            self._fail()

    def after_step(self, task: Any, value: Any, exc: BaseException | None, command: Any) -> None:
        if self.failed:
            return
        try:
            if exc is None:
                self.instrument.on_task_after_send(TaskSendMetadata(task.coro, value), command)
            else:
                self.instrument.on_task_after_throw(TaskThrowMetadata(task.coro, exc), command)
        except Exception:
            self._fail()

    def _fail(self) -> None:
        if is_strict():
            raise
        self.failed = True
        logger.exception(
            "flowtrace: instrument %r raised in a task hook and was switched off for this run",
            self.instrument,
        )


class _CompositeInstrument(EventLoopInstrument):
    """Several nested instruments as one: every event goes to each, innermost first."""

    def __init__(self, instruments: tuple[EventLoopInstrument, ...] | list[Any]) -> None:
        self._instruments = tuple(instruments)

    def on_event(self, event: ev.Event) -> None:
        for instrument in reversed(self._instruments):
            instrument.on_event(event)

    def __getattribute__(self, name: str) -> Any:
        # Hook calls made on the composite (Flowno's get_current_instrument() users)
        # go to every member, innermost first.
        if name in _HOOK_NAMES:
            members = object.__getattribute__(self, "_instruments")

            def fan_out(*args: Any) -> None:
                for instrument in reversed(members):
                    getattr(instrument, name)(*args)

            return fan_out
        return object.__getattribute__(self, name)


_HOOK_NAMES = frozenset(
    name for name in vars(EventLoopInstrument) if name.startswith("on_") and name != "on_event"
)

EMPTY_INSTRUMENT: Final[EventLoopInstrument] = EventLoopInstrument()


def get_current_instrument() -> EventLoopInstrument:
    """The ``with``-active instrument (a composite when several are nested), else a
    no-op one."""
    stack = _instrument_stack.get()
    if not stack:
        return EMPTY_INSTRUMENT
    if len(stack) == 1:
        return stack[0]
    return _CompositeInstrument(stack)


class PrintInstrument(EventLoopInstrument):
    """Prints one bracketed line per socket, TLS and queue hook."""

    print: ClassVar[Callable[..., None]] = staticmethod(print)

    def _out(self, text: str) -> None:
        type(self).print(text)

    @staticmethod
    def _peer(handle: Any) -> str:
        return handle._target() if handle is not None else "?"

    def on_queue_put(self, queue: Any, item: Any, immediate: bool) -> None:
        self._out(f"[QUEUE-PUT] Item put in queue: {item!r}")

    def on_queue_get(self, queue: Any, item: Any, immediate: bool) -> None:
        self._out(f"[QUEUE-GET] Item retrieved from queue: {item!r}")

    def on_socket_connect_start(self, metadata: SocketConnectStartMetadata) -> None:
        self._out(f"[CONNECT] Connecting to {metadata.target_address}.")

    def on_socket_connect_ready(self, metadata: SocketConnectReadyMetadata) -> None:
        took = metadata.finish_time - metadata.start_time
        self._out(f"[CONNECT] Connected {self._peer(metadata.socket_handle)} in {took:.4f}s")

    def on_socket_send_start(self, metadata: InstrumentationMetadata) -> None:
        self._out(f"[SEND] Starting send on {self._peer(metadata.socket_handle)}")

    def on_socket_send_ready(self, metadata: ReadySocketInstrumentationMetadata) -> None:
        took = metadata.finish_time - metadata.start_time
        self._out(f"[SEND] Completed send on {self._peer(metadata.socket_handle)} in {took:.4f}s")

    def on_socket_recv_start(self, metadata: InstrumentationMetadata) -> None:
        self._out(f"[RECV] Waiting for data on {self._peer(metadata.socket_handle)}")

    def on_socket_recv_ready(self, metadata: ReadySocketInstrumentationMetadata) -> None:
        took = metadata.finish_time - metadata.start_time
        self._out(f"[RECV] Data ready on {self._peer(metadata.socket_handle)} in {took:.4f}s")

    def on_socket_recv_data(self, metadata: SocketRecvDataMetadata) -> None:
        preview = metadata.data[:50].decode("utf-8", "replace")
        self._out(f"[RECV-DATA] Got {len(metadata.data)} bytes: {preview!r}")

    def on_socket_send_data(self, metadata: SocketSendDataMetadata) -> None:
        preview = metadata.data[:50].decode("utf-8", "replace")
        self._out(f"[SEND-DATA] Sent {metadata.bytes_sent}/{len(metadata.data)} bytes: {preview!r}")

    def on_socket_accept_ready(self, metadata: ReadySocketInstrumentationMetadata) -> None:
        self._out(f"[ACCEPT] Accepted on {self._peer(metadata.socket_handle)}")

    def on_socket_close(self, metadata: InstrumentationMetadata) -> None:
        self._out(f"[CLOSE] Connection closed {self._peer(metadata.socket_handle)}")

    def on_tls_handshake_complete(self, metadata: TLSHandshakeMetadata) -> None:
        took = metadata.finish_time - metadata.start_time
        cipher = metadata.cipher[0] if metadata.cipher else "unknown"
        self._out(f"[TLS] Handshake complete in {took:.4f}s: {metadata.version}, {cipher}")


class LogInstrument(PrintInstrument):
    """Like :class:`PrintInstrument`, to the ``flowtrace.loop_adapters`` logger (debug)."""

    def _out(self, text: str) -> None:
        logger.debug("%s", text)
