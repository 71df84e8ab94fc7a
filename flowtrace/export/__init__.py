"""Exports of recorded traces to other tools' formats.

* :mod:`~flowtrace.export.jaeger_json` — the JSON Jaeger UI's **Upload** opens;
* :mod:`~flowtrace.export.chrome` — Chrome trace-event JSON for Perfetto UI (also
  ``chrome://tracing`` and speedscope);
* :mod:`~flowtrace.export.graph` — the flow's graph as Mermaid or Graphviz DOT.

The span-based formats use the OpenTelemetry mapping (:mod:`flowtrace.otel.mapping`),
so a run looks the same in a file as it does in a tracing backend. None of them needs
the OpenTelemetry SDK. (OTLP export itself: :func:`flowtrace.otel.export_events`.)
"""

from __future__ import annotations

from flowtrace.export.chrome import to_chrome, write_chrome
from flowtrace.export.graph import to_dot, to_mermaid
from flowtrace.export.jaeger_json import to_jaeger, write_jaeger_json

__all__ = ["to_chrome", "to_dot", "to_jaeger", "to_mermaid", "write_chrome", "write_jaeger_json"]
