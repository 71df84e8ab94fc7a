"""Trace files: the format's names, its header, the reader, and whole traces.

A trace file (``NAME.ftrace.jsonl``, or gzip-compressed ``NAME.ftrace.jsonl.gz``) is
JSON Lines: line 1 is the header (format name, schema version, versions, wall-clock
start, command line), every further line is one event as written by
:mod:`flowtrace.eventjson`. Events of several runs may interleave; each carries its
``run_id``. See ``docs/trace-format.md``. A file of schema 1.x is read as 2.0: its
events are upgraded as they are read (:mod:`flowtrace.upgrade`).

Reading is lazy, bounded and safe against any file, strict or lenient (a lenient read
skips each bad line, resumes on the next one and says what it skipped): see
:mod:`flowtrace.tracefile.reader`.

The package, one module a job (this module re-exports every name, so ``from
flowtrace.tracefile import X`` is the way to import it):

* :mod:`flowtrace.tracefile.errors`: :class:`TraceFormatError`, :class:`TraceVersionError`,
  :class:`TraceSchemaWarning` and what a lenient read skipped (:class:`TraceDamage`);
* :mod:`flowtrace.tracefile.header`: the format's names, :class:`TraceHeader` and the
  schema versions a reader opens;
* :mod:`flowtrace.tracefile.reader`: :class:`TraceReader` (bounded, linear, lenient
  resync) and :func:`iter_events`;
* :mod:`flowtrace.tracefile.whole`: :func:`read_trace` into a :class:`Trace` of
  :class:`RunTrace` runs.
"""

from __future__ import annotations

from flowtrace.tracefile.errors import MAX_LISTED as MAX_LISTED  # not in __all__, as before
from flowtrace.tracefile.errors import (
    SkippedLine,
    TraceDamage,
    TraceFormatError,
    TraceSchemaWarning,
    TraceVersionError,
)
from flowtrace.tracefile.header import (
    FORMAT_NAME,
    GZIP_SUFFIX,
    SUFFIX,
    TraceHeader,
    default_trace_path,
    make_header,
)
from flowtrace.tracefile.reader import MAX_LINE_BYTES, TraceReader, iter_events, max_line_bytes
from flowtrace.tracefile.whole import RunTrace, Trace, read_trace

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
