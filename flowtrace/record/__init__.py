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

The package, one module a job (this module re-exports every public name):

* :mod:`flowtrace.record.recorder`: the :class:`Recorder` instrument (buffer, flushes,
  the flush thread, exit, Ctrl-C protection);
* :mod:`flowtrace.record.writer`: :class:`TraceWriter`, the file and its durability
  (chunked writes, gzip sync flushes, a full disk);
* :mod:`flowtrace.record.redact`: :class:`PatternRedactor` and the header's ``argv``.
"""

from __future__ import annotations

from flowtrace.record.recorder import Recorder
from flowtrace.record.redact import REDACTED_TEXT, PatternRedactor
from flowtrace.record.writer import TraceWriter

__all__ = ["Recorder", "TraceWriter", "PatternRedactor", "REDACTED_TEXT"]
