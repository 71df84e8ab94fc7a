"""Redaction for the recorder: :class:`PatternRedactor` (regular expressions whose
matches are removed from values and from free text), the command line as the header
records it, and the composition of a user's hook with the patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flowtrace.codec import REDACTED

__all__ = ["PatternRedactor", "REDACTED_TEXT"]

#: What a redaction pattern's matches are replaced with inside strings.
REDACTED_TEXT = "<redacted>"


class PatternRedactor:
    """A redaction hook from regular expressions.

    Inside strings (also inside lists, tuples and dict values) every match is replaced
    by :data:`REDACTED_TEXT`; a dict entry whose *key* matches has its whole value
    replaced (and the matches in the key too: the key may be the secret); any other
    object whose ``repr`` matches is redacted entirely (the codec would otherwise store
    that ``repr``). ``text()`` applies the patterns to plain text (exception messages,
    tracebacks, the engine's descriptions, ``argv``).
    """

    def __init__(self, patterns: Iterable[str | re.Pattern[str]]) -> None:
        compiled = [p if isinstance(p, re.Pattern) else re.compile(p) for p in patterns]
        if not compiled:
            raise ValueError("PatternRedactor needs at least one pattern")
        self.patterns = tuple(compiled)
        self._any = re.compile("|".join(f"(?:{p.pattern})" for p in compiled))

    def text(self, text: str) -> str:
        return self._any.sub(REDACTED_TEXT, text)

    def __call__(self, value: Any) -> Any:
        out = self._walk(value, 0)
        return REDACTED if out is _WHOLE else out

    def _walk(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self._any.sub(REDACTED_TEXT, value)
        if value is None or kind is int or kind is float or kind is bool:
            return value
        if depth < 16:
            if kind is list or kind is tuple:
                items = [self._walk(v, depth + 1) for v in value]
                items = [REDACTED_TEXT if v is _WHOLE else v for v in items]
                return items if kind is list else tuple(items)
            if kind is dict:
                out: dict[Any, Any] = {}
                for k, v in value.items():
                    if isinstance(k, str) and self._any.search(k):
                        out[self._any.sub(REDACTED_TEXT, k)] = REDACTED_TEXT
                    else:
                        w = self._walk(v, depth + 1)
                        out[k] = REDACTED_TEXT if w is _WHOLE else w
                return out
        try:
            text = repr(value)
        except Exception:
            return value  # the codec reports the broken repr, which holds no data
        return _WHOLE if self._any.search(text) else value


_WHOLE = object()


def _redacted_argv(argv: Sequence[str], redact: Callable[[Any], Any] | None) -> list[str]:
    """The command line as the header records it: each argument through the value
    redactor (a hook refusing one gives :data:`REDACTED_TEXT`)."""
    if redact is None:
        return list(argv)
    out = []
    for arg in argv:
        value = redact(arg)
        out.append(value if isinstance(value, str) else REDACTED_TEXT)
    return out


def _compose(
    first: Callable[[Any], Any] | None, second: Callable[[Any], Any] | None
) -> Callable[[Any], Any] | None:
    if first is None or second is None:
        return first or second
    f, s = first, second

    def both(value: Any) -> Any:
        value = f(value)
        return value if value is REDACTED else s(value)

    return both
