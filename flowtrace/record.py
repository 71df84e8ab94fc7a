"""The recorder: an instrument that writes every event of every run to a trace file.

Cost on the engine's hot path is one ``list.append`` and two cheap tests per event.
Events are serialised at each flush, a batch at a time, by the specialised encoders of
:mod:`flowtrace.eventjson` (a few hundred nanoseconds for most events; run back to back
they stay in the CPU's caches, which makes them measurably cheaper than one call per
event interleaved with the engine), and written in chunks. It flushes

* when a run ends (``FlowFinished``, ``LoopExited``) or fails (``NodeErrored``,
  ``DeadlockDetected``),
* every ``flush_events`` events,
* every ``flush_interval`` seconds from a small daemon thread, even while the engine
  sits idle in a sleep or an I/O wait,
* at process exit (``atexit``) and on :meth:`Recorder.close`,

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
import os
import re
import sys
import threading
import weakref
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import IO, Any

from flowtrace.codec import REDACTED, ValueCodec
from flowtrace.eventjson import _FIELD_ENCODERS, encode_event
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
from flowtrace.instrument import _FIELDS_OF, InstrumentBase
from flowtrace.tracefile import TraceHeader, make_header

__all__ = ["Recorder", "TraceWriter", "PatternRedactor", "REDACTED_TEXT"]

#: What a redaction pattern's matches are replaced with inside strings.
REDACTED_TEXT = "<redacted>"

#: Lines joined into one write (a few hundred bytes each: well under the size at which
#: the allocator maps fresh memory from the OS).
_CHUNK_LINES = 512

_FLUSH_KINDS = (FlowFinished, LoopExited, NodeErrored, DeadlockDetected)
_NEW_RUN, _FLUSH = 1, 2
#: Per event kind: what the recorder does besides buffering the line.
_ACTION: list[int] = [
    _FLUSH if t in _FLUSH_KINDS else _NEW_RUN if t in (FlowStarted, LoopStarted) else 0
    for t in EVENT_TYPES
]

#: An event as the recorder buffers it: ``(kind, seq, t_ns, run_id, fields)``.
_Buffered = tuple[int, int, int, str, tuple[Any, ...]]


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


def _redacted_argv(
    argv: Sequence[str], redact: Callable[[Any], Any] | None
) -> list[str]:
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
        self.events_written = 0
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
        self._write_bytes(_json_line(header.to_json()))

    def write(self, events: Sequence[Event]) -> None:
        """Serialise ``events`` (one line each) and hand them to the OS."""
        self.write_lines(list(map(encode_event, events)))

    def write_lines(self, lines: Sequence[str]) -> None:
        """Write already encoded event lines (:func:`~flowtrace.eventjson.encode_event`).

        Joined and written :data:`_CHUNK_LINES` lines at a time: one buffer for a whole
        batch (megabytes) would come fresh from the OS and cost a page fault per 4 KiB
        written, several times the cost of the join itself; chunks of a few tens of
        kilobytes reuse the same warm memory."""
        if not lines:
            return
        with self.lock:
            if self.closed:
                raise ValueError("the trace file is closed")
            out = self._out
            for start in range(0, len(lines), _CHUNK_LINES):
                out.write("\n".join([*lines[start:start + _CHUNK_LINES], ""]).encode("ascii"))
            out.flush()
            self.events_written += len(lines)

    def _write_bytes(self, data: bytes) -> None:
        if self.closed:
            raise ValueError("the trace file is closed")
        self._out.write(data)
        self._out.flush()

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            if self._out is not self._raw:
                self._out.close()  # writes the gzip trailer
            self._raw.flush()
            if self._owns_raw:
                self._raw.close()


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
    closed (gzip trailer written) by :meth:`close` or at process exit.
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
        header = make_header(_redacted_argv(sys.argv if argv is None else argv,
                                            value_redactor), options)
        if gzip is None and isinstance(path, (str, os.PathLike)):
            gzip = os.fspath(path).endswith(".gz")
        self.writer = TraceWriter(path, header, compress=gzip, compresslevel=compresslevel)
        self.header = header
        self.path = self.writer.path
        #: Ids of the runs whose start (FlowStarted / LoopStarted) was recorded, in order.
        self.run_ids: dict[str, None] = {}
        self.dropped = 0
        # Events waiting for the next flush (at most ``flush_events`` between flushes of
        # a busy run, so few live objects pile up for the cyclic GC to scan). A list: the
        # engine's append and the flush's slice + ``del`` of a prefix (any thread, under
        # the flush lock) are each atomic under the GIL, so an event appended during a
        # flush lands after the prefix and is written by the next one.
        self._buf: list[_Buffered] = []
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

    def on_event_fields(
        self, kind: int, seq: int, t_ns: int, run_id: str, fields: tuple[Any, ...]
    ) -> None:
        """Buffer one event given as parts (the bus's fast path: no event object is
        built for a kind only recorders listen to); it is encoded at the next flush."""
        buf = self._buf
        buf.append((kind, seq, t_ns, run_id, fields))
        action = _ACTION[kind]
        if action:
            if action == _NEW_RUN:
                self.run_ids.setdefault(run_id)
            else:
                self.flush()
        elif len(buf) >= self.flush_events:
            self.flush()

    def on_event(self, event: Event) -> None:
        """Buffer one event object (events fed by hand, or delivered by a bus whose
        other listeners of that kind want objects)."""
        kind = event.kind
        self.on_event_fields(kind, event.seq, event.t_ns, event.run_id, _FIELDS_OF[kind](event))

    # -- flushing ---------------------------------------------------------------------

    def flush(self) -> None:
        """Serialise and write every buffered event now (from any thread)."""
        with self._flush_lock:
            buf = self._buf
            n = len(buf)
            if not n:
                return
            batch = buf[:n]
            del buf[:n]
            if self._closed:
                self.dropped += n
                return
            encoders = _FIELD_ENCODERS
            lines = [encoders[r[0]](r) for r in batch]
            self.writer.write_lines(lines)

    @property
    def events_written(self) -> int:
        return self.writer.events_written

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Flush, stop the flush thread and close the file (idempotent)."""
        if self._closed:
            return
        self._stop.set()
        self.flush()
        self._closed = True
        self.writer.close()
        _live.discard(self)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.flush()

    def __repr__(self) -> str:
        return f"Recorder({self.path!r})"


def _flush_periodically(
    ref: weakref.ref[Recorder], stop: threading.Event, interval: float
) -> None:
    while not stop.wait(interval):
        recorder = ref()
        if recorder is None:
            return
        if recorder._buf:
            try:
                recorder.flush()
            except Exception:  # a full disk must not kill the thread silently forever
                import logging

                logging.getLogger("flowtrace.record").exception(
                    "flowtrace: writing the trace %s failed", recorder.path
                )
                return
        del recorder


#: Recorders not yet closed. Strong references: a recorder dropped without ``close()``
#: still holds buffered events, which ``atexit`` must write.
_live: set[Recorder] = set()


@atexit.register
def _close_all() -> None:
    for recorder in list(_live):
        with contextlib.suppress(Exception):  # at exit there is nobody left to tell
            recorder.close()
