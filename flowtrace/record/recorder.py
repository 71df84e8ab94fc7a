"""The :class:`Recorder` instrument: buffers every event on the hot path and hands it to
a :class:`~flowtrace.record.writer.TraceWriter` at each flush (a run's end or failure,
every ``flush_events`` events, every ``flush_interval`` seconds from a daemon thread,
at exit), holding a Ctrl-C back while a run's events and flushes are in flight.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import sys
import threading
import weakref
from collections.abc import Callable, Collection, Iterable
from typing import IO, Any

from flowtrace import interrupts
from flowtrace.codec import ValueCodec
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
from flowtrace.record.redact import PatternRedactor, _compose, _redacted_argv
from flowtrace.record.writer import TraceWriter
from flowtrace.tracefile import make_header

__all__ = ["Recorder"]

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
