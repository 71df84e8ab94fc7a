"""How a trace file is found wrong: the error a strict read raises (it names the file,
the line and why), the refusal of an unknown schema major version, the warning about a
newer minor version, and what a lenient read skipped (:class:`TraceDamage`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "TraceFormatError",
    "TraceVersionError",
    "TraceSchemaWarning",
    "SkippedLine",
    "TraceDamage",
    "MAX_LISTED",
]

#: How many skipped lines a lenient read lists one by one (all of them are counted).
MAX_LISTED = 100


class TraceFormatError(ValueError):
    """A trace file cannot be read: names the file, the line (1 = header) and why."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class TraceVersionError(TraceFormatError):
    """The file was written with a schema major version this flowtrace cannot read."""


class TraceSchemaWarning(UserWarning):
    """The file comes from a newer minor schema: what it added is ignored. The command
    line prints it as one ``flowtrace: warning: …`` line."""


@dataclass(frozen=True)
class SkippedLine:
    """One line a lenient read left out: its number (1 = header), why, and its length
    in bytes (uncompressed, without the newline)."""

    line: int
    reason: str
    size: int = 0


@dataclass(frozen=True)
class TraceDamage:
    """What a lenient read left out.

    Bad lines are skipped and reading resumes on the next line: ``skipped_lines`` /
    ``skipped_bytes`` count every one, ``skipped`` lists the first :data:`MAX_LISTED`.
    ``stopped`` is set when the file could not be read any further (a compressed
    stream that breaks off, a read error): everything after that point is lost.
    """

    skipped: tuple[SkippedLine, ...] = ()
    skipped_lines: int = 0
    skipped_bytes: int = 0
    stopped: SkippedLine | None = None

    @property
    def first(self) -> SkippedLine:
        """The first problem in the file."""
        if self.skipped:
            return self.skipped[0]
        assert self.stopped is not None
        return self.stopped

    @property
    def line(self) -> int:
        """Line number of the first problem."""
        return self.first.line

    @property
    def reason(self) -> str:
        """What is wrong with the first problem's line."""
        return self.first.reason

    def listing(self, path: str = "") -> list[str]:
        """One ``FILE:LINE: reason`` line per problem listed, then a count of the rest."""
        where = f"{path}:" if path else "line "
        out = [f"{where}{s.line}: {s.reason}" for s in self.skipped]
        more = self.skipped_lines - len(self.skipped)
        if more > 0:
            out.append(f"… and {more} more skipped line(s)")
        if self.stopped is not None:
            out.append(
                f"{where}{self.stopped.line}: {self.stopped.reason}; nothing after it could be read"
            )
        return out

    def describe(self) -> str:
        """One line: how much was skipped, the first problem, and whether reading
        stopped early."""
        parts = []
        if self.skipped_lines:
            first = self.skipped[0]
            parts.append(
                f"{self.skipped_lines} bad line(s) skipped ({self.skipped_bytes} bytes), "
                f"the first at line {first.line}: {first.reason}"
            )
        if self.stopped is not None:
            parts.append(f"stopped at line {self.stopped.line}: {self.stopped.reason}")
        return "; ".join(parts)
