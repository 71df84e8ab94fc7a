"""Trace files: the format's constants, its header, and the reader.

A trace file (``NAME.ftrace.jsonl``, or gzip-compressed ``NAME.ftrace.jsonl.gz``) is
JSON Lines: line 1 is the header (format name, schema version, versions, wall-clock
start, command line), every further line is one event as written by
:mod:`flowtrace.eventjson`. Events of several runs may interleave; each carries its
``run_id``. See ``docs/trace-format.md``. A file of schema 1.x is read as 2.0: its
events are upgraded as they are read (:mod:`flowtrace.upgrade`).

Reading is lazy and safe against any file: :class:`TraceReader` yields events one at
a time with their line numbers, parses nothing but JSON (no pickle, no eval), checks
every field's type, the nesting of values and the order of events within each run,
bounds the length of a line (so memory stays bounded, whatever the file), and names
the file, line and reason of the first bad line (:class:`TraceFormatError`). In
lenient mode it skips each bad line instead, resumes on the next one, and lists what
it skipped (:class:`TraceDamage`): what a file cut short by ``kill -9``, or damaged in
the middle, needs.
"""

from __future__ import annotations

import gc
import gzip
import json
import math
import os
import re
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import msgspec

from flowtrace import eventjson
from flowtrace.codec import JsonValue
from flowtrace.eventjson import EventDecodeError, UnknownKindError, convert_object
from flowtrace.events import (
    EVENT_TYPES_BY_NAME,
    SCHEMA_VERSION,
    AnyEvent,
    Event,
    FlowFinished,
    FlowStarted,
    GraphInfo,
    LoopExited,
    LoopStarted,
)

__all__ = [
    "FORMAT_NAME",
    "SUFFIX",
    "GZIP_SUFFIX",
    "TraceFormatError",
    "TraceVersionError",
    "TraceHeader",
    "TraceDamage",
    "SkippedLine",
    "TraceSchemaWarning",
    "TraceReader",
    "MAX_LINE_BYTES",
    "max_line_bytes",
    "RunTrace",
    "Trace",
    "make_header",
    "iter_events",
    "read_trace",
    "default_trace_path",
]

FORMAT_NAME = "flowtrace"
SUFFIX = ".ftrace.jsonl"
GZIP_SUFFIX = ".ftrace.jsonl.gz"
_GZIP_MAGIC = b"\x1f\x8b"
_BLOCK = 1 << 20


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


# ----------------------------------------------------------------------------- header


@dataclass(frozen=True)
class TraceHeader:
    """Line 1 of a trace file. ``options`` records how values were encoded
    (``values``: values kept or omitted, ``max_repr``, ``redacted``); ``extra`` keeps
    any header key this version does not know, so nothing read is lost."""

    schema: tuple[int, int]
    flowtrace_version: str
    python_version: str
    wall_time_ns: int
    argv: tuple[str, ...]
    pid: int = 0
    options: dict[str, JsonValue] = field(default_factory=dict)
    extra: dict[str, JsonValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, JsonValue]:
        started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.wall_time_ns / 1e9))
        return {
            "format": FORMAT_NAME,
            "schema": list(self.schema),
            "flowtrace": self.flowtrace_version,
            "python": self.python_version,
            "wall_time_ns": self.wall_time_ns,
            "started_at": started + "Z",
            "argv": list(self.argv),
            "pid": self.pid,
            "options": dict(self.options),
            **self.extra,
        }

    @classmethod
    def from_json(cls, obj: Any, path: str) -> TraceHeader:
        """Validate a decoded header line; raises :class:`TraceFormatError`."""
        if type(obj) is not dict or obj.get("format") != FORMAT_NAME:
            raise TraceFormatError(
                path, 1, "not a flowtrace trace: the first line is not a flowtrace header"
            )
        schema = obj.get("schema")
        if type(schema) is not list or len(schema) != 2 or not all(type(x) is int for x in schema):
            raise TraceFormatError(
                path, 1, f"bad header: schema must be [major, minor], got {schema!r}"
            )
        major, minor = schema
        if major not in _READABLE_MAJORS:
            ours = SCHEMA_VERSION[0]
            advice = (
                "upgrade flowtrace to read it"
                if major > ours
                else "re-record it with this flowtrace, or read it with the older flowtrace"
            )
            raise TraceVersionError(
                path,
                1,
                f"this trace uses schema {major}.{minor}, but this flowtrace reads "
                f"schema {ours}.x (and 1.x, upgraded) only: {advice}",
            )

        def get(key: str, kind: type, default: Any) -> Any:
            value = obj.get(key, default)
            if type(value) is not kind:
                raise TraceFormatError(
                    path, 1, f"bad header: {key!r} should be {kind.__name__}, got {value!r}"
                )
            return value

        known = {
            "format",
            "schema",
            "flowtrace",
            "python",
            "wall_time_ns",
            "started_at",
            "argv",
            "pid",
            "options",
        }
        argv = get("argv", list, [])
        return cls(
            schema=(major, minor),
            flowtrace_version=get("flowtrace", str, ""),
            python_version=get("python", str, ""),
            wall_time_ns=get("wall_time_ns", int, 0),
            argv=tuple(str(a) for a in argv),
            pid=get("pid", int, 0),
            options=get("options", dict, {}),
            extra={k: v for k, v in obj.items() if k not in known},
        )

    @property
    def newer_minor(self) -> bool:
        """True when the file comes from a newer minor schema than ours (for a 1.x
        file: newer than the last 1.x, 1.2)."""
        return self.schema[1] > _READABLE_MAJORS.get(self.schema[0], SCHEMA_VERSION[1])

    @property
    def upgraded(self) -> bool:
        """True for a file of an older major schema, whose events are upgraded on
        reading (:mod:`flowtrace.upgrade`)."""
        return self.schema[0] < SCHEMA_VERSION[0]


#: Major schema versions a reader opens, with the last minor version it knows of each.
_READABLE_MAJORS: dict[int, int] = {SCHEMA_VERSION[0]: SCHEMA_VERSION[1], 1: 2}


def make_header(
    argv: list[str] | tuple[str, ...] | None = None,
    options: dict[str, JsonValue] | None = None,
) -> TraceHeader:
    """The header for a trace starting now in this process."""
    import flowtrace  # late: flowtrace/__init__ may import the recorder

    return TraceHeader(
        schema=SCHEMA_VERSION,
        flowtrace_version=flowtrace.__version__,
        python_version=".".join(str(x) for x in sys.version_info[:3]),
        wall_time_ns=time.time_ns(),
        argv=tuple(sys.argv if argv is None else argv),
        pid=os.getpid(),
        options=dict(options or {}),
    )


def default_trace_path(script: str, *, compress: bool = False, directory: str = "") -> str:
    """``hello.py`` -> ``hello.ftrace.jsonl`` (or ``.ftrace.jsonl.gz``) in ``directory``
    (default: the current directory)."""
    stem = os.path.basename(os.path.normpath(script))
    if stem.endswith(".py"):
        stem = stem[:-3]
    return os.path.join(directory, stem + (GZIP_SUFFIX if compress else SUFFIX))


# ----------------------------------------------------------------------------- reader


class TraceSchemaWarning(UserWarning):
    """The file comes from a newer minor schema: what it added is ignored. The command
    line prints it as one ``flowtrace: warning: …`` line."""


#: The longest line a reader accepts, by default (``FLOWTRACE_MAX_LINE_MIB`` or the
#: reader's ``max_line_bytes`` change it). The recorder's own lines are far shorter:
#: values are cut to ``max_repr`` characters and at most 64 scalars, so only a graph
#: of many thousands of nodes comes near it.
MAX_LINE_BYTES = 16 << 20
#: How many skipped lines a lenient read lists one by one (all of them are counted).
MAX_LISTED = 100
#: Bounds of ``seq`` and ``t_ns`` (what the writer can produce: 64-bit counters).
_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)
#: Longest reason kept for one bad line (a wrong value is quoted in it).
_MAX_REASON = 240
#: A line that is not blank: from a line start, optional blanks, then anything else.
#: (A blank run is given back one character at a time on failure, so a line of blanks
#: costs its length, not its square.)
_NOT_BLANK = re.compile(rb"(?m)^[ \t\r\x0b\x0c]*[^ \t\r\n\x0b\x0c][^\n]*")


def max_line_bytes() -> int:
    """The line limit in force: ``FLOWTRACE_MAX_LINE_MIB`` (a number of MiB), else
    :data:`MAX_LINE_BYTES`."""
    text = os.environ.get("FLOWTRACE_MAX_LINE_MIB", "").strip()
    if text:
        try:
            value = float(text)
        except ValueError:
            value = 0.0
        if value > 0 and math.isfinite(value):
            return max(1024, int(value * (1 << 20)))
    return MAX_LINE_BYTES


def _size_text(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10} KiB"
    return f"{n} bytes"


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


class TraceReader:
    """Reads one trace file lazily. Opening reads and checks the header.

    Iterate it for events, or call :meth:`numbered` for ``(line number, event)`` pairs.

    Every line is checked: its length (at most ``max_line_bytes``, default
    :func:`max_line_bytes`), its JSON (nesting included), every field's type, and the
    order of ``seq`` within its run (strictly increasing). Strict (the default), the
    first bad line raises :class:`TraceFormatError`; ``lenient=True`` skips it,
    resumes on the next line, and counts and lists what it skipped in :attr:`damage`.
    A header that cannot be read, or a schema major version it does not know, is
    refused in both modes. ``skipped_kinds`` counts events of kinds from a newer minor
    version (skipped). ``notes`` says what a newer minor version changed; with
    ``warn=True`` (the default) each note is also a :class:`TraceSchemaWarning`.

    Memory stays bounded by the line limit (plus a block of about a megabyte)
    whatever the file holds, and time is linear in its size.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lenient: bool = False,
        max_line_bytes: int | None = None,
        warn: bool = True,
    ) -> None:
        self.path = os.fspath(path)
        self.lenient = lenient
        self.max_line = max_line_bytes if max_line_bytes is not None else _max_line()
        if self.max_line < 1:
            raise ValueError("max_line_bytes must be positive")
        self.skipped_kinds: dict[str, int] = {}
        self.notes: list[str] = []
        self._warn = warn
        self._listed: list[SkippedLine] = []
        self._skip_count = 0
        self._skip_bytes = 0
        self._stopped: SkippedLine | None = None
        self._last_seq: dict[str, int] = {}
        self._pending = b""
        self._line = 1
        self._raw: IO[bytes] = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        try:
            self.size = os.fstat(self._raw.fileno()).st_size
            self.compressed = self._raw.read(2) == _GZIP_MAGIC
            self._raw.seek(0)
            self._stream: IO[bytes] = (
                gzip.GzipFile(fileobj=self._raw, mode="rb")  # type: ignore[assignment]
                if self.compressed
                else self._raw
            )
            self.header = self._read_header()
        except BaseException:
            self.close()
            raise
        self._upgrader: Any = None
        if self.header.upgraded:
            from flowtrace import upgrade

            self._decoder: msgspec.json.Decoder[Any] = upgrade.V1_DECODER
            self._union: Any = upgrade.V1Event
            self._names: dict[str, type] = dict(upgrade.V1_TYPES_BY_NAME)
            self._checks: dict[type, Callable[[Any], None]] = upgrade.V1_CHECKS
            self._upgrader = upgrade.Upgrader()
        else:
            self._decoder = eventjson.DECODER
            self._union = AnyEvent
            self._names = dict(EVENT_TYPES_BY_NAME)
            self._checks = eventjson._CHECKS
        if self.header.newer_minor:
            self._note(
                f"{self.path} was written by a newer flowtrace (schema "
                f"{self.header.schema[0]}.{self.header.schema[1]}, this one reads "
                f"{SCHEMA_VERSION[0]}.{SCHEMA_VERSION[1]}): unknown fields and event kinds "
                "are ignored"
            )

    @property
    def damage(self) -> TraceDamage | None:
        """What a lenient read skipped so far (``None``: nothing)."""
        if not self._skip_count and self._stopped is None:
            return None
        return TraceDamage(tuple(self._listed), self._skip_count, self._skip_bytes, self._stopped)

    def _note(self, text: str) -> None:
        if text in self.notes or len(self.notes) >= MAX_LISTED:
            return
        self.notes.append(text)
        if self._warn:
            warnings.warn(text, TraceSchemaWarning, stacklevel=3)

    # -- the header -----------------------------------------------------------------

    def _read_header(self) -> TraceHeader:
        """Line 1, read in blocks up to the line limit (never an unbounded readline)."""
        not_a_trace = "not a flowtrace trace: the first line is not a flowtrace header"
        data = b""
        while True:
            try:
                block = self._stream.read1(min(_BLOCK, self.max_line))  # type: ignore[attr-defined]
            except (OSError, EOFError, zlib.error) as exc:
                raise TraceFormatError(self.path, 1, f"cannot read the header: {exc}") from None
            data += block
            start = data.lstrip()[:1]
            if start and start != b"{":
                raise TraceFormatError(self.path, 1, not_a_trace)
            cut = data.find(b"\n")
            if cut >= 0:
                first, self._pending = data[:cut], data[cut + 1 :]
                break
            if len(data) > self.max_line:
                raise TraceFormatError(self.path, 1, self._too_long_text(1) + f"; {not_a_trace}")
            if not block:
                first = data
                break
        if not first.strip():
            raise TraceFormatError(
                self.path,
                1,
                "empty file: no flowtrace header"
                if not data
                else "line 1 is blank: the header must be the first line",
            )
        try:
            obj = json.loads(first)
        except RecursionError:
            raise TraceFormatError(self.path, 1, f"nesting too deep; {not_a_trace}") from None
        except ValueError:
            raise TraceFormatError(self.path, 1, not_a_trace) from None
        return TraceHeader.from_json(obj, self.path)

    def _too_long_text(self, lineno: int) -> str:
        return (
            f"line {lineno} is longer than {_size_text(self.max_line)} (the reader's "
            "limit; FLOWTRACE_MAX_LINE_MIB raises it)"
        )

    # -- reading --------------------------------------------------------------------

    def position(self) -> int:
        """Bytes of the file consumed so far (compressed bytes for gzip): for progress."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return self.size

    def __iter__(self) -> Iterator[Event]:
        for events, _numbers in self.blocks():
            yield from events

    def numbered(self) -> Iterator[tuple[int, Event]]:
        """``(line number, event)`` for each event, in file order."""
        for events, numbers in self.blocks():
            yield from zip(numbers, events, strict=True)

    def blocks(self) -> Iterator[tuple[list[Event], list[int]]]:
        """The events in blocks of about a megabyte of file, each with the line numbers
        of its events: the cheapest way through a big file.

        A block of complete lines is decoded by one msgspec ``decode_lines`` call;
        only when that fails (or an event is out of order, or a value nests too deep)
        is it decoded line by line, to find and judge the bad lines. A 1.x file's
        events are upgraded to 2.0 on the way (:mod:`flowtrace.upgrade`)."""
        upgrader = self._upgrader
        try:
            for events, numbers, error in self._decoded_blocks():
                if upgrader is not None:
                    events, numbers = upgrader.feed(events, numbers)
                    if error is not None:
                        rest, rest_numbers = upgrader.finish()
                        events, numbers = events + rest, numbers + rest_numbers
                if events:
                    yield events, numbers  # the good events before a bad line come first
                if error is not None:
                    raise error
            if upgrader is not None:
                events, numbers = upgrader.finish()
                if events:
                    yield events, numbers
        finally:
            if self._stopped is not None or self._exhausted():
                self.close()

    def _decoded_blocks(self) -> Iterator[tuple[list[Any], list[int], TraceFormatError | None]]:
        """The blocks as read (1.x events not upgraded yet), each with the error of its
        first bad line (strict) or ``None``."""
        decode_lines = self._decoder.decode_lines
        checks = self._checks
        in_order = self._in_order
        for body, first, count, last_is_cut in self._bodies():
            if count == 1 and not body.strip():
                continue
            try:
                events: list[Any] = decode_lines(body)
                if len(events) == count:
                    eventjson.check_values(events, checks)
                if len(events) == count and in_order(events):
                    yield events, list(range(first, first + count)), None
                    continue
            except Exception:  # the slow path says what is wrong
                pass
            yield self._slow_block(body, first, last_is_cut)

    def _bodies(self) -> Iterator[tuple[bytes, int, int, bool]]:
        """Runs of complete lines read from the file: ``(bytes without the last
        newline, number of the first line, number of lines, the last line is cut
        short by the end of the file)``.

        No line longer than the limit is ever held: strict, it raises; lenient, it is
        skipped, its bytes counted as they stream past. A block is at most the limit
        (and a megabyte), so only the line carried over from the previous block can be
        longer than the limit."""
        limit = self.max_line
        size = min(_BLOCK, limit)
        read1 = self._stream.read1  # type: ignore[attr-defined]
        tail, self._pending = self._pending, b""
        lineno = self._line  # the last line consumed
        skipping = -1  # bytes of a too-long line skipped so far (lenient); -1: none
        try:
            while True:
                if skipping < 0 and b"\n" in tail:  # complete lines left over
                    data, tail = tail, b""
                else:
                    block = self._read(read1, size, lineno + 1)
                    if block is None:
                        return
                    if skipping >= 0:
                        cut = block.find(b"\n")
                        if cut < 0 and block:
                            skipping += len(block)
                            continue
                        lineno += 1
                        self._skip(
                            lineno,
                            self._too_long_text(lineno),
                            skipping + max(cut, 0),
                            terminated=cut >= 0,
                        )
                        skipping = -1
                        if cut < 0:
                            return
                        tail = block[cut + 1 :]
                        continue
                    if not block:
                        if tail:  # the file ends without a newline: its last line is cut
                            yield tail, lineno + 1, 1, True
                            lineno += 1
                        return
                    data = tail + block if tail else block
                first_cut = data.find(b"\n")
                if first_cut < 0:
                    if len(data) > limit:
                        self._long_line(lineno + 1)
                        skipping, tail = len(data), b""
                    else:
                        tail = data
                    continue
                if first_cut > limit:
                    lineno += 1
                    self._long_line(lineno)
                    self._skip(lineno, self._too_long_text(lineno), first_cut)
                    tail = data[first_cut + 1 :]
                    continue
                cut = data.rfind(b"\n")
                body, tail = data[:cut], data[cut + 1 :]
                count = body.count(b"\n") + 1
                yield body, lineno + 1, count, False
                lineno += count
        finally:
            self._line = lineno

    def _read(self, read1: Callable[[int], bytes], size: int, lineno: int) -> bytes | None:
        """The next block, or ``None`` when the stream broke (strict: raises)."""
        try:
            return read1(size)
        except (EOFError, OSError, zlib.error) as exc:
            self._stop(lineno, _stream_reason(exc))
            return None

    def _long_line(self, lineno: int) -> None:
        if not self.lenient:
            self.close()
            raise TraceFormatError(self.path, lineno, self._too_long_text(lineno))

    def _in_order(self, events: list[Any]) -> bool:
        """Whether each event's ``seq`` is above the last one of its run; if so, the
        runs' last seqs move on (nothing changes otherwise)."""
        last = self._last_seq
        moved: dict[str, int] = {}
        run: str | None = None
        top = -1
        for event in events:
            if event.run_id != run:
                if run is not None:
                    moved[run] = top
                run = event.run_id
                top = moved.get(run, last.get(run, -1))
            seq = event.seq
            if seq <= top or seq > _INT64_MAX or not _INT64_MIN <= event.t_ns <= _INT64_MAX:
                return False
            top = seq
        if run is not None:
            moved[run] = top
        last.update(moved)
        return True

    def _slow_block(
        self, body: bytes, first: int, last_is_cut: bool
    ) -> tuple[list[Any], list[int], TraceFormatError | None]:
        """Line by line: the good events of a block; strict, up to its first bad line
        and the error that line raises; lenient, skipping each bad line.

        Blank lines are found by a regular expression, so a flood of them costs no
        Python step per line; the other lines are tried as one block first (the fast
        path, minus the blank lines), and judged one by one only if that fails."""
        last = self._last_seq
        decode = self._decoder.decode
        checks = self._checks
        lines: list[bytes] = []
        numbers: list[int] = []
        newlines, at = 0, 0
        count = body.count
        for match in _NOT_BLANK.finditer(body):
            start = match.start()
            newlines += count(b"\n", at, start)
            at = start
            lines.append(match.group())
            numbers.append(first + newlines)
        if len(lines) > 1:
            try:
                decoded: list[Any] = self._decoder.decode_lines(b"\n".join(lines))
                if len(decoded) == len(lines):
                    eventjson.check_values(decoded, checks)
                if len(decoded) == len(lines) and self._in_order(decoded):
                    return decoded, numbers, None
            except Exception:  # judged line by line below
                pass
        events: list[Any] = []
        good: list[int] = []
        cut_at = first + body.count(b"\n") if last_is_cut else -1
        for line, lineno in zip(lines, numbers, strict=True):
            event: Any
            try:
                event = decode(line)
                check = checks.get(type(event))
                if check is not None:
                    check(event)
            except Exception:
                try:
                    event = self._slow_line(lineno, line, lineno == cut_at)
                except TraceFormatError as error:
                    return events, good, error
                if event is None:
                    continue
            run_id, seq = event.run_id, event.seq
            before = last.get(run_id, -1)
            if seq > _INT64_MAX or not _INT64_MIN <= event.t_ns <= _INT64_MAX:
                which = "seq" if seq > _INT64_MAX else "t_ns"
                try:
                    self._bad(
                        lineno,
                        f"{which} {getattr(event, which)} is out of range (a 64-bit integer)",
                        len(line),
                    )
                except TraceFormatError as error:
                    return events, good, error
                continue
            if seq <= before:
                try:
                    self._bad(
                        lineno,
                        f"seq {seq} of run {run_id!r} comes after seq {before}: "
                        "events out of order",
                        len(line),
                    )
                except TraceFormatError as error:
                    return events, good, error
                continue
            last[run_id] = seq
            events.append(event)
            good.append(lineno)
        return events, good, None

    def _exhausted(self) -> bool:
        return self._raw.closed or self.position() >= self.size

    def _slow_line(self, lineno: int, line: bytes, cut_short: bool) -> Any:
        """Diagnose a line the fast path refused: an event (a line msgspec cannot
        parse but the ``json`` module can: ``NaN`` tokens, lone surrogate escapes, or
        a newer schema's missing fields), or ``None`` to skip it (unknown kind of a
        newer schema, or a bad line read leniently); strict, a bad line raises."""
        try:
            obj = json.loads(line)
        except RecursionError:
            self._bad(
                lineno,
                "nesting too deep (JSON arrays/objects nested about a thousand levels)",
                len(line),
            )
            return None
        except ValueError as exc:
            reason = (
                "truncated line: the file ends in the middle of an event (the writer was "
                "killed or the file was cut)"
                if cut_short
                else f"not valid JSON ({exc})"
            )
            self._bad(lineno, reason, len(line), terminated=not cut_short)
            return None
        try:
            # Files of a newer minor version may lack fields we added later (never
            # happens by the rules, but tolerated with a note); unknown fields are
            # ignored in every version. Unknown kinds only come from newer files.
            return convert_object(
                obj,
                self._union,
                self._names,
                self._checks,
                allow_newer=self.header.newer_minor,
                on_newer=self._note,
            )
        except UnknownKindError as exc:
            if self.header.newer_minor:
                name = _short(str(exc.kind))
                self.skipped_kinds[name] = self.skipped_kinds.get(name, 0) + 1
                return None
            self._bad(lineno, str(exc), len(line))
        except EventDecodeError as exc:
            self._bad(lineno, str(exc), len(line))
        except RecursionError:
            self._bad(lineno, "nesting too deep", len(line))
        except Exception as exc:  # a decoder gap must still be a bad line, not a crash
            self._bad(lineno, f"not a valid event ({type(exc).__name__}: {exc})", len(line))
        return None

    def _bad(self, lineno: int, reason: str, size: int, *, terminated: bool = True) -> None:
        """A bad line: strict, raise; lenient, skip it."""
        if not self.lenient:
            self.close()
            raise TraceFormatError(self.path, lineno, _short(reason))
        self._skip(lineno, reason, size, terminated=terminated)

    def _skip(self, lineno: int, reason: str, size: int, *, terminated: bool = True) -> None:
        """Count (and list, up to :data:`MAX_LISTED`) a line of ``size`` bytes skipped."""
        self._skip_count += 1
        self._skip_bytes += size + (1 if terminated else 0)
        if len(self._listed) < MAX_LISTED:
            self._listed.append(SkippedLine(lineno, _short(reason), size))

    def _stop(self, lineno: int, reason: str) -> None:
        """The stream cannot be read further: strict, raise; lenient, note it."""
        if not self.lenient:
            self.close()
            raise TraceFormatError(self.path, lineno, reason)
        self._stopped = SkippedLine(lineno, _short(reason))

    # -- lifetime -------------------------------------------------------------------

    def close(self) -> None:
        stream = getattr(self, "_stream", None)
        if stream is not None and stream is not self._raw:
            stream.close()
        self._raw.close()

    def __enter__(self) -> TraceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _max_line() -> int:
    return max_line_bytes()


def _short(text: str, limit: int = _MAX_REASON) -> str:
    """A reason fit for one line: a quoted value can be megabytes long."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _stream_reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return (
            "the compressed stream ends early: the writer did not close the file (killed?); "
            "every complete line before this one was read"
        )
    return f"cannot read the file: {exc}"


def iter_events(path: str | os.PathLike[str], *, lenient: bool = False) -> Iterator[Event]:
    """Every event of a trace file, lazily, in file order (all runs interleaved)."""
    reader = TraceReader(path, lenient=lenient)
    try:
        yield from reader
    finally:
        reader.close()


# ----------------------------------------------------------------------------- whole traces


@dataclass
class RunTrace:
    """The events of one run (one ``run_id``), in order."""

    run_id: str
    events: list[Event] = field(default_factory=list)

    def _first(self, kind: type[Event]) -> Any:
        for event in self.events[:64]:
            if type(event) is kind:
                return event
        for event in self.events[64:]:
            if type(event) is kind:
                return event
        return None

    def _last(self, kind: type[Event]) -> Any:
        for event in reversed(self.events):
            if type(event) is kind:
                return event
        return None

    @property
    def flow_started(self) -> FlowStarted | None:
        found: FlowStarted | None = self._first(FlowStarted)
        return found

    @property
    def flow_finished(self) -> FlowFinished | None:
        found: FlowFinished | None = self._last(FlowFinished)
        return found

    @property
    def loop_started(self) -> LoopStarted | None:
        found: LoopStarted | None = self._first(LoopStarted)
        return found

    @property
    def loop_exited(self) -> LoopExited | None:
        found: LoopExited | None = self._last(LoopExited)
        return found

    @property
    def graph(self) -> GraphInfo | None:
        started = self.flow_started
        return started.graph if started is not None else None

    @property
    def outcome(self) -> str:
        """How the run ended, or ``incomplete`` when the trace stops before its end."""
        finished = self.flow_finished
        if finished is not None:
            return finished.outcome
        exited = self.loop_exited
        if exited is not None:
            return exited.outcome
        return "incomplete"

    @property
    def duration_ns(self) -> int:
        if not self.events:
            return 0
        return self.events[-1].t_ns - self.events[0].t_ns


@dataclass
class Trace:
    """A whole trace file in memory: the header, every event in file order, and the
    same events grouped by run (runs in order of first appearance)."""

    path: str
    header: TraceHeader
    events: list[Event]
    runs: dict[str, RunTrace]
    damage: TraceDamage | None = None
    skipped_kinds: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def run(self, run_id: str | None = None) -> RunTrace:
        """One run by id; without an id, the only run (an error if there are several)."""
        if run_id is not None:
            return self.runs[run_id]
        if len(self.runs) != 1:
            raise KeyError(f"the trace holds {len(self.runs)} runs; pass a run id")
        return next(iter(self.runs.values()))


def read_trace(
    path: str | os.PathLike[str],
    *,
    lenient: bool = False,
    progress: Callable[[int, int], None] | None = None,
    max_line_bytes: int | None = None,
    warn: bool = True,
) -> Trace:
    """Read a whole trace and group its events by run.

    ``progress(done, total)`` (bytes of the file) is called after each block of about
    a megabyte and at the end. Raises :class:`TraceFormatError` (strict) or records
    :attr:`Trace.damage`. ``max_line_bytes`` and ``warn``: see :class:`TraceReader`
    (what a newer minor schema changed is in :attr:`Trace.notes`).
    """
    reader = TraceReader(path, lenient=lenient, max_line_bytes=max_line_bytes, warn=warn)
    # Millions of long-lived, acyclic objects: the cyclic GC would rescan them again and
    # again while they are built (several times the cost of the read itself).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    events: list[Event] = []
    runs: dict[str, RunTrace] = {}
    current_id: str | None = None
    current: list[Event] = []
    try:
        for block, _numbers in reader.blocks():
            events.extend(block)
            for event in block:
                run_id = event.run_id
                if run_id != current_id:
                    run = runs.get(run_id)
                    if run is None:
                        run = runs[run_id] = RunTrace(run_id)
                    current_id, current = run_id, run.events
                current.append(event)
            if progress is not None:
                progress(reader.position(), reader.size)
    finally:
        reader.close()
        if gc_was_enabled:
            gc.enable()
    if progress is not None:
        progress(reader.size, reader.size)
    return Trace(
        reader.path,
        reader.header,
        events,
        runs,
        reader.damage,
        dict(reader.skipped_kinds),
        list(reader.notes),
    )
