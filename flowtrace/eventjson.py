"""Events to JSON lines and back, exactly, and fast.

A trace line is one JSON object: ``{"kind": "NodeStarted", "seq": 4, …}`` with the
event's fields in declaration order. Nested records (:class:`~flowtrace.events.GraphInfo`,
:class:`~flowtrace.events.InputRead`, …) become objects of their fields (no ``kind``:
the field's declared type says what they are), tuples become arrays. Reading a line
rebuilds the event so that it compares *equal* to the one written: arrays are turned
back into tuples where the field's type says tuple, and every field's JSON type is
checked, so a damaged line is reported instead of producing a half-valid event.

Both directions are compiled once per event class from the class's own field types
(``typing.get_type_hints``) into small specialised functions — the same technique
``dataclasses`` uses to build ``__init__``. The generated source comes only from our
own class definitions, never from a file being read, so reading a trace executes
nothing it contains. This keeps the recorder's cost per event well under a
microsecond on the hot path and reading at a few microseconds per event.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
import warnings
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any, Literal

from flowtrace.codec import JsonValue
from flowtrace.events import (
    _MUTABLE_TWINS,
    EVENT_TYPES,
    EVENT_TYPES_BY_NAME,
    Event,
    GraphInfo,
    NodeInfo,
)

__all__ = [
    "EventDecodeError",
    "UnknownKindError",
    "encode_event",
    "event_to_json",
    "decode_event",
    "json_to_event",
    "default_for_field",
]


class EventDecodeError(ValueError):
    """A JSON object is not a valid event; the message says which field and why."""


class UnknownKindError(EventDecodeError):
    """The object names an event kind this version of flowtrace does not know."""

    def __init__(self, kind: object) -> None:
        super().__init__(f"unknown event kind {kind!r}")
        self.kind = kind


# ------------------------------------------------------------------------ JSON helpers


def _dataclass_fields(obj: object) -> dict[str, Any]:
    """The C encoder's fallback: nested records become objects of their fields."""
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            names = tuple(f.name for f in dataclasses.fields(obj))
            _FIELD_NAMES[type(obj)] = names
        else:
            raise TypeError(f"{type(obj).__qualname__} is not JSON serialisable in a trace")
    return {name: getattr(obj, name) for name in names}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _float_text(x: float) -> str:
    if math.isfinite(x):
        return repr(x)
    return "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")


def _make_json_encoder() -> Callable[[Any], str]:
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is not None:
        encoder = c_make_encoder(
            None, _dataclass_fields, encode_basestring_ascii, None, ":", ",", False, False, True
        )

        def encode(value: Any) -> str:
            return "".join(encoder(value, 0))

        return encode
    py = json.JSONEncoder(separators=(",", ":"), default=_dataclass_fields, check_circular=False)
    return py.encode


_json_text = _make_json_encoder()


# ------------------------------------------------------------------------ type analysis


def _is_optional(tp: Any) -> tuple[bool, Any]:
    """``(True, X)`` for ``X | None``; ``(False, tp)`` otherwise."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args and len(args) == 2:
            other = args[0] if args[1] is type(None) else args[1]
            return True, other
    return False, tp


def _scalar_check(tp: Any) -> str | None:
    """A Python expression template (``{v}`` = the value) checking a scalar's JSON type,
    or ``None`` when ``tp`` is not a scalar type."""
    if tp is int:
        return "type({v}) is int"
    if tp is str:
        return "type({v}) is str"
    if tp is bool:
        return "type({v}) is bool"
    if tp is float:
        return "(type({v}) is float or type({v}) is int)"
    if typing.get_origin(tp) is Literal:
        kinds = {type(a) for a in typing.get_args(tp)}
        if kinds == {str}:
            return "type({v}) is str"
    return None


def _scalar_test(tp: Any) -> Callable[[Any], bool] | None:
    """The same check as :func:`_scalar_check`, as a function (for the slow paths)."""
    if tp is int:
        return lambda v: type(v) is int
    if tp is str:
        return lambda v: type(v) is str
    if tp is bool:
        return lambda v: type(v) is bool
    if tp is float:
        return lambda v: type(v) is float or type(v) is int
    if _scalar_check(tp) is not None:  # a Literal of strings
        return lambda v: type(v) is str
    return None


_JSON_VALUE_PARTS = {bool, int, float, str, list, dict, type(None)}


def _is_json_value(tp: Any) -> bool:
    """``JsonValue``, also as ``get_type_hints`` resolves it (its forward references
    expanded one level)."""
    if tp == JsonValue:
        return True
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return False
    return {typing.get_origin(a) or a for a in typing.get_args(tp)} == _JSON_VALUE_PARTS


Converter = Callable[[Any], Any]


#: Deepest nesting of arrays/objects accepted in a value. The value codec writes at
#: most 4 levels (plus its ``$repr`` objects); anything near Python's recursion limit
#: would crash whatever later walks the value (``repr``, ``json.dumps``, a renderer).
MAX_VALUE_DEPTH = 64


def _check_value(v: Any) -> Any:
    """A user value (any JSON): containers are walked to bound their nesting."""
    t = type(v)
    if t is not list and t is not dict:
        return v
    stack: list[tuple[Any, int]] = [(v, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if depth > MAX_VALUE_DEPTH:
            raise EventDecodeError(
                f"nesting too deep: a value nests more than {MAX_VALUE_DEPTH} levels"
            )
        for child in item.values() if type(item) is dict else item:
            tc = type(child)
            if tc is list or tc is dict:
                push((child, depth + 1))
    return v


def _converter(tp: Any, where: str) -> Converter | None:
    """A function that checks and converts a decoded JSON value of type ``tp``;
    ``None`` when the value can be used as it is (after the scalar check, if any)."""
    if _is_json_value(tp):
        return _check_value
    if tp is Any:
        return None
    optional, inner = _is_optional(tp)
    if optional:
        sub = _converter(inner, where)
        test = _scalar_test(inner)
        if sub is None and test is None:
            return None
        if sub is None and test is not None:

            def opt_scalar(v: Any) -> Any:
                if v is None or test(v):
                    return v
                raise EventDecodeError(f"{where}: expected {inner.__name__} or null, got {v!r}")

            return opt_scalar

        assert sub is not None
        convert = sub

        def opt(v: Any) -> Any:
            return None if v is None else convert(v)

        return opt
    check = _scalar_check(tp)
    if check is not None:
        return None
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            item = args[0]
            if item is int:

                def int_tuple(v: Any) -> tuple[int, ...]:
                    if type(v) is list:
                        for i in v:
                            if type(i) is not int:
                                break
                        else:
                            return tuple(v)
                    raise EventDecodeError(f"{where}: expected an array of ints, got {v!r}")

                return int_tuple
            sub_item = _converter(item, where + "[]")
            item_test = _scalar_test(item)

            def var_tuple(v: Any) -> tuple[Any, ...]:
                if type(v) is not list:
                    raise EventDecodeError(f"{where}: expected an array, got {v!r}")
                if sub_item is not None:
                    return tuple([sub_item(i) for i in v])
                if item_test is not None:
                    for i in v:
                        if not item_test(i):
                            raise EventDecodeError(f"{where}: bad array item {i!r}")
                return tuple(v)

            return var_tuple
        subs = [_converter(a, f"{where}[{k}]") for k, a in enumerate(args)]

        def fixed_tuple(v: Any) -> tuple[Any, ...]:
            if type(v) is not list or len(v) != len(subs):
                raise EventDecodeError(f"{where}: expected an array of {len(subs)}, got {v!r}")
            return tuple([s(i) if s is not None else i for s, i in zip(subs, v, strict=True)])

        return fixed_tuple
    if origin is dict:
        value_type = typing.get_args(tp)[1]
        sub_value = _converter(value_type, where + "{}")

        def mapping(v: Any) -> dict[str, Any]:
            if type(v) is not dict:
                raise EventDecodeError(f"{where}: expected an object, got {v!r}")
            if sub_value is None:
                return v
            return {k: sub_value(i) for k, i in v.items()}

        return mapping
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        record = _record_decoder(tp)

        def nested(v: Any) -> Any:
            if type(v) is not dict:
                raise EventDecodeError(f"{where}: expected an object, got {v!r}")
            return record(v)

        return nested
    return None  # an annotation we do not know: keep the JSON value


# ------------------------------------------------------------------------ compilation


def _hints(cls: type) -> list[tuple[str, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(cls)]


_RECORD_DECODERS: dict[type, Callable[[dict[str, Any]], Any]] = {}
_STRICT_RECORD_DECODERS: dict[type, Callable[[dict[str, Any]], Any]] = {}


def _is_int_tuple(tp: Any) -> bool:
    return typing.get_origin(tp) is tuple and typing.get_args(tp) == (int, Ellipsis)


def _compile_decoder(cls: type, with_kind: bool) -> Callable[[dict[str, Any]], Any]:
    """``f(obj) -> cls`` for a JSON object holding exactly ``cls``'s fields (plus
    ``kind`` for events). Raises KeyError (field set differs) or EventDecodeError.

    Frozen dataclasses assign each field through ``object.__setattr__``; the decoder
    fills the class's mutable twin instead (:func:`flowtrace.events._make_fast`), or
    for other slotted classes sets the slots through their descriptors."""
    fields = _hints(cls)
    env: dict[str, Any] = {
        "_cls": cls,
        "_Bad": EventDecodeError,
        "_new": object.__new__,
        "_why": lambda d: _explain(cls, d),
    }
    lines = ["def decode(d):"]
    expected = len(fields) + (1 if with_kind else 0)
    lines.append(f"    if len(d) != {expected}: raise KeyError('field set')")
    checks: list[str] = []
    post: list[str] = []
    args: list[str] = []
    for i, (name, tp) in enumerate(fields):
        var = f"v{i}"
        lines.append(f"    {var} = d[{name!r}]")
        optional, inner = _is_optional(tp)
        check = _scalar_check(inner)
        if check is not None:
            test = check.format(v=var)
            checks.append(f"({var} is None or {test})" if optional else test)
        elif _is_int_tuple(inner):
            indent = "    "
            if optional:
                post.append(f"    if {var} is not None:")
                indent = "        "
            post.append(f"{indent}if type({var}) is not list: raise _Bad(_why(d))")
            post.append(f"{indent}for _i in {var}:")
            post.append(f"{indent}    if type(_i) is not int: raise _Bad(_why(d))")
            post.append(f"{indent}{var} = tuple({var})")
        elif (item := _record_tuple_item(inner)) is not None and not optional:
            # Inlined: the nested records' compiled decoders are called directly (a
            # wrong shape raises TypeError / KeyError, which the slow path explains).
            _record_decoder(item)
            env[f"_r{i}"] = _STRICT_RECORD_DECODERS[item]
            post.append(f"    if type({var}) is not list: raise _Bad(_why(d))")
            post.append(f"    {var} = tuple([_r{i}(_x) for _x in {var}])")
        else:
            conv = _converter(tp, f"{cls.__name__}.{name}")
            if conv is not None:
                env[f"_c{i}"] = conv
                post.append(f"    {var} = _c{i}({var})")
        args.append(var)
    if checks:
        lines.append(f"    if not ({' and '.join(checks)}):")
        lines.append("        raise _Bad(_why(d))")
    lines.extend(post)
    slots = getattr(cls, "__slots__", ())
    direct = (
        not hasattr(cls, "__post_init__")
        and all(name in _all_slots(cls) for name, _ in fields)
        and slots is not None
    )
    twin = _MUTABLE_TWINS.get(cls)
    if twin is not None:
        # Filled as its mutable twin (plain slot stores), then made the frozen class.
        env["_twin"] = twin
        lines.append("    o = _new(_twin)")
        lines.extend(f"    o.{name} = v{i}" for i, (name, _tp) in enumerate(fields))
        lines.append("    o.__class__ = _cls")
        lines.append("    return o")
    elif direct:
        lines.append("    o = _new(_cls)")
        for i, (name, _tp) in enumerate(fields):
            env[f"_s{i}"] = _slot_setter(cls, name)
            lines.append(f"    _s{i}(o, v{i})")
        lines.append("    return o")
    else:
        lines.append(f"    return _cls({', '.join(args)})")
    exec("\n".join(lines), env)  # compiled from cls's own fields, see module docstring
    decoder: Callable[[dict[str, Any]], Any] = env["decode"]
    return decoder


def _record_tuple_item(tp: Any) -> type | None:
    """``R`` for ``tuple[R, ...]`` where ``R`` is a record class, else ``None``."""
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis and _is_record(args[0]):
            item: type = args[0]
            return item
    return None


def _all_slots(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names.update((slots,) if isinstance(slots, str) else slots)
    return names


def _slot_setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    for klass in cls.__mro__:
        descriptor = klass.__dict__.get(name)
        if descriptor is not None and hasattr(descriptor, "__set__"):
            setter: Callable[[Any, Any], None] = descriptor.__set__
            return setter
    raise TypeError(f"{cls.__name__}.{name} is not a slot")


def _explain(cls: type, d: dict[str, Any]) -> str:
    """Why ``d`` failed the checks of ``cls`` (slow path, for error messages)."""
    for name, tp in _hints(cls):
        optional, inner = _is_optional(tp)
        value = d.get(name)
        if optional and value is None:
            continue
        test = _scalar_test(inner)
        if test is not None:
            if not test(value):
                return f"{cls.__name__}.{name}: expected {_type_name(tp)}, got {value!r}"
            continue
        conv = _converter(inner, f"{cls.__name__}.{name}")
        if conv is not None:
            try:
                conv(value)
            except EventDecodeError as exc:
                return str(exc)
    return f"{cls.__name__}: invalid field values"


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


class _FieldSetError(EventDecodeError):
    """A nested record's field set differs from its class's (handled by the slow path)."""


def _record_decoder(cls: type) -> Callable[[dict[str, Any]], Any]:
    dec = _RECORD_DECODERS.get(cls)
    if dec is None:
        strict = _compile_decoder(cls, with_kind=False)

        def dec(d: dict[str, Any]) -> Any:
            try:
                return strict(d)
            except KeyError:
                raise _FieldSetError(f"{cls.__name__}: field set differs") from None

        _STRICT_RECORD_DECODERS[cls] = strict
        _RECORD_DECODERS[cls] = dec
    return dec


_RECORD_ENCODERS: dict[type, Callable[[Any], str]] = {}

#: String fields holding identities or statuses: few distinct values, repeated in nearly
#: every event, so their JSON text is memoised (:class:`_QuotedCache`).
_IDENTITY_FIELDS = frozenset(
    {
        "run_id",
        "flow_id",
        "node_id",
        "producer",
        "consumer",
        "reader",
        "head",
        "by",
        "old",
        "new",
        "status",
        "reason",
        "name",
        "label",
    }
)


class _QuotedCache(dict[str, str]):
    """``cache[s]`` is the JSON text of ``s``; bounded, so odd ids cannot grow it."""

    def __missing__(self, key: str) -> str:
        if len(self) >= 8192:
            self.clear()
        text = self[key] = encode_basestring_ascii(key)
        return text


_QUOTED = _QuotedCache()


def _encode_expr(tp: Any, src: str, env: dict[str, Any], field: str | None = None) -> str:
    """A Python expression giving the JSON text (a str, or an int that formats as its
    own JSON text) of the value ``src`` of declared type ``tp`` (the field named
    ``field``; by default the attribute ``src`` ends with)."""
    if field is None:
        field = src.rsplit(".", 1)[-1]
    optional, inner = _is_optional(tp)
    if _is_int_tuple(inner):
        # Generations, port lists, task lists: few distinct values, in nearly every
        # event, so their text is memoised (None included) instead of formatted.
        return f"_g[{src}]"
    if optional:
        return f'("null" if {src} is None else {_encode_expr(inner, src, env, field)})'
    if inner is int:
        return src
    if inner is bool:
        return f'("true" if {src} else "false")'
    if inner is float:
        return f"_float({src})"
    if typing.get_origin(inner) is Literal and _scalar_check(inner):
        return f"_q[{src}]"
    if inner is str:
        return f"_q[{src}]" if field in _IDENTITY_FIELDS else f"_esc({src})"
    # Shortcuts for the shapes nearly every event has (ints, short strings, one int per
    # output port) skip the general JSON encoder, whose per-call set-up dominates there.
    if typing.get_origin(inner) is tuple:
        args = typing.get_args(inner)
        if len(args) == 2 and args[1] is Ellipsis and _is_record(args[0]):
            name = _record_encoder_name(args[0], env)
            return f'("[" + ",".join(map({name}, {src})) + "]" if {src} else "[]")'
        if len(args) == 2 and args[1] is Ellipsis and _is_json_value_hint(args[0]):
            return f"_values({src})"
        if len(args) == 2 and args[1] is Ellipsis and args[0] is str:
            return f"_names({src})"
        return f'(_json({src}) if {src} else "[]")'
    if _is_json_value_hint(inner):
        return f"({src} if type({src}) is int else _value({src}))"
    if _is_record(inner):
        return f"{_record_encoder_name(inner, env)}({src})"
    return f"_json({src})"


def _is_record(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


_JSON_SCALARS = frozenset({bool, int, float, str, type(None)})


def _is_json_value_hint(tp: Any) -> bool:
    """``JsonValue`` as ``typing.get_type_hints`` returns it: its forward references
    resolved one level down, so it no longer compares equal to the alias itself."""
    if _is_json_value(tp):
        return True
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return False
    args = typing.get_args(tp)
    origins = {typing.get_origin(a) for a in args}
    return set(args) >= _JSON_SCALARS and {list, dict} <= origins and len(args) == 7


def _value_text(v: Any) -> str:
    """The JSON text of an encoded value (what the C encoder writes, sooner for the
    scalars nearly every value is)."""
    t = type(v)
    if t is int:
        return str(v)
    if t is str:
        return encode_basestring_ascii(v)
    if v is None:
        return "null"
    if t is bool:
        return "true" if v else "false"
    if t is float:
        return _float_text(v)
    return _json_text(v)


def _values_text(values: tuple[Any, ...]) -> str:
    """The JSON array of a tuple of encoded values (one per output port)."""
    if len(values) == 1:
        v = values[0]
        return f"[{v}]" if type(v) is int else f"[{_value_text(v)}]"
    return "[" + ",".join(map(_value_text, values)) + "]"


def _names_text(names: tuple[str, ...]) -> str:
    """The JSON array of a tuple of strings: node ids in every use the vocabulary has."""
    if not names:
        return "[]"
    if len(names) == 1:
        return "[" + _QUOTED[names[0]] + "]"
    return "[" + ",".join([_QUOTED[n] for n in names]) + "]"


class _IntTupleCache(dict[Any, str]):
    """``cache[t]`` is the JSON text of the int tuple ``t`` (or of ``None``); bounded."""

    def __missing__(self, key: Any) -> str:
        if len(self) >= 8192:
            self.clear()
            self[None] = "null"
        text = self[key] = _json_text(key)
        return text


_INT_TUPLES = _IntTupleCache({None: "null"})


def _record_encoder_name(cls: type, env: dict[str, Any]) -> str:
    name = f"_rec_{cls.__name__}"
    if name not in env:
        encoder = _RECORD_ENCODERS.get(cls)
        if encoder is None:
            encoder = _compile_encoder(cls, None)
            if cls is NodeInfo:
                encoder = _remembered_node_info(encoder)
            elif cls is GraphInfo:
                encoder = _graph_info_forgetting_nodes(encoder)
            _RECORD_ENCODERS[cls] = encoder
        env[name] = encoder
    return name


#: ``id(node_info) -> (node_info, text)`` for the nodes of the graph encoded last. Every
#: run's ``FlowStarted`` carries its graph and is followed by one ``NodeRegistered`` per
#: node holding the *same* NodeInfo objects, so their text is written once and reused
#: (a quarter of all encoding work on a chain). The entry keeps its object alive, so an
#: id cannot be reused while cached; the identity test makes a stale entry harmless.
_NODE_TEXTS: dict[int, tuple[object, str]] = {}


def _remembered_node_info(encode: Callable[[Any], str]) -> Callable[[Any], str]:
    def node_info_text(info: Any) -> str:
        entry = _NODE_TEXTS.get(id(info))
        if entry is not None and entry[0] is info:
            return entry[1]
        text = encode(info)
        if len(_NODE_TEXTS) >= 65_536:
            _NODE_TEXTS.clear()
        _NODE_TEXTS[id(info)] = (info, text)
        return text

    return node_info_text


def _graph_info_forgetting_nodes(encode: Callable[[Any], str]) -> Callable[[Any], str]:
    def graph_info_text(graph: Any) -> str:
        _NODE_TEXTS.clear()  # a new run: the previous graph's nodes are not needed again
        return encode(graph)

    return graph_info_text


def _compile_encoder(
    cls: type, kind: str | None, *, from_fields: bool = False
) -> Callable[[Any], str]:
    """``f(obj) -> str``: one JSON object, ``kind`` first (for events), then the fields
    in declaration order, as a single f-string; no newline.

    With ``from_fields`` the function takes an event as the recorder buffers it, the
    tuple ``(kind, seq, t_ns, run_id, fields)`` a bus hands to ``on_event_fields``,
    and writes the very same text as for the event object.
    """
    env: dict[str, Any] = {
        "_esc": encode_basestring_ascii,
        "_json": _json_text,
        "_float": _float_text,
        "_q": _QUOTED,
        "_g": _INT_TUPLES,
        "_value": _value_text,
        "_values": _values_text,
        "_names": _names_text,
    }
    parts = ['{{"kind":"' + kind + '",' if kind is not None else "{{"]
    hints = _hints(cls)
    for n, (name, tp) in enumerate(hints):
        if not from_fields:
            src = f"e.{name}"
        elif n < 3:  # the header: seq, t_ns, run_id
            src = f"e[{n + 1}]"
        else:
            src = f"f[{n - 3}]"
        expr = _encode_expr(tp, src, env, name)
        parts.append(f'{"," if n else ""}"{name}":{{{expr}}}')
    parts.append("}}")
    prologue = "    f = e[4]\n" if from_fields and len(hints) > 3 else ""
    source = f"def encode(e):\n{prologue}    return f'{''.join(parts)}'\n"
    exec(source, env)  # compiled from cls's own fields, see module docstring
    encoder: Callable[[Any], str] = env["encode"]
    return encoder


_ENCODERS: list[Callable[[Event], str]] = [_compile_encoder(t, t.__name__) for t in EVENT_TYPES]
#: Per kind: the line of an event given as ``(kind, seq, t_ns, run_id, fields)``.
_FIELD_ENCODERS: list[Callable[[tuple[Any, ...]], str]] = [
    _compile_encoder(t, t.__name__, from_fields=True) for t in EVENT_TYPES
]
_DECODERS: dict[str, Callable[[dict[str, Any]], Event]] = {
    t.__name__: _compile_decoder(t, with_kind=True) for t in EVENT_TYPES
}


# ------------------------------------------------------------------------ public API


def encode_event(event: Event) -> str:
    """The trace line of ``event`` (compact JSON, ASCII only, no trailing newline)."""
    return _ENCODERS[event.kind](event)


def event_to_json(event: Event) -> dict[str, JsonValue]:
    """``event`` as a JSON-ready dict (``kind`` first), e.g. for other exporters."""
    loaded: dict[str, JsonValue] = json.loads(encode_event(event))
    return loaded


def decode_event(
    obj: Any, *, allow_newer: bool = False, on_newer: Callable[[str], None] | None = None
) -> Event:
    """Rebuild an event from its decoded JSON object.

    Raises :class:`EventDecodeError` naming the field at fault, or
    :class:`UnknownKindError`. With ``allow_newer`` (a file from a newer minor schema
    version) unknown fields are dropped and missing fields take a neutral default,
    each difference said once: to ``on_newer`` when given, else as a warning;
    otherwise both are errors.
    """
    if type(obj) is not dict:
        raise EventDecodeError(f"expected a JSON object, got {type(obj).__name__}")
    kind = obj.get("kind")
    decoder = _DECODERS.get(kind) if type(kind) is str else None
    if decoder is None:
        if kind is None:
            raise EventDecodeError("the object has no 'kind'")
        raise UnknownKindError(kind)
    assert isinstance(kind, str)
    try:
        return decoder(obj)
    except (KeyError, _FieldSetError):
        pass
    except (TypeError, ValueError) as exc:
        if isinstance(exc, EventDecodeError):
            raise
        raise EventDecodeError(_explain(EVENT_TYPES_BY_NAME[kind], obj)) from None
    return _decode_mismatched(kind, obj, allow_newer, on_newer)


json_to_event = decode_event


def _decode_mismatched(
    kind: str, obj: dict[str, Any], allow_newer: bool, on_newer: Callable[[str], None] | None
) -> Event:
    """Slow path: some object's field set differs from its class's. Normalise the whole
    object against the declared types (drop unknown fields, fill missing ones), then
    decode it on the fast path; without ``allow_newer`` the first difference is an error."""
    issues: list[str] = []
    fixed = _normalize(EVENT_TYPES_BY_NAME[kind], obj, kind, issues, top=True)
    if issues and not allow_newer:
        raise EventDecodeError(issues[0])
    for issue in issues:
        message = (
            f"trace from a newer flowtrace: {issue} (unknown fields are ignored, "
            "missing ones get a neutral default)"
        )
        if on_newer is not None:
            on_newer(message)
        else:
            _warn_once(issue, message)
    fixed["kind"] = kind
    return _DECODERS[kind](fixed)


def _normalize(tp: Any, value: Any, where: str, issues: list[str], top: bool = False) -> Any:
    optional, inner = _is_optional(tp)
    if value is None and optional:
        return None
    if isinstance(inner, type) and dataclasses.is_dataclass(inner):
        if type(value) is not dict:
            return value  # the fast decoder reports the type error
        out: dict[str, Any] = {}
        hints = _hints(inner)
        for name, field_type in hints:
            if name in value:
                out[name] = _normalize(field_type, value[name], f"{where}.{name}", issues)
            else:
                issues.append(f"{where}: missing field {name!r}")
                out[name] = default_for_field(field_type)
        known = {name for name, _ in hints} | ({"kind"} if top else set())
        for name in value:
            if name not in known:
                issues.append(f"{where}: unknown field {name!r}")
        return out
    if typing.get_origin(inner) is tuple and type(value) is list:
        args = typing.get_args(inner)
        if len(args) == 2 and args[1] is Ellipsis:
            return [_normalize(args[0], v, f"{where}[]", issues) for v in value]
    return value


def default_for_field(tp: Any) -> Any:
    """The JSON value used for a field absent from an older or newer file."""
    optional, inner = _is_optional(tp)
    if optional or _is_json_value(tp):
        return None
    if typing.get_origin(inner) is tuple:
        return []
    if typing.get_origin(inner) is dict:
        return {}
    if inner is bool:
        return False
    if inner is int:
        return 0
    if inner is float:
        return 0.0
    if isinstance(inner, type) and dataclasses.is_dataclass(inner):
        return {name: default_for_field(t) for name, t in _hints(inner)}
    return ""


_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, stacklevel=3)
