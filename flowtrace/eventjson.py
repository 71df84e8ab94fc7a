"""Events to JSON lines and back, with msgspec.

A trace line is one JSON object: ``{"kind": "NodeStarted", "seq": 4, …}``, the tag
first, then the event's fields in declaration order. Nested records
(:class:`~flowtrace.events.GraphInfo`, :class:`~flowtrace.events.InputRead`, …) become
objects of their fields (no ``kind``: the field's declared type says what they are),
tuples become arrays. Text is written as UTF-8 (control characters, ``"`` and ``\\``
escaped). Reading a line rebuilds the event so that it compares *equal* to the one
written, with every field's type checked by msgspec, so a damaged line is reported
(with msgspec's path: ``Expected `int`, got `str` - at `$.seq```) instead of producing
a half-valid event.

One :data:`ENCODER` (a :class:`msgspec.json.Encoder`) writes every line and one
:data:`DECODER` (a :class:`msgspec.json.Decoder` of :data:`~flowtrace.events.AnyEvent`)
reads them, both in C; the reader decodes whole blocks of lines with
``decode_lines``. Two things msgspec does not do are done here, off the fast path:

* a string holding a lone surrogate (a file name decoded with ``surrogateescape``)
  cannot be UTF-8: such an event is written as ASCII JSON by the ``json`` module
  (``\\udc80`` escapes), and read back by the ``json`` module, exactly;
* a value nested deeper than :data:`MAX_VALUE_DEPTH` is refused (anything that walks
  values later — ``repr``, a renderer — could hit Python's recursion limit), and lines
  with ``NaN``/``Infinity`` tokens (schema 1.x wrote them) are read by the ``json``
  module and converted by msgspec.
"""

from __future__ import annotations

import json
import types
import typing
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from flowtrace.codec import JsonValue
from flowtrace.events import EVENT_TYPES, EVENT_TYPES_BY_NAME, AnyEvent, Event

__all__ = [
    "ENCODER",
    "DECODER",
    "MAX_VALUE_DEPTH",
    "EventDecodeError",
    "UnknownKindError",
    "encode_event",
    "encode_event_bytes",
    "encode_lines",
    "event_to_json",
    "decode_event",
    "decode_line",
    "json_to_event",
    "convert_object",
    "check_values",
    "value_checker",
    "default_for_field",
]

#: Writes every trace line (``encode_lines`` for a batch).
ENCODER = msgspec.json.Encoder()
#: Reads a line, or a block of lines (``decode_lines``), into events.
DECODER: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)

#: Deepest nesting of arrays/objects accepted in a value. The value codec writes at
#: most 4 levels (plus its ``$repr`` objects); anything near Python's recursion limit
#: would crash whatever later walks the value (``repr``, ``json.dumps``, a renderer).
MAX_VALUE_DEPTH = 64


class EventDecodeError(ValueError):
    """A JSON object is not a valid event; the message says which field and why."""


class UnknownKindError(EventDecodeError):
    """The object names an event kind this version of flowtrace does not know."""

    def __init__(self, kind: object) -> None:
        super().__init__(f"unknown event kind {kind!r}")
        self.kind = kind


# ----------------------------------------------------------------------------- writing


def _ascii_line(event: msgspec.Struct) -> bytes:
    """The line of an event msgspec cannot write as UTF-8 (a lone surrogate in a
    string): ASCII JSON with ``\\uXXXX`` escapes, which reads back exactly."""
    return json.dumps(msgspec.to_builtins(event), separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def encode_event_bytes(event: msgspec.Struct) -> bytes:
    """The trace line of ``event`` as bytes (no trailing newline)."""
    try:
        return ENCODER.encode(event)
    except UnicodeEncodeError:
        return _ascii_line(event)


def encode_event(event: msgspec.Struct) -> str:
    """The trace line of ``event`` (compact JSON, no trailing newline)."""
    return encode_event_bytes(event).decode("utf-8")


def encode_lines(events: Sequence[msgspec.Struct]) -> bytes:
    """The lines of ``events``, each ending with a newline, in one buffer."""
    try:
        return ENCODER.encode_lines(events)
    except UnicodeEncodeError:
        return b"".join([encode_event_bytes(e) + b"\n" for e in events])


def event_to_json(event: msgspec.Struct) -> dict[str, JsonValue]:
    """``event`` as a JSON-ready dict (``kind`` first), e.g. for other exporters."""
    loaded: dict[str, JsonValue] = json.loads(encode_event_bytes(event))
    return loaded


# ----------------------------------------------------------------------------- values

_ValueGetter = Callable[[Any], Iterable[Any]]


def _getter(tp: Any, seen: frozenset[type]) -> _ValueGetter | None:
    """A function giving the user values (fields typed ``Any``/``JsonValue``) inside a
    value of declared type ``tp``; ``None`` when it can hold none."""
    if tp is Any:
        return lambda v: (v,)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        subs = [_getter(a, seen) for a in typing.get_args(tp) if a is not type(None)]
        live = [s for s in subs if s is not None]
        if not live:
            return None
        if len(live) > 1:  # not in the vocabulary; treat the whole as a value
            return lambda v: (v,)
        one = live[0]
        return lambda v: () if v is None else one(v)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _getter(args[0], seen)
            if item is None:
                return None
            if args[0] is Any:
                return lambda v: list(v)
            each = item
            return lambda v: [x for i in v for x in each(i)]
        parts = [(k, _getter(a, seen)) for k, a in enumerate(args)]
        live_parts = [(k, g) for k, g in parts if g is not None]
        if not live_parts:
            return None
        return lambda v: [x for k, g in live_parts for x in g(v[k])]
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct) and tp not in seen:
        return _struct_getter(tp, seen | {tp})
    return None


def _struct_getter(cls: type, seen: frozenset[type]) -> _ValueGetter | None:
    hints = typing.get_type_hints(cls)
    names: tuple[str, ...] = getattr(cls, "__struct_fields__", ())
    fields = [(name, _getter(hints[name], seen)) for name in names]
    live = [(name, g) for name, g in fields if g is not None]
    if not live:
        return None
    return lambda v: [x for name, g in live for x in g(getattr(v, name))]


def _deep(value: Any) -> bool:
    """Whether a container nests deeper than :data:`MAX_VALUE_DEPTH`."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if depth > MAX_VALUE_DEPTH:
            return True
        for child in item.values() if type(item) is dict else item:
            tc = type(child)
            if tc is list or tc is dict:
                push((child, depth + 1))
    return False


def value_checker(cls: type) -> Callable[[Any], None] | None:
    """``check(event)`` raising :class:`EventDecodeError` when a value of an event of
    ``cls`` nests too deep; ``None`` for a class that holds no values."""
    getter = _struct_getter(cls, frozenset({cls}))
    if getter is None:
        return None
    get = getter

    def check(event: Any) -> None:
        for v in get(event):
            t = type(v)
            if (t is list or t is dict) and _deep(v):
                raise EventDecodeError(
                    f"nesting too deep: a value nests more than {MAX_VALUE_DEPTH} levels"
                )

    return check


_CHECKS: dict[type, Callable[[Any], None]] = {
    t: c for t in EVENT_TYPES if (c := value_checker(t)) is not None
}


def check_values(
    events: Sequence[Any], checks: dict[type, Callable[[Any], None]] | None = None
) -> None:
    """Raise :class:`EventDecodeError` if a value in ``events`` nests too deep."""
    table = _CHECKS if checks is None else checks
    get = table.get
    for event in events:
        check = get(type(event))
        if check is not None:
            check(event)


# ----------------------------------------------------------------------------- reading


def _message(kind: str, exc: BaseException) -> str:
    return f"{kind}: {exc}"


def convert_object(
    obj: Any,
    union: Any,
    names: dict[str, type],
    checks: dict[type, Callable[[Any], None]],
    *,
    allow_newer: bool = False,
    on_newer: Callable[[str], None] | None = None,
) -> Any:
    """An event of the tagged union ``union`` (whose classes by tag are ``names``)
    from a decoded JSON object; see :func:`decode_event`."""
    if type(obj) is not dict:
        raise EventDecodeError(f"expected a JSON object, got {type(obj).__name__}")
    kind = obj.get("kind")
    if kind is None:
        raise EventDecodeError("the object has no 'kind'")
    cls = names.get(kind) if type(kind) is str else None
    if cls is None:
        raise UnknownKindError(kind)
    event: Any
    try:
        event = msgspec.convert(obj, cls)
    except msgspec.ValidationError as exc:
        if not allow_newer or "missing required field" not in str(exc):
            raise EventDecodeError(_message(kind, exc)) from None
        issues: list[str] = []
        fixed = _normalize(cls, obj, kind, issues)
        for issue in issues:
            message = (
                f"trace from a newer flowtrace: {issue} (missing fields get a neutral default)"
            )
            if on_newer is not None:
                on_newer(message)
            else:
                _warn_once(issue, message)
        try:
            event = msgspec.convert(fixed, cls)
        except msgspec.ValidationError as again:
            raise EventDecodeError(_message(kind, again)) from None
    except RecursionError:
        raise EventDecodeError("nesting too deep") from None
    check = checks.get(type(event))
    if check is not None:
        check(event)
    return event


def decode_event(
    obj: Any, *, allow_newer: bool = False, on_newer: Callable[[str], None] | None = None
) -> Event:
    """Rebuild an event from its decoded JSON object (``json.loads`` of a line).

    Raises :class:`EventDecodeError` naming the kind and msgspec's path of the field at
    fault (``NodeStarted: Expected `int`, got `str` - at `$.seq```), or
    :class:`UnknownKindError`. Fields the class does not know are ignored (msgspec's
    schema evolution). With ``allow_newer`` (a file from a newer minor schema version)
    missing fields take a neutral default, each said once: to ``on_newer`` when
    given, else as a warning; otherwise a missing field is an error.
    """
    event: Event = convert_object(
        obj, AnyEvent, EVENT_TYPES_BY_NAME, _CHECKS, allow_newer=allow_newer, on_newer=on_newer
    )
    return event


json_to_event = decode_event


def decode_line(line: bytes | str) -> Event:
    """One trace line to its event: msgspec first, the ``json`` module for what
    msgspec refuses to parse (``NaN`` tokens, lone surrogate escapes). Raises
    :class:`EventDecodeError` (or :class:`UnknownKindError`)."""
    event: Event
    try:
        event = DECODER.decode(line)
    except msgspec.ValidationError:
        pass  # explained below, with the kind
    except (msgspec.DecodeError, RecursionError):
        pass
    else:
        check = _CHECKS.get(type(event))
        if check is not None:
            check(event)
        return event
    try:
        obj = json.loads(line)
    except RecursionError:
        raise EventDecodeError("nesting too deep") from None
    except ValueError as exc:
        raise EventDecodeError(f"not valid JSON ({exc})") from None
    return decode_event(obj)


def _normalize(tp: Any, value: Any, where: str, issues: list[str]) -> Any:
    """``value`` with every field of a record missing from it filled in (recursively)."""
    optional = False
    inner = tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        if len(args) == 1:
            inner = args[0]
    if value is None and optional:
        return None
    if isinstance(inner, type) and issubclass(inner, msgspec.Struct):
        if type(value) is not dict:
            return value  # msgspec reports the type error
        hints = typing.get_type_hints(inner)
        out: dict[str, Any] = dict(value)
        for name in inner.__struct_fields__:
            if name in value:
                out[name] = _normalize(hints[name], value[name], f"{where}.{name}", issues)
            else:
                issues.append(f"{where}: missing field {name!r}")
                out[name] = default_for_field(hints[name])
        return out
    if typing.get_origin(inner) is tuple and type(value) is list:
        items = typing.get_args(inner)
        if len(items) == 2 and items[1] is Ellipsis:
            return [_normalize(items[0], v, f"{where}[]", issues) for v in value]
    return value


def default_for_field(tp: Any) -> Any:
    """The JSON value used for a field absent from a newer file."""
    if tp is Any or tp == JsonValue:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in typing.get_args(tp):
            return None
        return default_for_field(typing.get_args(tp)[0])
    if origin is tuple:
        return []
    if origin is dict:
        return {}
    if origin is typing.Literal:
        return typing.get_args(tp)[0]
    if tp is bool:
        return False
    if tp is int:
        return 0
    if tp is float:
        return 0.0
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        hints = typing.get_type_hints(tp)
        return {name: default_for_field(hints[name]) for name in tp.__struct_fields__}
    return ""


_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, stacklevel=4)
