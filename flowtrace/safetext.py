"""Text from a trace made safe to show on a terminal.

A trace file is untrusted input: an exception message, a traceback, a value, a node or
run id can hold any character JSON can spell, among them terminal control sequences
(``ESC ] 52`` writes the clipboard, ``ESC ] 0`` the window title, ``ESC [ 2 J`` clears
the screen), bidirectional overrides that make text read differently than it is, and
lone surrogates that make printing fail. :func:`printable` replaces each such character
by one visible character, so the text keeps its length (and any styling computed on it
stays aligned) and shows what was there: C0 controls as the Unicode control pictures
(``␛`` for ESC, ``␇`` for BEL), everything else as ``�``.

Rich markup (``[bold]``, ``[/x]``) is the other danger: every view renders trace text
as :class:`rich.text.Text` objects, which rich never parses as markup, and never as a
``str`` handed to a renderable that would. :func:`safe_text` builds such a ``Text``.
"""

from __future__ import annotations

import re
import unicodedata

from rich.text import Text

__all__ = ["printable", "safe_text"]

_DEL = 0x7F
_REPLACEMENT = "\ufffd"
#: Unicode categories a terminal may act on, or that change how text reads.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _picture(code: int) -> str:
    if code < 0x20:
        return chr(0x2400 + code)
    if code == _DEL:
        return "\u2421"
    return _REPLACEMENT


#: The usual suspects, replaced at C speed: C0 controls (all, or all but newline and
#: tab), DEL, C1 controls, lone surrogates, bidirectional and zero-width formatting.
_COMMON = "\x7f-\x9f\ud800-\udfff\u200b-\u200f\u202a-\u202e\u2066-\u2069"
_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f{_COMMON}]")
_SINGLE_LINE = re.compile(f"[\x00-\x1f{_COMMON}]")


def _replace(match: re.Match[str]) -> str:
    return _picture(ord(match.group()))


def printable(text: str, *, multiline: bool = True) -> str:
    """``text`` with every control, format or unassigned character replaced by one
    visible character. ``multiline`` keeps newlines and tabs (tracebacks); without it
    they are replaced too (a table cell, a one-line message)."""
    if text.isprintable():
        return text
    text = (_MULTILINE if multiline else _SINGLE_LINE).sub(_replace, text)
    rest = text.replace("\n", "").replace("\t", "") if multiline else text
    if rest.isprintable():
        return text
    out = []  # rarer characters (other format or unassigned code points): one by one
    for ch in text:
        if ch.isprintable() or ch == "\n" or ch == "\t":
            out.append(ch)
        elif unicodedata.category(ch) in _UNSAFE_CATEGORIES:
            out.append(_picture(ord(ch)))
        else:  # other separators (no-break and wide spaces): harmless
            out.append(ch)
    return "".join(out)


def safe_text(text: object, style: str = "", *, multiline: bool = True) -> Text:
    """A rich ``Text`` safe for a terminal, never parsed as markup: a ``Text`` has its
    characters made :func:`printable` in place (same length, so its styles stay where
    they were) and is returned; anything else is ``str()``-ed into a new ``Text``."""
    if isinstance(text, Text):
        plain = text.plain
        safe = printable(plain, multiline=multiline)
        if safe is not plain:
            text.plain = safe
        return text
    return Text(
        printable(text if type(text) is str else str(text), multiline=multiline), style=style
    )
