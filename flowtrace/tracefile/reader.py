"""The reader: :class:`TraceReader` yields the events of one trace file lazily, checked.

It is safe against any file: it parses nothing but JSON (no pickle, no eval), checks
every field's type, the nesting of values and the order of events within each run,
bounds the length of a line (so memory stays bounded, whatever the file), and names the
file, line and reason of the first bad line (:class:`TraceFormatError`). In lenient
mode it skips each bad line instead, resumes on the next one, and lists what it skipped
(:class:`TraceDamage`): what a file cut short by ``kill -9``, or damaged in the
middle, needs. A file of schema 1.x is upgraded as it is read (:mod:`flowtrace.upgrade`).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import warnings
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

import msgspec

from flowtrace import eventjson
from flowtrace.eventjson import EventDecodeError, UnknownKindError, convert_object
from flowtrace.events import EVENT_TYPES_BY_NAME, SCHEMA_VERSION, AnyEvent, Event
from flowtrace.tracefile.errors import (
    MAX_LISTED,
    SkippedLine,
    TraceDamage,
    TraceFormatError,
    TraceSchemaWarning,
)
from flowtrace.tracefile.header import TraceHeader

__all__ = ["TraceReader", "MAX_LINE_BYTES", "max_line_bytes", "iter_events"]

_GZIP_MAGIC = b"\x1f\x8b"
#: Bytes read at a time (a block of lines is decoded by one msgspec call).
_BLOCK = 1 << 20

#: The longest line a reader accepts, by default (``FLOWTRACE_MAX_LINE_MIB`` or the
#: reader's ``max_line_bytes`` change it). The recorder's own lines are far shorter:
#: values are cut to ``max_repr`` characters and at most 64 scalars, so only a graph
#: of many thousands of nodes comes near it.
MAX_LINE_BYTES = 16 << 20
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
