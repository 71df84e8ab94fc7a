"""The recorder: an instrument that writes every event of every run to a trace file.

Cost on the engine's hot path is one ``list.append`` and two cheap tests per event.
Events are serialised at each flush, a batch at a time, by one
:class:`msgspec.json.Encoder` (``encode_lines``: a chunk of events to JSON lines in
one C call, :data:`flowtrace.eventjson.ENCODER`), and written in chunks. It flushes

* when a run ends (``FlowFinished``, ``LoopExited``) or fails (``NodeErrored``,
  ``DeadlockDetected``),
* every ``flush_events`` events,
* every ``flush_interval`` seconds from a small daemon thread, even while the engine
  sits idle in a sleep or an I/O wait,
* at process exit (``atexit``), on :meth:`Recorder.force_flush` and on
  :meth:`Recorder.shutdown` (``close()`` is the same),

and each flush hands the bytes to the operating system, so a ``kill -9`` leaves a file
that reads cleanly up to its last flush. Nothing is ever dropped: the buffer grows
between flushes rather than blocking the engine.

Values inside events are encoded once by the run's value codec; the recorder declares
its own (``value_codec``: ``max_repr``, ``include_values``, redaction of values and of
free text such as error messages) and the bus adopts it and applies it before any
instrument sees an event, so what the file holds is what every instrument of the run
saw, and a redacted secret reaches none of them. The header's ``argv`` is redacted with
the same patterns.
"""

from __future__ import annotations

import atexit
import contextlib
import gzip as _gzip
import logging
import os
import re
import struct
import sys
import threading
import weakref
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import IO, Any

from flowtrace import interrupts
from flowtrace.codec import REDACTED, ValueCodec
from flowtrace.eventjson import encode_lines
from flowtrace.events import (
    EVENT_TYPES,
    DeadlockDetected,
    Event,
    FlowFinished,
    FlowStarted,
    LoopExited,
    LoopStarted,
    NodeErrored,
)
from flowtrace.instrument import Bus, InstrumentBase, _TextPass
from flowtrace.tracefile import TraceHeader, make_header

__all__ = ["Recorder", "TraceWriter", "PatternRedactor", "REDACTED_TEXT"]

#: What a redaction pattern's matches are replaced with inside strings.
REDACTED_TEXT = "<redacted>"

#: Lines joined into one write (a few hundred bytes each: well under the size at which
#: the allocator maps fresh memory from the OS).
_CHUNK_LINES = 512

_NEW_RUN, _FLUSH, _END_RUN = 1, 2, 3
#: Per event kind: what the recorder does besides buffering the line.
_ACTION: list[int] = [
    _END_RUN
    if t in (FlowFinished, LoopExited)
    else _FLUSH
    if t in (NodeErrored, DeadlockDetected)
    else _NEW_RUN
    if t in (FlowStarted, LoopStarted)
    else 0
    for t in EVENT_TYPES
]


# ----------------------------------------------------------------------------- redaction


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


# ----------------------------------------------------------------------------- writer


class TraceWriter:
    """Writes a header and then batches of events to a trace file. Thread-safe.

    ``target`` is a path (``.gz`` suffix or ``compress=True`` for gzip) or an open
    binary stream. Each :meth:`write` ends with a flush to the operating system; for
    gzip a sync flush, so the compressed stream decodes up to there even if the file
    is never closed.

    A write that fails (``OSError``: the disk is full, the device went away) stops the
    writer for good: ``failed`` holds the error, a file it opened itself is cut back to
    the end of the last batch that was written whole (so it reads cleanly, with
    ``events_written`` events), and later batches are counted in ``lost`` instead of
    written. Nothing raises after that, :meth:`close` included: a full disk must not
    turn into a traceback at exit or change the program's exit status.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | IO[bytes],
        header: TraceHeader,
        *,
        compress: bool | None = None,
        compresslevel: int = 1,
    ) -> None:
        self.lock = threading.Lock()
        #: Events written whole and handed to the OS (the file holds exactly these).
        self.events_written = 0
        #: Lines accepted by the output object so far, chunk by chunk (what a flush
        #: interrupted half-way has handed over, so it is neither lost nor repeated).
        self.lines_handed = 0
        #: Events that could not be written because a write failed (see ``failed``).
        self.lost = 0
        #: The first ``OSError`` a write raised; the writer writes nothing after it.
        self.failed: OSError | None = None
        self._good = 0  # file offset just after the last whole batch
        self._good_gzip = (0, 0)  # gzip's CRC and length of the data up to there
        if isinstance(target, (str, os.PathLike)):
            self.path: str | None = os.fspath(target)
            if compress is None:
                compress = self.path.endswith(".gz")
            raw: IO[bytes] = open(self.path, "wb")  # noqa: SIM115 - closed by close()
            self._owns_raw = True
        else:
            self.path = getattr(target, "name", None)
            raw = target
            self._owns_raw = False
            compress = bool(compress)
        self.compressed = compress
        self._raw = raw
        self._out: IO[bytes] = (
            _gzip.GzipFile(  # type: ignore[assignment]
                fileobj=raw, mode="wb", compresslevel=compresslevel, mtime=0
            )
            if compress
            else raw
        )
        self.closed = False
        try:
            self._write_bytes(_json_line(header.to_json()))
        except OSError:
            if self._owns_raw:
                with contextlib.suppress(OSError):
                    raw.close()
            raise
        self._mark_good()

    def write(self, events: Sequence[Event]) -> None:
        """Serialise ``events`` (one line each) and hand them to the OS.

        Encoded and written :data:`_CHUNK_LINES` events at a time (one
        ``encode_lines`` call each): one buffer for a whole batch (megabytes) would
        come fresh from the OS and cost a page fault per 4 KiB written; chunks of a few
        tens of kilobytes reuse the same warm memory."""
        self._write_chunks(events, _encode_chunk)

    def write_lines(self, lines: Sequence[str | bytes]) -> None:
        """Write already encoded event lines (:func:`~flowtrace.eventjson.encode_event`),
        :data:`_CHUNK_LINES` at a time."""
        self._write_chunks(lines, _join_lines)

    def _write_chunks(self, items: Sequence[Any], encode: Any) -> None:
        lines = items
        if not lines:
            return
        with self.lock:
            if self.closed:
                raise ValueError("the trace file is closed")
            if self.failed is not None:
                self.lost += len(lines)
                raise self.failed
            out = self._out
            try:
                for start in range(0, len(lines), _CHUNK_LINES):
                    chunk = lines[start : start + _CHUNK_LINES]
                    out.write(encode(chunk))
                    self.lines_handed += len(chunk)
                out.flush()
            except OSError as exc:
                self.lost += len(lines)
                self._fail(exc)
                raise
            self.events_written += len(lines)
            self._mark_good()

    def _write_bytes(self, data: bytes) -> None:
        if self.closed:
            raise ValueError("the trace file is closed")
        self._out.write(data)
        self._out.flush()

    def _mark_good(self) -> None:
        """Remember where the file ends on a whole batch (only for a file of our own:
        that is where a failed write cuts it back to)."""
        if not self._owns_raw:
            return
        try:
            self._good = self._raw.tell()
        except OSError:
            return
        if self.compressed:
            self._good_gzip = (getattr(self._out, "crc", 0), getattr(self._out, "size", 0))

    def _fail(self, exc: OSError) -> None:
        """Stop writing after ``exc``: cut a file of our own back to its last whole
        batch, and point its descriptor at ``/dev/null`` so that whatever the buffers
        still hold (and the gzip trailer) goes nowhere instead of raising again."""
        self.failed = exc
        if not self._owns_raw:
            return
        with contextlib.suppress(OSError, ValueError):
            fd = self._raw.fileno()
            os.ftruncate(fd, self._good)
            if self.compressed:
                # The stream was sync-flushed there; end it as a whole gzip file (an
                # empty final block and the trailer: 10 bytes, often writable once
                # the cut has freed the failed batch's space).
                crc, size = self._good_gzip
                with contextlib.suppress(OSError):
                    os.pwrite(
                        fd,
                        b"\x03\x00" + struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF),
                        self._good,
                    )
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, fd)
            finally:
                os.close(null)

    def close(self) -> None:
        """Finish the file (gzip trailer) and close it. After a failed write, closes
        without raising; a failure while closing is kept in ``failed`` too."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            try:
                if self._out is not self._raw:
                    self._out.close()  # writes the gzip trailer
                self._raw.flush()
            except OSError as exc:
                if self.failed is None:
                    self._fail(exc)
            finally:
                if self._owns_raw:
                    with contextlib.suppress(OSError):
                        self._raw.close()


def _encode_chunk(events: Sequence[Event]) -> bytes:
    return encode_lines(events)


def _join_lines(lines: Sequence[str | bytes]) -> bytes:
    return b"".join([(x.encode("utf-8") if isinstance(x, str) else x) + b"\n" for x in lines])


def _json_line(obj: object) -> bytes:
    import json

    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")


# ----------------------------------------------------------------------------- recorder


class Recorder(InstrumentBase):
    """Record every event of every run into one trace file.

    Attach it like any instrument (``run_until_complete(instruments=[rec])``, ``with
    rec:``, or as the process default, which ``flowtrace run`` does). Options:

    ``path``
        file to write (``str``/path, or an open binary stream); a ``.gz`` suffix or
        ``gzip=True`` compresses.
    ``max_repr``
        cap on any value's text (the codec marks longer ones truncated).
    ``include_values``
        ``False`` stores no values at all (``{"$omitted": true}``), only the shape of
        the run; exceptions keep their type but not their message (``<omitted>``) or
        traceback (``""``), which quote values and source lines.
    ``error_text``
        keep exception messages and tracebacks (default: as ``include_values``).
    ``redact`` / ``redact_patterns``
        a hook called on each value before it is encoded (return the value, a
        replacement, or :data:`flowtrace.codec.REDACTED`), and/or regular expressions
        whose matches are removed from values, from error messages and tracebacks,
        from the engine's wait descriptions and task names, and from the header's
        ``argv`` (the hook sees each ``argv`` string too).
    ``kinds``
        record only these event classes (default: all).
    ``flush_events`` / ``flush_interval``
        flush at least every N events and every T seconds (``flush_interval=0``: no
        flush thread). The default N = 512 keeps the buffered text (~100 KB) in the
        CPU's cache and in reused memory: buffering 8,192 lines made the whole run
        measurably slower than the extra write calls cost.
    ``compresslevel``
        zlib level for gzip files; 1 (the default) costs a third of level 6's time
        and still shrinks a trace about tenfold.

    ``with recorder:`` attaches it for the block and flushes at the end; the file is
    closed (gzip trailer written) by :meth:`shutdown` (or its alias :meth:`close`) or
    at process exit. :meth:`force_flush` writes what is buffered now.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | IO[bytes],
        *,
        gzip: bool | None = None,
        max_repr: int = 200,
        include_values: bool = True,
        error_text: bool | None = None,
        redact: Callable[[Any], Any] | None = None,
        redact_patterns: Iterable[str | re.Pattern[str]] = (),
        kinds: Collection[type[Event]] | None = None,
        flush_events: int = 512,
        flush_interval: float = 0.25,
        argv: list[str] | tuple[str, ...] | None = None,
        compresslevel: int = 1,
    ) -> None:
        patterns = list(redact_patterns)
        self.pattern_redactor = PatternRedactor(patterns) if patterns else None
        value_redactor = _compose(redact, self.pattern_redactor)
        self.value_codec = ValueCodec(
            max_repr=max_repr,
            include_values=include_values,
            redact=value_redactor,
            redact_text=self.pattern_redactor.text if self.pattern_redactor else None,
            error_text=include_values if error_text is None else error_text,
        )
        self.kinds = kinds
        self.flush_events = max(1, flush_events)
        self.flush_interval = flush_interval
        options: dict[str, Any] = {
            "values": include_values,
            "max_repr": max_repr,
            "redacted": bool(patterns) or redact is not None,
        }
        if not self.value_codec.error_text:
            options["error_text"] = False
        if kinds is not None:
            options["kinds"] = sorted(k.__name__ for k in kinds)
        header = make_header(
            _redacted_argv(sys.argv if argv is None else argv, value_redactor), options
        )
        if gzip is None and isinstance(path, (str, os.PathLike)):
            gzip = os.fspath(path).endswith(".gz")
        self.writer = TraceWriter(path, header, compress=gzip, compresslevel=compresslevel)
        self.header = header
        self.path = self.writer.path
        #: Ids of the runs whose start (FlowStarted / LoopStarted) was recorded, in order.
        self.run_ids: dict[str, None] = {}
        self.dropped = 0
        #: Log a failed write once as a warning (``flowtrace run`` reports it itself).
        self.log_write_errors = True
        self._guarded: dict[str, int] = {}
        # Events waiting for the next flush (at most ``flush_events`` between flushes of
        # a busy run, so few live objects pile up for the cyclic GC to scan). A list: the
        # engine's append and the flush's slice + ``del`` of a prefix (any thread, under
        # the flush lock) are each atomic under the GIL, so an event appended during a
        # flush lands after the prefix and is written by the next one.
        self._buf: list[Event] = []
        self._flush_lock = threading.Lock()
        self._closed = False
        self._stop = threading.Event()
        _live.add(self)
        self._thread: threading.Thread | None = None
        if flush_interval > 0:
            self._thread = threading.Thread(
                target=_flush_periodically,
                args=(weakref.ref(self), self._stop, flush_interval),
                name="flowtrace-recorder-flush",
                daemon=True,
            )
            self._thread.start()

    # -- the hot path -----------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Buffer one event; it is encoded at the next flush."""
        buf = self._buf
        buf.append(event)
        action = _ACTION[event.kind]
        if action:
            if action == _NEW_RUN:
                self._run_started(event.run_id)
            else:
                self.flush()
                if action == _END_RUN:
                    self._run_ended(event.run_id)
        elif len(buf) >= self.flush_events:
            self.flush()

    # While a run is being recorded in the main thread, a Ctrl-C is held back out of
    # the bus, the flush and the run's closing events (flowtrace.interrupts): it lands
    # a moment later, between events, so the file has no gap and ends with the run's
    # last event. One guard per run, taken at its first start event and given back at
    # its last end event (a flow run has a loop's and a flow's).

    def _run_started(self, run_id: str) -> None:
        self.run_ids.setdefault(run_id)
        if not _engine_protected:
            _protect_engine()
        guarded = self._guarded
        depth = guarded.get(run_id)
        if depth is not None:
            guarded[run_id] = depth + 1
        elif interrupts.install():
            guarded[run_id] = 1

    def _run_ended(self, run_id: str) -> None:
        guarded = self._guarded
        depth = guarded.get(run_id)
        if depth is None:
            return
        if depth > 1:
            guarded[run_id] = depth - 1
        else:
            del guarded[run_id]
            interrupts.uninstall()

    # -- flushing ---------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Serialise and write every buffered event now (from any thread); ``False``
        when another flush held the lock past ``timeout`` seconds (then nothing was
        written by this call), else ``True``.

        Events leave the buffer only once the writer has taken them, so a flush cut
        short (an exception half-way) loses nothing and repeats nothing. After a
        failed write (a full disk) the writer takes nothing more: events are counted
        in :attr:`lost` and the run goes on unrecorded; the failure is logged once
        (``log_write_errors``) and kept in :attr:`write_error`."""
        lock = self._flush_lock
        if not lock.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            return False
        try:
            buf = self._buf
            n = len(buf)
            if not n:
                return True
            writer = self.writer
            if self._closed or writer.failed is not None:
                del buf[:n]
                if self._closed:
                    self.dropped += n
                else:
                    writer.lost += n
                return True
            handed = writer.lines_handed
            try:
                writer.write(buf[:n])
            except OSError as exc:
                del buf[:n]  # counted in writer.lost; the file ends at its last batch
                self._report(exc)
            finally:
                if writer.failed is None:
                    del buf[: writer.lines_handed - handed]
            return True
        finally:
            lock.release()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Write every buffered event now (OpenTelemetry's span-processor protocol):
        ``True`` when they are in the file, ``False`` when the flush could not start
        within ``timeout_millis`` or writing the file has failed (see
        :attr:`write_error`)."""
        done = self.flush(timeout_millis / 1000)
        return done and self.writer.failed is None

    def _report(self, exc: OSError) -> None:
        if self.log_write_errors:
            logging.getLogger("flowtrace.record").warning(
                "flowtrace: writing the trace %s failed (%s); recording stopped after %d events",
                self.path,
                exc.strerror or exc,
                self.writer.events_written,
            )

    @property
    def write_error(self) -> OSError | None:
        """The error that stopped the trace file being written, if one did."""
        return self.writer.failed

    @property
    def lost(self) -> int:
        """Events that could not be written because the file could not be (see
        :attr:`write_error`)."""
        return self.writer.lost

    @property
    def events_written(self) -> int:
        return self.writer.events_written

    @property
    def closed(self) -> bool:
        return self._closed

    def shutdown(self) -> None:
        """Flush, stop the flush thread and close the file (idempotent; never raises
        for a file that could not be written: see :attr:`write_error`). Events
        delivered after it are counted in :attr:`dropped`."""
        self.close()

    def close(self) -> None:
        """The same as :meth:`shutdown` (the name instruments had before)."""
        if self._closed:
            return
        guarded = interrupts.install()  # a Ctrl-C now must not cut the last batch
        try:
            self._stop.set()
            self.flush()
            self._closed = True
            self.writer.close()
            _live.discard(self)
            for _ in range(len(self._guarded)):
                interrupts.uninstall()  # runs that never recorded their end
            self._guarded.clear()
        finally:
            if guarded:
                interrupts.uninstall()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.flush()

    def __repr__(self) -> str:
        return f"Recorder({self.path!r})"


def _flush_periodically(ref: weakref.ref[Recorder], stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        recorder = ref()
        if recorder is None:
            return
        if recorder._buf:
            try:
                recorder.flush()
            except Exception:  # a bug, not a full disk (flush handles that)
                logging.getLogger("flowtrace.record").exception(
                    "flowtrace: writing the trace %s failed", recorder.path
                )
                return
        del recorder


# What a Ctrl-C must not cut in half: numbering and delivering an event, a flush,
# closing the file, and the engine's emission of a run's opening and closing events.
interrupts.protect(
    [
        Bus.emit,
        _TextPass.handle,
        Recorder.on_event,
        Recorder.flush,
        Recorder.close,
        TraceWriter.write,
        TraceWriter.write_lines,
        TraceWriter._write_chunks,
        TraceWriter.close,
    ]
)
_engine_protected = False


def _protect_engine() -> None:
    """Protect the engine's run start and end too (imported late: the engine imports
    this package's modules, and is loaded by the time a run starts)."""
    global _engine_protected
    _engine_protected = True
    from flowtrace.engine.flow import Flow
    from flowtrace.engine.loop import EventLoop

    interrupts.protect([Flow._end_run, Flow._emit_start, EventLoop._end])


#: Recorders not yet closed. Strong references: a recorder dropped without ``close()``
#: still holds buffered events, which ``atexit`` must write.
_live: set[Recorder] = set()


@atexit.register
def _close_all() -> None:
    for recorder in list(_live):
        with contextlib.suppress(Exception):  # at exit there is nobody left to tell
            recorder.close()
