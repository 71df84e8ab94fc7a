"""The instrument bus: one event stream, many listeners, nearly free when nobody listens.

An *instrument* is any object with ``on_event(event)``. It may declare ``kinds``, the
event classes it wants (``None`` or missing = all). Each run owns a :class:`Bus` that
keeps, per event kind, the tuple of instruments that want it; the engine tests
``bus.listening[Kind.kind]`` — one list index — before it even builds an event, so an
unobserved kind costs one cheap check and no allocation.

Instruments are attached in three ways, and run in this order:

1. process defaults (:func:`add_default_instrument`), which ``flowtrace run`` uses so
   that every flow of an unmodified script is traced;
2. instruments entered with ``with instrument:`` (a context variable, outermost first),
   as Flowno code does;
3. instruments passed to a run (``run_until_complete(instruments=[...])``).

They can also be added to and removed from a running bus (:meth:`Bus.attach`,
:meth:`Bus.detach`); entering an instrument inside a running flow attaches it there.

An instrument that raises is detached and the failure is logged once (the run goes
on); in strict mode (:func:`set_strict`, or ``FLOWTRACE_STRICT_INSTRUMENTS=1``) the
exception propagates instead, which is what tests want.

Free text that may quote data — exception messages and tracebacks, the engine's
descriptions of waits, task and thread names — goes through the run's codec
(``ValueCodec.redact_text`` / ``error_text``) in the bus, once per event and before
any instrument sees it, so a redacted secret reaches no listener: not the trace file,
not a live exporter. Only the kinds that carry such text pay for it, and only when
the codec rewrites text.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar, runtime_checkable

import msgspec

from flowtrace.codec import DEFAULT_CODEC, ValueCodec
from flowtrace.events import (
    EVENT_TYPES,
    DeadlockDetected,
    ErrorInfo,
    Event,
    IOWaitBegan,
    IOWaitEnded,
    SocketClosed,
    SocketOpBegan,
    SocketOpEnded,
    TaskCreatedFromThread,
    TaskSpawned,
    WaitBegan,
    WaitInfo,
)

__all__ = [
    "Instrument",
    "InstrumentBase",
    "Bus",
    "add_default_instrument",
    "remove_default_instrument",
    "default_instruments",
    "active_instruments",
    "attached",
    "current_bus",
    "set_strict",
    "is_strict",
    "shutdown_instrument",
]

logger = logging.getLogger("flowtrace.instrument")

_N_KINDS = len(EVENT_TYPES)
#: Bound once: ``emit`` reads the clock for every event.
_clock = time.perf_counter_ns
_ALL_KINDS = tuple(range(_N_KINDS))


# ----------------------------------------------------------------------------- free text

#: Per event class: the names of its plain free-text fields (besides ``ErrorInfo``
#: fields, found by type, and ``DeadlockDetected.waiting``'s details).
_TEXT_FIELDS: dict[type[Event], tuple[str, ...]] = {
    IOWaitBegan: ("target",),
    IOWaitEnded: ("target",),
    SocketOpBegan: ("target",),
    SocketOpEnded: ("target",),
    SocketClosed: ("target",),
    WaitBegan: ("reason",),
    TaskSpawned: ("name",),
    TaskCreatedFromThread: ("thread_name",),
}


def _error_fields(event_type: type[Event]) -> tuple[str, ...]:
    return tuple(f.name for f in msgspec.structs.fields(event_type) if "ErrorInfo" in repr(f.type))


#: Per kind: ``(field name, what to do with it)`` pairs, or ``None`` for kinds with no
#: free text. ``"error"``: an ``ErrorInfo`` (or ``None``); ``"text"``: a ``str``;
#: ``"waiting"``: ``DeadlockDetected``'s tuple of ``WaitInfo``.
_FREE_TEXT: list[tuple[tuple[str, str], ...] | None] = []
for _t in EVENT_TYPES:
    _plan = tuple(
        [(name, "error") for name in _error_fields(_t)]
        + [(name, "text") for name in _TEXT_FIELDS.get(_t, ())]
        + ([("waiting", "waiting")] if _t is DeadlockDetected else [])
    )
    _FREE_TEXT.append(_plan or None)
del _t, _plan


def _text_rewriter(event_type: type[Event], codec: ValueCodec) -> Callable[[Event], Event] | None:
    """``f(event) -> event`` with the free text of an event of ``event_type`` passed
    through ``codec`` (the same event when nothing changed), or ``None`` when the kind
    carries no free text."""
    plan = _FREE_TEXT[event_type.kind]
    if plan is None:
        return None
    text = codec.text
    error_texts = codec.error_texts
    replace = msgspec.structs.replace

    def rewrite(event: Event) -> Event:
        changed: dict[str, Any] = {}
        for name, what in plan:
            value = getattr(event, name)
            if what == "error":
                if isinstance(value, ErrorInfo):
                    changed[name] = ErrorInfo(
                        value.type, *error_texts(value.message, value.traceback)
                    )
            elif what == "text":
                if isinstance(value, str):
                    changed[name] = text(value)
            else:
                changed[name] = tuple(
                    WaitInfo(w.node_id, w.status, w.waits_for, text(w.detail))
                    if isinstance(w, WaitInfo)
                    else w
                    for w in value
                )
        return replace(event, **changed) if changed else event

    return rewrite


@runtime_checkable
class Instrument(Protocol):
    """Anything with ``on_event(event)``: the one way events reach a listener.

    Optional attributes: ``kinds`` (a collection of event classes, or ``None`` for
    everything) and ``value_codec`` (a :class:`ValueCodec` the run should use to encode
    values, e.g. the recorder's ``--no-values``). Instruments that hold resources
    (files, exporters) also have ``shutdown()`` and ``force_flush(timeout_millis)``,
    as OpenTelemetry's span processors do; :class:`InstrumentBase` gives both as
    no-ops, and :func:`shutdown_instrument` calls whichever an object has.
    """

    def on_event(self, event: Event) -> None: ...


class InstrumentBase:
    """Convenience base: ``kinds = None`` (everything) and ``with instrument:`` support."""

    kinds: Collection[type[Event]] | None = None
    value_codec: ValueCodec | None = None

    def on_event(self, event: Event) -> None:  # pragma: no cover - meant to be overridden
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Deliver whatever the instrument buffers (write, export) within the timeout;
        true when it all went. Nothing is buffered here."""
        return True

    def shutdown(self) -> None:
        """Flush and release what the instrument holds; after it, events are ignored.
        Nothing is held here."""

    def __enter__(self) -> InstrumentBase:
        _enter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _exit(self)


# ----------------------------------------------------------------------------- registry

_defaults: list[Any] = []
_context_stack: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar(
    "flowtrace_instruments", default=()
)
_current_bus: contextvars.ContextVar[Bus | None] = contextvars.ContextVar(
    "flowtrace_bus", default=None
)
_strict = os.environ.get("FLOWTRACE_STRICT_INSTRUMENTS", "") not in ("", "0")


def set_strict(strict: bool) -> None:
    """In strict mode an instrument's exception propagates instead of detaching it."""
    global _strict
    _strict = strict


def is_strict() -> bool:
    return _strict


def add_default_instrument(instrument: Any) -> None:
    """Attach ``instrument`` to every run started from now on, in this process."""
    _check_instrument(instrument)
    _defaults.append(instrument)


def remove_default_instrument(instrument: Any) -> None:
    if instrument in _defaults:
        _defaults.remove(instrument)


def default_instruments() -> tuple[Any, ...]:
    return tuple(_defaults)


def _enter(instrument: Any) -> None:
    _check_instrument(instrument)
    _context_stack.set((*_context_stack.get(), instrument))
    bus = _current_bus.get()
    if bus is not None:
        bus.attach(instrument)


def _exit(instrument: Any) -> None:
    stack = list(_context_stack.get())
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is instrument:
            del stack[i]
            break
    _context_stack.set(tuple(stack))
    bus = _current_bus.get()
    if bus is not None:
        bus.detach(instrument)


@contextmanager
def attached(instrument: Any) -> Iterator[Any]:
    """``with attached(obj):`` — like ``with instrument:`` for any object with
    ``on_event`` (no base class needed)."""
    _enter(instrument)
    try:
        yield instrument
    finally:
        _exit(instrument)


def active_instruments(extra: Iterable[Any] = ()) -> list[Any]:
    """Instruments a run starting now gets: defaults, context, then ``extra``; each once."""
    seen: list[Any] = []
    for inst in (*_defaults, *_context_stack.get(), *extra):
        if not any(inst is s for s in seen):
            _check_instrument(inst)
            seen.append(inst)
    return seen


def current_bus() -> Bus | None:
    """The bus of the run executing in this context, if any."""
    return _current_bus.get()


def shutdown_instrument(instrument: Any) -> None:
    """Shut ``instrument`` down: ``shutdown()`` when it has one, else a ``close()``
    (instruments written before ``shutdown`` existed), else nothing."""
    stop = getattr(instrument, "shutdown", None)
    if stop is None:
        stop = getattr(instrument, "close", None)
    if callable(stop):
        stop()


def _check_instrument(instrument: Any) -> None:
    if not callable(getattr(instrument, "on_event", None)):
        raise TypeError(
            f"{instrument!r} is not an instrument: it needs an on_event(event) method "
            "(subclass flowtrace.InstrumentBase, or flowtrace.FlowInstrument for "
            "Flowno-style hooks)"
        )


# ----------------------------------------------------------------------------- the bus

E = TypeVar("E", bound=Event)
P = ParamSpec("P")


class Bus:
    """Per-run dispatcher. ``listening[kind]`` is the tuple of instruments for a kind.

    The engine's call sites follow one pattern::

        if bus.listening[NodeStarted.kind]:
            bus.emit(NodeStarted, node_id, generation, 0)

    :meth:`emit` fills the header (``seq``, ``t_ns``, ``run_id``), builds the event and
    delivers it to each subscriber's ``on_event`` in registration order. It is typed
    from the event class's own constructor: a missing, extra or mistyped field at a
    call site is a mypy error.
    """

    __slots__ = (
        "_handlers",
        "_instruments",
        "_owners",
        "_seq",
        "codec",
        "listening",
        "run_id",
        "strict",
    )

    # When the codec rewrites free text (redaction, no error text), ``_rebuild`` puts
    # one *text pass* in front of the listeners of each kind that carries such text:
    # ``_handlers[kind]`` becomes a single callable that rewrites the event once and
    # then delivers it to the real listeners, so ``emit`` itself stays as fast as ever
    # and no listener can see the text before it is rewritten.

    def __init__(
        self,
        run_id: str,
        instruments: Iterable[Any] = (),
        *,
        codec: ValueCodec | None = None,
        strict: bool | None = None,
    ) -> None:
        self.run_id = run_id
        self._seq = 0
        self._instruments: list[tuple[Any, tuple[int, ...]]] = []
        self.listening: list[tuple[Any, ...]] = [() for _ in range(_N_KINDS)]
        #: Per kind, every listener's ``on_event`` (or the text pass in front of
        #: them), in registration order.
        self._handlers: list[tuple[Callable[[Any], object], ...]] = list(self.listening)
        #: ``(callable, instrument)`` for every callable above: who to detach on failure.
        self._owners: list[tuple[Callable[..., object], Any]] = []
        self.strict = _strict if strict is None else strict
        chosen = codec
        for inst in instruments:
            self._add(inst)
            if chosen is None:
                chosen = getattr(inst, "value_codec", None)
        self.codec: ValueCodec = chosen if chosen is not None else DEFAULT_CODEC
        self._rebuild()

    # -- subscription -----------------------------------------------------------------

    @property
    def instruments(self) -> tuple[Any, ...]:
        return tuple(inst for inst, _ in self._instruments)

    def attach(self, instrument: Any) -> None:
        """Add an instrument to this running bus (no-op if already attached)."""
        _check_instrument(instrument)
        if any(inst is instrument for inst, _ in self._instruments):
            return
        self._add(instrument)
        self._rebuild()

    def detach(self, instrument: Any) -> None:
        before = len(self._instruments)
        self._instruments = [(i, k) for i, k in self._instruments if i is not instrument]
        if len(self._instruments) != before:
            self._rebuild()

    def _add(self, instrument: Any) -> None:
        kinds = getattr(instrument, "kinds", None)
        indexes = _ALL_KINDS if kinds is None else tuple(sorted({k.kind for k in kinds}))
        self._instruments.append((instrument, indexes))

    def _rebuild(self) -> None:
        table: list[list[Any]] = [[] for _ in range(_N_KINDS)]
        for inst, indexes in self._instruments:
            for k in indexes:
                table[k].append(inst)
        self.listening = [tuple(row) for row in table]
        owners: list[tuple[Callable[..., object], Any]] = []
        handlers: list[tuple[Callable[[Any], object], ...]] = []
        for kind, row in enumerate(table):
            kind_handlers: tuple[Callable[[Any], object], ...] = tuple(
                inst.on_event for inst in row
            )
            owners.extend(zip(kind_handlers, row, strict=True))
            if row and self.codec.rewrites_text and _FREE_TEXT[kind] is not None:
                rewrite = _text_rewriter(EVENT_TYPES[kind], self.codec)
                assert rewrite is not None
                kind_handlers = (_TextPass(self, rewrite, kind_handlers).handle,)
            handlers.append(kind_handlers)
        self._handlers = handlers
        self._owners = owners

    def wants(self, event_type: type[Event]) -> bool:
        return bool(self.listening[event_type.kind])

    @property
    def active(self) -> bool:
        """True when at least one instrument is attached."""
        return bool(self._instruments)

    # -- emission ---------------------------------------------------------------------

    if TYPE_CHECKING:
        # What mypy checks at every call site: the fields are the event class's own
        # constructor parameters after the header.
        def emit(
            self,
            event_type: Callable[Concatenate[int, int, str, P], E],
            /,
            *fields: P.args,
            **named: P.kwargs,
        ) -> E: ...

    else:

        def emit(self, event_type, /, *fields):
            """Build one event (the header, then ``fields`` in declaration order) and
            deliver it; returns the event. (Positional only at run time: no keyword
            dictionary is built per event.)"""
            # The hot path of every instrumented run: one C-level struct construction
            # and a call per listener, whose bound methods were looked up at attach
            # time.
            seq = self._seq
            self._seq = seq + 1
            event = event_type(seq, _clock(), self.run_id, *fields)
            handlers = self._handlers[event.kind]
            if len(handlers) == 1:
                try:
                    handlers[0](event)
                except Exception:
                    self._failed(handlers[0])
            elif handlers:
                for handler in handlers:
                    try:
                        handler(event)
                    except Exception:
                        self._failed(handler)
                    except BaseException:  # KeyboardInterrupt, SystemExit: see below
                        self._deliver_rest(handlers, handler, event)
                        raise
            return event

    def _deliver_rest(
        self,
        listeners: tuple[Callable[[Any], object], ...],
        raised: Callable[[Any], object],
        event: Any,
    ) -> None:
        """A listener raised ``KeyboardInterrupt`` or ``SystemExit`` (inside ``except``):
        the event still reaches the listeners after it (a trace recorder among them
        must not miss it), then the caller re-raises. Failures of those listeners are
        handled as usual; a second interrupt gives way to the first."""
        for listener in listeners[listeners.index(raised) + 1 :]:
            try:
                listener(event)
            except Exception:
                self._failed(listener)
            except BaseException:  # the first interrupt is the one re-raised
                pass

    def _failed(self, handler: Callable[..., object]) -> None:
        """``handler`` (an attached instrument's ``on_event``) raised; called inside
        ``except``: re-raise in strict mode, else detach its instrument."""
        if self.strict:
            raise  # re-raises what emit's except block is handling
        for callable_, inst in self._owners:
            if callable_ is handler or callable_ == handler:
                self._fail(inst)
                return
        logger.exception(  # the codec's text rewrite itself: the event reached nobody
            "flowtrace: rewriting the free text of an event failed in run %s", self.run_id
        )

    @property
    def next_seq(self) -> int:
        return self._seq

    def _fail(self, instrument: Any) -> None:
        logger.exception(
            "flowtrace: instrument %r raised and was detached from run %s; the run "
            "continues without it",
            instrument,
            self.run_id,
        )
        self.detach(instrument)

    # -- context ----------------------------------------------------------------------

    def activate(self) -> contextvars.Token[Bus | None]:
        """Make this the current bus (so ``with instrument:`` inside the run attaches)."""
        return _current_bus.set(self)

    @staticmethod
    def deactivate(token: contextvars.Token[Bus | None]) -> None:
        _current_bus.reset(token)


class _TextPass:
    """The listeners of one kind behind the codec's free-text rewrite (see ``Bus``):
    ``handle`` stands in the bus's handler slot. A listener that raises is handled as
    ``emit`` would handle it."""

    __slots__ = ("bus", "handlers", "rewrite")

    def __init__(
        self,
        bus: Bus,
        rewrite: Callable[[Event], Event],
        handlers: tuple[Callable[[Any], object], ...],
    ) -> None:
        self.bus = bus
        self.rewrite = rewrite
        self.handlers = handlers

    def handle(self, event: Any) -> None:
        event = self.rewrite(event)
        for handler in self.handlers:
            try:
                handler(event)
            except Exception:
                self.bus._failed(handler)
            except BaseException:
                self.bus._deliver_rest(self.handlers, handler, event)
                raise


_run_counter = 0


def new_run_id(prefix: str = "run") -> str:
    """A run id unique in this process and stable across runs of the same program."""
    global _run_counter
    _run_counter += 1
    return f"{prefix}-{_run_counter}"
