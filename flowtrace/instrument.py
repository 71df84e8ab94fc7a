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
import dataclasses
import logging
import operator
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, runtime_checkable

from flowtrace.codec import DEFAULT_CODEC, ValueCodec
from flowtrace.events import (
    _BUILDERS,
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
    "FieldsInstrument",
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
]

logger = logging.getLogger("flowtrace.instrument")

_N_KINDS = len(EVENT_TYPES)
#: Bound once: ``emit`` reads the clock for every event.
_clock = time.perf_counter_ns
#: Per vocabulary class: ``(fast builder, kind, number of own fields)`` (one dict lookup
#: in ``emit``).
_EMIT_ENTRIES: dict[type[Event], tuple[Callable[..., Event], int, int]] = {
    cls: (build, cls.kind, len(dataclasses.fields(cls)) - 3) for cls, build in _BUILDERS.items()
}
_entry_for: Callable[[Any], Any] = _EMIT_ENTRIES.get
_ALL_KINDS = tuple(range(_N_KINDS))


def _fields_getter(event_type: type[Event]) -> Callable[[Event], tuple[Any, ...]]:
    """``f(event)``: the event's own fields (after the header), as ``emit`` gets them."""
    names = [f.name for f in dataclasses.fields(event_type)][3:]
    if len(names) >= 2:
        getter: Callable[[Event], tuple[Any, ...]] = operator.attrgetter(*names)
        return getter
    if names:
        one = operator.attrgetter(names[0])
        return lambda event: (one(event),)
    return lambda event: ()


#: Per kind: the fields of an event of that kind, for listeners that take fields.
_FIELDS_OF: list[Callable[[Event], tuple[Any, ...]]] = [_fields_getter(t) for t in EVENT_TYPES]


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
    return tuple(f.name for f in dataclasses.fields(event_type) if "ErrorInfo" in str(f.type))


#: Per kind: ``(field names, what to do with each)``, or ``None`` for kinds with no
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


def _text_rewriter(
    event_type: type[Event], codec: ValueCodec
) -> Callable[[tuple[Any, ...]], tuple[Any, ...]] | None:
    """``f(fields) -> fields`` with the free text of an event of ``event_type`` passed
    through ``codec``, or ``None`` when the kind carries none."""
    plan = _FREE_TEXT[event_type.kind]
    if plan is None:
        return None
    names = [f.name for f in dataclasses.fields(event_type)][3:]
    steps = [(names.index(name), what) for name, what in plan]
    text = codec.text
    error_texts = codec.error_texts

    def rewrite(fields: tuple[Any, ...]) -> tuple[Any, ...]:
        out = list(fields)
        for i, what in steps:
            value = out[i]
            if what == "error":
                if isinstance(value, ErrorInfo):
                    out[i] = ErrorInfo(value.type, *error_texts(value.message, value.traceback))
            elif what == "text":
                if isinstance(value, str):
                    out[i] = text(value)
            else:
                out[i] = tuple(
                    WaitInfo(w.node_id, w.status, w.waits_for, text(w.detail))
                    if isinstance(w, WaitInfo)
                    else w
                    for w in value
                )
        return tuple(out)

    return rewrite


@runtime_checkable
class Instrument(Protocol):
    """Anything with ``on_event``. Optional attributes: ``kinds`` (a collection of event
    classes, or ``None`` for everything) and ``value_codec`` (a :class:`ValueCodec` the
    run should use to encode values, e.g. the recorder's ``--no-values``).

    An instrument may also define ``on_event_fields(kind, seq, t_ns, run_id, fields)``
    (see :class:`FieldsInstrument`): the bus then hands it the event's parts instead of
    an event object, and builds no object at all for an event whose every listener takes
    fields. That is for sinks that only serialise (the trace recorder): building an
    object they never look at was an eighth to a sixth of what recording cost per
    event. ``on_event`` is still required, so that such an instrument can also be fed
    events one by one.
    """

    def on_event(self, event: Event) -> None: ...


@runtime_checkable
class FieldsInstrument(Instrument, Protocol):
    """An instrument that takes events as parts: ``kind`` (``EVENT_TYPES[kind]`` is the
    class), the header (``seq``, ``t_ns``, ``run_id``) and ``fields``, the class's own
    fields in declaration order (exactly the arguments of ``EVENT_TYPES[kind](seq,
    t_ns, run_id, *fields)``). The tuple and its contents must be treated as read-only,
    like an event."""

    def on_event_fields(
        self, kind: int, seq: int, t_ns: int, run_id: str, fields: tuple[Any, ...]
    ) -> None: ...


class InstrumentBase:
    """Convenience base: ``kinds = None`` (everything) and ``with instrument:`` support."""

    kinds: Collection[type[Event]] | None = None
    value_codec: ValueCodec | None = None

    def on_event(self, event: Event) -> None:  # pragma: no cover - meant to be overridden
        pass

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


def _fields_adapter(take: Callable[..., object], kind: int) -> Callable[[Any], object]:
    """An ``on_event`` for a field taker, used when its kind also has object listeners
    (the object is built anyway) or the event is a user subclass of a vocabulary class."""
    fields_of = _FIELDS_OF[kind]

    def on_event(event: Event) -> None:
        take(kind, event.seq, event.t_ns, event.run_id, fields_of(event))

    return on_event


def _check_instrument(instrument: Any) -> None:
    if not callable(getattr(instrument, "on_event", None)):
        raise TypeError(
            f"{instrument!r} is not an instrument: it needs an on_event(event) method "
            "(subclass flowtrace.InstrumentBase, or flowtrace.FlowInstrument for "
            "Flowno-style hooks)"
        )


# ----------------------------------------------------------------------------- the bus

E = TypeVar("E", bound=Event)


class Bus:
    """Per-run dispatcher. ``listening[kind]`` is the tuple of instruments for a kind.

    The engine's call sites follow one pattern::

        if bus.listening[NodeStarted.kind]:
            bus.emit(NodeStarted, node_id, generation, 0)

    :meth:`emit` fills the header (``seq``, ``t_ns``, ``run_id``) and delivers the event
    to each subscriber in registration order: as an event object to ``on_event``, as
    parts to an instrument's ``on_event_fields`` (:class:`FieldsInstrument`). When every
    listener of a kind takes parts, no event object is built.
    """

    __slots__ = (
        "_handlers",
        "_instruments",
        "_owners",
        "_seq",
        "_takers",
        "codec",
        "listening",
        "run_id",
        "strict",
    )

    # When the codec rewrites free text (redaction, no error text), ``_rebuild`` puts
    # one *text pass* in front of the listeners of each kind that carries such text:
    # ``_takers[kind]`` (and ``_handlers[kind]``) become a single callable that rewrites
    # the fields once and then delivers them to the real listeners, so ``emit`` itself
    # stays as fast as ever and no listener can see the text before it is rewritten.

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
        #: Per kind, every listener as a callable taking the event object, in
        #: registration order (``on_event``, or a field taker behind an adapter).
        self._handlers: list[tuple[Callable[[Any], object], ...]] = list(self.listening)
        #: Per kind, the listeners' ``on_event_fields`` when *all* of them take fields
        #: (then ``emit`` builds no object), else ``()``.
        self._takers: list[tuple[Callable[..., object], ...]] = list(self.listening)
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
        takers: list[tuple[Callable[..., object], ...]] = []
        for kind, row in enumerate(table):
            takes = [getattr(inst, "on_event_fields", None) for inst in row]
            kind_handlers = []
            for inst, take in zip(row, takes, strict=True):
                handler = inst.on_event if take is None else _fields_adapter(take, kind)
                kind_handlers.append(handler)
                owners.append((handler, inst))
                if take is not None:
                    owners.append((take, inst))
            all_take = bool(row) and all(take is not None for take in takes)
            kind_takers: tuple[Callable[..., object], ...] = (
                tuple(takes) if all_take else ()  # type: ignore[arg-type]
            )
            if row and self.codec.rewrites_text and _FREE_TEXT[kind] is not None:
                pass_ = self._text_pass(EVENT_TYPES[kind], kind_takers, tuple(kind_handlers))
                kind_takers, kind_handlers = (pass_.take,), [pass_.handle]
            handlers.append(tuple(kind_handlers))
            takers.append(kind_takers)
        self._handlers = handlers
        self._takers = takers
        self._owners = owners

    def _text_pass(
        self,
        event_type: type[Event],
        takers: tuple[Callable[..., object], ...],
        handlers: tuple[Callable[[Any], object], ...],
    ) -> _TextPass:
        rewrite = _text_rewriter(event_type, self.codec)
        assert rewrite is not None
        return _TextPass(self, event_type, rewrite, takers, handlers)

    def wants(self, event_type: type[Event]) -> bool:
        return bool(self.listening[event_type.kind])

    @property
    def active(self) -> bool:
        """True when at least one instrument is attached."""
        return bool(self._instruments)

    # -- emission ---------------------------------------------------------------------

    def emit(self, event_type: Callable[..., E], *fields: Any) -> E | None:
        """Build one event (header + ``fields`` in declaration order) and deliver it.

        Returns the event, or ``None`` when every listener of its kind took it as
        parts and no object was built.
        """
        # The hot path of every instrumented run: the event is built by the class's
        # fast builder (see flowtrace.events._make_fast), and the listeners' bound
        # methods were looked up once, when they were attached.
        seq = self._seq
        self._seq = seq + 1
        entry = _entry_for(event_type)
        if entry is not None and len(fields) == entry[2]:
            build, kind, _ = entry
            t_ns = _clock()
            takers = self._takers[kind]
            if takers:
                run_id = self.run_id
                for take in takers:
                    try:
                        take(kind, seq, t_ns, run_id, fields)
                    except Exception:
                        self._failed(take)
                    except BaseException:  # KeyboardInterrupt, SystemExit: see below
                        self._deliver_rest(takers, take, (kind, seq, t_ns, run_id, fields))
                        raise
                return None
            event: E = build(seq, t_ns, self.run_id, fields)
        else:  # not a vocabulary class (a subclass), or a wrong field count:
            event = event_type(seq, _clock(), self.run_id, *fields)  # the class says why
            kind = event.kind
        handlers = self._handlers[kind]
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
                except BaseException:
                    self._deliver_rest(handlers, handler, (event,))
                    raise
        return event

    def _deliver_rest(
        self,
        listeners: tuple[Callable[..., object], ...],
        raised: Callable[..., object],
        args: tuple[Any, ...],
    ) -> None:
        """A listener raised ``KeyboardInterrupt`` or ``SystemExit`` (inside ``except``):
        the event still reaches the listeners after it (a trace recorder among them
        must not miss it), then the caller re-raises. Failures of those listeners are
        handled as usual; a second interrupt gives way to the first."""
        for listener in listeners[listeners.index(raised) + 1 :]:
            try:
                listener(*args)
            except Exception:
                self._failed(listener)
            except BaseException:  # the first interrupt is the one re-raised
                pass

    def _failed(self, handler: Callable[..., object]) -> None:
        """``handler`` (an attached instrument's ``on_event`` or ``on_event_fields``)
        raised; called inside ``except``: re-raise in strict mode, else detach its
        instrument."""
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
    """The listeners of one kind behind the codec's free-text rewrite (see ``Bus``).

    ``take`` stands in the bus's field-taker slot, ``handle`` in its object-handler
    slot (an event of a user subclass, or a wrong field count, arrives there). A
    listener that raises is handled as ``emit`` would handle it."""

    __slots__ = ("build", "bus", "event_type", "handlers", "rewrite", "takers")

    def __init__(
        self,
        bus: Bus,
        event_type: type[Event],
        rewrite: Callable[[tuple[Any, ...]], tuple[Any, ...]],
        takers: tuple[Callable[..., object], ...],
        handlers: tuple[Callable[[Any], object], ...],
    ) -> None:
        self.bus = bus
        self.event_type = event_type
        self.rewrite = rewrite
        self.takers = takers
        self.handlers = handlers
        self.build = _BUILDERS.get(event_type)

    def take(self, kind: int, seq: int, t_ns: int, run_id: str, fields: tuple[Any, ...]) -> None:
        fields = self.rewrite(fields)
        if self.takers:
            for take in self.takers:
                try:
                    take(kind, seq, t_ns, run_id, fields)
                except Exception:
                    self.bus._failed(take)
                except BaseException:
                    self.bus._deliver_rest(self.takers, take, (kind, seq, t_ns, run_id, fields))
                    raise
            return
        build = self.build
        event = (
            build(seq, t_ns, run_id, fields)
            if build is not None
            else self.event_type(seq, t_ns, run_id, *fields)
        )
        self._deliver(event)

    def handle(self, event: Any) -> None:
        own = _FIELDS_OF[self.event_type.kind](event)
        names = [f.name for f in dataclasses.fields(self.event_type)][3:]
        changed = {
            name: new
            for name, old, new in zip(names, own, self.rewrite(own), strict=True)
            if new is not old
        }
        self._deliver(dataclasses.replace(event, **changed) if changed else event)

    def _deliver(self, event: Any) -> None:
        for handler in self.handlers:
            try:
                handler(event)
            except Exception:
                self.bus._failed(handler)
            except BaseException:
                self.bus._deliver_rest(self.handlers, handler, (event,))
                raise


_run_counter = 0


def new_run_id(prefix: str = "run") -> str:
    """A run id unique in this process and stable across runs of the same program."""
    global _run_counter
    _run_counter += 1
    return f"{prefix}-{_run_counter}"
