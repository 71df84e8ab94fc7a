"""HTTP headers: a case-insensitive name → value map (Flowno's ``flowno.io.Headers``).

Names are stored lower-cased; a list value is joined with ``", "`` as HTTP wants for a
repeated field. :meth:`Headers.stringify` gives the header block of a request (lines
joined by CRLF, without the blank line that ends it).
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["Headers"]


class Headers:
    """Case-insensitive HTTP headers, in insertion order."""

    def __init__(self) -> None:
        self._headers: dict[str, str | list[str]] = {}

    def set(self, name: str, value: str | list[str]) -> None:
        """Set ``name`` (replacing it); a list is joined with ``", "``."""
        if any(c in name for c in "\r\n:") or any(
            c in v for v in ([value] if isinstance(value, str) else value) for c in "\r\n"
        ):
            raise ValueError(f"header {name!r}: names and values may not contain CR or LF")
        self._headers[name.lower()] = ", ".join(value) if isinstance(value, list) else value

    def get(self, name: str, default: str | list[str] | None = None) -> str | list[str] | None:
        """The value of ``name`` (any case), else ``default``."""
        return self._headers.get(name.lower(), default)

    def delete(self, name: str) -> None:
        """Remove ``name`` if present."""
        self._headers.pop(name.lower(), None)

    def merge(self, headers: Headers) -> None:
        """Set every header of ``headers`` here (theirs win)."""
        for name, value in headers:
            self.set(name, value)

    def stringify(self) -> str:
        """``name: value`` lines joined by CRLF."""
        return "\r\n".join(f"{name}: {value}" for name, value in self._headers.items())

    def __iter__(self) -> Iterator[tuple[str, str | list[str]]]:
        return iter(list(self._headers.items()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._headers

    def __len__(self) -> int:
        return len(self._headers)

    def __repr__(self) -> str:
        return f"Headers({self._headers!r})"
