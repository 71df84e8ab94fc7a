"""OpenTelemetry for flowtrace: flow runs as traces, live or from a recorded trace.

* :class:`OTelInstrument` — the live instrument (``flowtrace run --otlp``).
* :func:`export_events` — send a recorded trace's events over OTLP, original times kept.
* :class:`SpanMapper`, :func:`spans_from_events` — the mapping both use, without
  OpenTelemetry (the Jaeger-JSON and Chrome exporters use it too).

Importing this package does not import OpenTelemetry; the names that need it are
loaded on first use, so ``flowtrace export --to chrome`` never pays for the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flowtrace.otel.mapping import MappingOptions, SpanMapper, spans_from_events
from flowtrace.otel.model import RecordingSink, SpanRecord

if TYPE_CHECKING:
    from flowtrace.otel.exporting import GuardedExporter, resolve_otlp
    from flowtrace.otel.instrument import OTelInstrument
    from flowtrace.otel.offline import ExportReport, export_events, send_events

__all__ = [
    "ExportReport",
    "GuardedExporter",
    "MappingOptions",
    "OTelInstrument",
    "RecordingSink",
    "SpanMapper",
    "SpanRecord",
    "export_events",
    "resolve_otlp",
    "send_events",
    "spans_from_events",
]

_LAZY = {
    "OTelInstrument": "flowtrace.otel.instrument",
    "ExportReport": "flowtrace.otel.offline",
    "export_events": "flowtrace.otel.offline",
    "send_events": "flowtrace.otel.offline",
    "GuardedExporter": "flowtrace.otel.exporting",
    "resolve_otlp": "flowtrace.otel.exporting",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowtrace.otel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
