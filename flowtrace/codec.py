"""The value codec: how user values become event fields.

Events must never hold live objects (an instrument could mutate them, a trace file
could not store them, and a replay would show today's value instead of the value at the
time). The codec turns any value into plain JSON data once, when the event is built:

* JSON scalars (``None``, ``bool``, ``int``, finite ``float``, short ``str``) stay as
  they are;
* lists and ``str``-keyed dicts of such values are copied, as long as they stay small;
* everything else — tuples, objects, huge or deep containers, long strings — becomes a
  marker ``{"$repr": text, "$type": qualified type name, "$truncated": bool}``, where
  ``text`` is the ``repr`` cut to ``max_repr`` characters.

A redaction hook can replace a value before it is encoded, and ``include_values=False``
drops every value (``{"$omitted": true}``), for traces that must not carry data.

The codec is also the run's policy for free text that may quote data: ``redact_text``
rewrites exception messages, tracebacks and the engine's descriptions of waits, and
``error_text=False`` keeps only an exception's type. The bus applies both to every
event before any instrument sees it (:mod:`flowtrace.instrument`).

Exceptions become text through :func:`exception_type_name`, :func:`exception_message`
and :func:`exception_traceback`, which never raise: a user's ``__str__`` that fails
must not change what a run does just because something records its errors.
"""

from __future__ import annotations

import math
import traceback as _traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "JsonValue",
    "OMITTED",
    "REDACTED",
    "ValueCodec",
    "DEFAULT_CODEC",
    "describe",
    "is_marker",
    "OMITTED_TEXT",
    "exception_type_name",
    "exception_message",
    "exception_traceback",
]

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None

OMITTED: dict[str, JsonValue] = {"$omitted": True}
REDACTED: dict[str, JsonValue] = {"$redacted": True}

_MARKER_KEYS = ("$repr", "$omitted", "$redacted")

#: What an exception message becomes when the codec keeps no error text.
OMITTED_TEXT = "<omitted>"


def is_marker(value: JsonValue) -> bool:
    """True when ``value`` is a codec marker rather than a plain JSON value."""
    return isinstance(value, dict) and any(k in value for k in _MARKER_KEYS)


def describe(value: JsonValue, limit: int = 80) -> str:
    """A short human-readable text for an encoded value (for tables and snapshots)."""
    if isinstance(value, dict):
        if "$repr" in value:
            text = str(value["$repr"])
            if value.get("$truncated"):
                text += "…"
        elif "$omitted" in value:
            text = "<omitted>"
        elif "$redacted" in value:
            text = "<redacted>"
        else:
            text = _json_text(value)
    else:
        text = _json_text(value)
    if len(text) > limit:
        return text[: max(0, limit - 1)] + "…"
    return text


def _json_text(value: JsonValue) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_json_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_json_text(v)}" for k, v in value.items()) + "}"
    return repr(value)


Redactor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class ValueCodec:
    """Encodes values for events. Immutable, so one codec can be shared by many runs.

    ``max_repr`` caps the length of any string or ``repr`` text; ``max_items`` caps the
    number of scalars copied out of one container; ``max_depth`` caps nesting. The
    ``redact`` hook sees each top-level value and returns it unchanged, a replacement,
    or :data:`REDACTED`.
    """

    max_repr: int = 200
    max_items: int = 64
    max_depth: int = 4
    include_values: bool = True
    redact: Redactor | None = None
    #: Rewrites free text (exception messages and tracebacks, wait descriptions, task
    #: names): applied by the bus to every event, before any instrument sees it.
    redact_text: Callable[[str], str] | None = None
    #: ``False``: an exception keeps only its type (message ``OMITTED_TEXT``, no
    #: traceback), since messages and tracebacks quote data.
    error_text: bool = True

    @property
    def rewrites_text(self) -> bool:
        """True when events' free text must pass through this codec (see the bus)."""
        return self.redact_text is not None or not self.error_text

    def text(self, text: str) -> str:
        """``text`` with the redaction patterns applied (unchanged without them)."""
        return text if self.redact_text is None else self.redact_text(text)

    def error_texts(self, message: str, traceback: str) -> tuple[str, str]:
        """An exception's message and traceback as this codec lets them out."""
        if not self.error_text:
            return OMITTED_TEXT, ""
        redact = self.redact_text
        if redact is None:
            return message, traceback
        return redact(message), redact(traceback)

    def encode(self, value: Any) -> JsonValue:
        kind = type(value)
        if (
            (kind is int or value is None or kind is bool)
            and self.redact is None
            and self.include_values
        ):
            # The common case, without the walk: a scalar is its own encoding.
            return value  # type: ignore[no-any-return]
        if not self.include_values:
            return dict(OMITTED)
        if self.redact is not None:
            value = self.redact(value)
            if value is REDACTED:
                return dict(REDACTED)
        budget = [self.max_items]
        copied = self._copy(value, 0, budget)
        if copied is _NOT_JSON:
            return self._marker(value)
        return copied  # type: ignore[return-value]

    def encode_tuple(self, values: tuple[Any, ...]) -> list[JsonValue]:
        """Encode each element of a data tuple (one element per output port)."""
        return [self.encode(v) for v in values]

    def _copy(self, value: Any, depth: int, budget: list[int]) -> object:
        budget[0] -= 1
        if budget[0] < 0 or depth > self.max_depth:
            return _NOT_JSON
        if value is None or value is True or value is False:
            return value
        kind = type(value)
        if kind is int:
            return value
        if kind is float:
            return value if math.isfinite(value) else _NOT_JSON
        if kind is str:
            return value if len(value) <= self.max_repr else _NOT_JSON
        if kind is list:
            out: list[object] = []
            for item in value:
                c = self._copy(item, depth + 1, budget)
                if c is _NOT_JSON:
                    return _NOT_JSON
                out.append(c)
            return out
        if kind is dict:
            out_d: dict[str, object] = {}
            for k, item in value.items():
                if type(k) is not str or k.startswith("$"):
                    return _NOT_JSON
                c = self._copy(item, depth + 1, budget)
                if c is _NOT_JSON:
                    return _NOT_JSON
                out_d[k] = c
            return out_d
        return _NOT_JSON

    def _marker(self, value: Any) -> JsonValue:
        try:
            text = repr(value)
        except Exception as exc:  # a broken __repr__ must not break the flow
            text = f"<repr failed: {type(exc).__name__}>"
        truncated = len(text) > self.max_repr
        if truncated:
            text = text[: self.max_repr]
        kind = type(value)
        type_name = (
            kind.__qualname__
            if kind.__module__ == "builtins"
            else (f"{kind.__module__}.{kind.__qualname__}")
        )
        return {"$repr": text, "$type": type_name, "$truncated": truncated}


# ----------------------------------------------------------------------------- exceptions


def exception_type_name(kind: type[BaseException]) -> str:
    """``ValueError``, or ``package.module.Qualname`` outside the builtins."""
    try:
        module, name = kind.__module__, kind.__qualname__
        return name if module == "builtins" else f"{module}.{name}"
    except Exception:
        return _safe_name(kind)


def exception_message(exc: BaseException) -> str:
    """``str(exc)``, or ``<str() failed: TypeName>`` when that raises.

    Only ``KeyboardInterrupt`` and ``SystemExit`` escape (they are the user stopping
    the program, not a broken message)."""
    try:
        text = str(exc)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as failure:
        return f"<str() failed: {_safe_name(type(failure))}>"
    return text


def exception_traceback(exc: BaseException, tb: types.TracebackType | None) -> str:
    """The formatted traceback of ``exc`` from ``tb`` (as Python prints it, chained
    exceptions included); never raises. When formatting fails (a broken
    ``__notes__``, a source loader that raises …), the frames alone, and failing
    that, a line saying so."""
    kind = type(exc)
    try:
        return "".join(_traceback.format_exception(kind, exc, tb))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as failure:
        last = f"{exception_type_name(kind)}: {exception_message(exc)}\n"
        try:
            frames = "".join(
                f'  File "{frame.f_code.co_filename}", line {line}, in {frame.f_code.co_name}\n'
                for frame, line in _traceback.walk_tb(tb)
            )  # locations only: reading source lines may be what failed
            return "Traceback (most recent call last):\n" + frames + last
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            return f"<traceback formatting failed: {_safe_name(type(failure))}>\n{last}"


def _safe_name(kind: type) -> str:
    try:
        return str(type.__getattribute__(kind, "__name__"))
    except Exception:
        return "?"


class _NotJson:
    __slots__ = ()


_NOT_JSON = _NotJson()

DEFAULT_CODEC = ValueCodec()
