"""The trace writer and its durability: :class:`TraceWriter` writes the header and then
batches of events, chunk by chunk, each batch handed to the operating system (a gzip
sync flush for compressed files, so a killed writer leaves a readable file); a failed
write (a full disk) cuts a file of its own back to its last whole batch and stops,
counting what it could not write, without raising again.
"""

from __future__ import annotations

import contextlib
import gzip as _gzip
import os
import struct
import threading
from collections.abc import Sequence
from typing import IO, Any

from flowtrace.eventjson import encode_lines
from flowtrace.events import Event
from flowtrace.tracefile import TraceHeader

__all__ = ["TraceWriter"]

#: Lines joined into one write (a few hundred bytes each: well under the size at which
#: the allocator maps fresh memory from the OS).
_CHUNK_LINES = 512


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
