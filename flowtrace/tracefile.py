"""Trace files: the format's constants, its header, and the reader.

A trace file (``NAME.ftrace.jsonl``, or gzip-compressed ``NAME.ftrace.jsonl.gz``) is
JSON Lines: line 1 is the header (format name, schema version, versions, wall-clock
start, command line), every further line is one event as written by
:mod:`flowtrace.eventjson`. Events of several runs may interleave; each carries its
``run_id``. See ``docs/trace-format.md``.

Reading is lazy and safe: :class:`TraceReader` yields events one at a time with their
line numbers, parses nothing but JSON (no pickle, no eval), checks every field's type,
and names the file, line and reason of the first bad line (:class:`TraceFormatError`).
In lenient mode it stops at the last good event instead and records what it dropped
(:class:`TraceDamage`), which is what a file cut short by ``kill -9`` needs.
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from flowtrace.codec import JsonValue
from flowtrace.eventjson import EventDecodeError, UnknownKindError, decode_event
from flowtrace.events import (
    SCHEMA_VERSION,
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
    "TraceReader",
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
        if (
            type(schema) is not list
            or len(schema) != 2
            or not all(type(x) is int for x in schema)
        ):
            raise TraceFormatError(path, 1, f"bad header: schema must be [major, minor], "
                                   f"got {schema!r}")
        major, minor = schema
        if major != SCHEMA_VERSION[0]:
            ours = SCHEMA_VERSION[0]
            advice = (
                "upgrade flowtrace to read it"
                if major > ours
                else "re-record it with this flowtrace, or read it with the older flowtrace"
            )
            raise TraceVersionError(
                path, 1, f"this trace uses schema {major}.{minor}, but this flowtrace reads "
                f"schema {ours}.x only: {advice}"
            )

        def get(key: str, kind: type, default: Any) -> Any:
            value = obj.get(key, default)
            if type(value) is not kind:
                raise TraceFormatError(path, 1, f"bad header: {key!r} should be "
                                       f"{kind.__name__}, got {value!r}")
            return value

        known = {"format", "schema", "flowtrace", "python", "wall_time_ns", "started_at",
                 "argv", "pid", "options"}
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
        """True when the file comes from a newer minor schema than ours."""
        return self.schema[1] > SCHEMA_VERSION[1]


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


@dataclass(frozen=True)
class TraceDamage:
    """What a lenient read left out: the first bad line, why, and what followed it
    (``dropped_lines`` / ``dropped_bytes``, uncompressed, counting the bad line; ``None``
    when they cannot be counted, e.g. after a broken compressed stream)."""

    line: int
    reason: str
    dropped_lines: int | None
    dropped_bytes: int | None

    def describe(self) -> str:
        parts = [f"line {self.line}: {self.reason}"]
        if self.dropped_lines is not None:
            parts.append(f"{self.dropped_lines} line(s) dropped from there on")
        return "; ".join(parts)


class TraceReader:
    """Reads one trace file lazily. Opening reads and checks the header.

    Iterate it for events, or call :meth:`numbered` for ``(line number, event)`` pairs.
    ``lenient=True`` stops at the last good event and sets :attr:`damage` instead of
    raising; a schema major version it does not know is refused in both modes.
    ``skipped_kinds`` counts events of kinds from a newer minor version (skipped).
    """

    def __init__(self, path: str | os.PathLike[str], *, lenient: bool = False) -> None:
        self.path = os.fspath(path)
        self.lenient = lenient
        self.damage: TraceDamage | None = None
        self.skipped_kinds: dict[str, int] = {}
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
        self._line = 1
        if self.header.newer_minor:
            warnings.warn(
                f"{self.path} was written by a newer flowtrace (schema "
                f"{self.header.schema[0]}.{self.header.schema[1]}, this one reads "
                f"{SCHEMA_VERSION[0]}.{SCHEMA_VERSION[1]}): unknown fields and event kinds "
                "are ignored",
                stacklevel=2,
            )

    def _read_header(self) -> TraceHeader:
        try:
            first = self._stream.readline()
        except (OSError, EOFError, zlib.error) as exc:
            raise TraceFormatError(self.path, 1, f"cannot read the header: {exc}") from None
        if not first:
            raise TraceFormatError(self.path, 1, "empty file: no flowtrace header")
        try:
            obj = json.loads(first)
        except ValueError:
            raise TraceFormatError(
                self.path, 1, "not a flowtrace trace: the first line is not a flowtrace header"
            ) from None
        return TraceHeader.from_json(obj, self.path)

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

        A block of complete lines is parsed by one ``json.loads`` call (as a JSON array)
        and decoded by one list comprehension; only when that fails is it parsed line by
        line, to find and judge the bad line."""
        loads = json.loads
        fast = _fast_decoders()
        lineno = self._line
        read1 = self._stream.read1  # type: ignore[attr-defined]
        tail = b""
        try:
            while True:
                try:
                    block = read1(_BLOCK)
                except (EOFError, OSError, zlib.error) as exc:
                    self._fail(lineno + 1, _stream_reason(exc), [], b"", countable=False)
                    return
                if block:
                    data = tail + block if tail else block
                    cut = data.rfind(b"\n")
                    if cut < 0:
                        tail = data
                        continue
                    body = data[:cut]
                    tail = data[cut + 1:]
                    last_is_cut = False
                elif tail:
                    body, tail, last_is_cut = tail, b"", True
                else:
                    return
                count = body.count(b"\n") + 1
                first = lineno + 1
                lineno += count
                if count > 1:
                    try:
                        objs = loads(b"[" + body.replace(b"\n", b",") + b"]")
                        if len(objs) == count:
                            events: list[Event] = [fast[o["kind"]](o) for o in objs]
                            yield events, list(range(first, lineno + 1))
                            continue
                    except Exception:
                        pass
                parts = body.split(b"\n")
                events, numbers, error = self._slow_block(parts, first, last_is_cut, tail)
                if events:
                    yield events, numbers  # the good events before a bad line come first
                if error is not None:
                    raise error
                if self.damage is not None:
                    return
        finally:
            self._line = lineno
            if self.damage is not None or self._exhausted():
                self.close()

    def _slow_block(
        self, parts: list[bytes], first: int, last_is_cut: bool, tail: bytes
    ) -> tuple[list[Event], list[int], TraceFormatError | None]:
        """Line by line: the good events of a block up to its first bad line, and in
        strict mode the error that line raises."""
        loads = json.loads
        fast = _fast_decoders()
        events: list[Event] = []
        numbers: list[int] = []
        for index, line in enumerate(parts):
            lineno = first + index
            try:
                obj = loads(line)
                event: Event = fast[obj["kind"]](obj)
            except Exception:
                cut_short = last_is_cut and index == len(parts) - 1
                try:
                    slow = self._slow_line(lineno, line, cut_short, parts[index + 1:], tail)
                except TraceFormatError as error:
                    return events, numbers, error
                if slow is None:
                    if self.damage is not None:
                        break
                    continue
                event = slow
            events.append(event)
            numbers.append(lineno)
        return events, numbers, None

    def _exhausted(self) -> bool:
        return self._raw.closed or self.position() >= self.size

    def _slow_line(
        self, lineno: int, line: bytes, cut_short: bool, following: list[bytes], tail: bytes
    ) -> Event | None:
        """Diagnose a line the fast path refused: an event (newer schema), ``None`` to
        skip it (unknown kind of a newer schema, blank line, or lenient stop), or raise."""
        if not line.strip():
            return None
        rest = (following, tail)
        try:
            obj = json.loads(line)
        except ValueError as exc:
            reason = (
                "truncated line: the file ends in the middle of an event (the writer was "
                "killed or the file was cut)"
                if cut_short
                else f"not valid JSON ({exc})"
            )
            self._fail(lineno, reason, [line, *rest[0]], rest[1], countable=True,
                       unterminated=cut_short)
            return None
        try:
            # Files of another minor version may differ in fields (added later, or not
            # yet): tolerated with a warning. Unknown kinds only come from newer files.
            return decode_event(obj, allow_newer=self.header.schema[1] != SCHEMA_VERSION[1])
        except UnknownKindError as exc:
            if self.header.newer_minor:
                name = str(exc.kind)
                self.skipped_kinds[name] = self.skipped_kinds.get(name, 0) + 1
                return None
            self._fail(lineno, str(exc), [line, *rest[0]], rest[1], countable=True)
        except EventDecodeError as exc:
            self._fail(lineno, str(exc), [line, *rest[0]], rest[1], countable=True)
        return None

    def _fail(
        self,
        lineno: int,
        reason: str,
        lines: list[bytes],
        tail: bytes,
        *,
        countable: bool,
        unterminated: bool = False,
    ) -> None:
        """Strict: raise. Lenient: record the damage, counting the lines dropped (the bad
        one, the rest of its block, and everything after it that can still be read)."""
        if not self.lenient:
            self.close()
            raise TraceFormatError(self.path, lineno, reason)
        dropped_lines: int | None = None
        dropped_bytes: int | None = None
        if countable:
            dropped_lines = len(lines)
            dropped_bytes = sum(len(x) + 1 for x in lines) - (1 if unterminated else 0)
            rest = tail
            try:
                while chunk := self._stream.read1(_BLOCK):  # type: ignore[attr-defined]
                    rest += chunk
            except (OSError, EOFError, zlib.error):
                pass
            if rest:
                dropped_lines += rest.count(b"\n") + (0 if rest.endswith(b"\n") else 1)
                dropped_bytes += len(rest)
        self.damage = TraceDamage(lineno, reason, dropped_lines, dropped_bytes)

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


def _stream_reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return (
            "the compressed stream ends early: the writer did not close the file (killed?); "
            "every complete line before this one was read"
        )
    return f"cannot read the file: {exc}"


def _fast_decoders() -> dict[str, Callable[[dict[str, Any]], Event]]:
    from flowtrace import eventjson

    return eventjson._DECODERS


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
) -> Trace:
    """Read a whole trace and group its events by run.

    ``progress(done, total)`` (bytes of the file) is called after each block of about
    a megabyte and at the end. Raises :class:`TraceFormatError` (strict) or records
    :attr:`Trace.damage`.
    """
    reader = TraceReader(path, lenient=lenient)
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
    return Trace(reader.path, reader.header, events, runs, reader.damage,
                 dict(reader.skipped_kinds))
