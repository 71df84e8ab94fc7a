"""Export a recorded trace to OpenTelemetry, with its original timestamps.

The events of a trace file go through the same mapping as the live instrument, so a
run exported later has the same spans, links, attributes and times as it would have
had live. Spans are exported in batches from the calling thread (no queue to overflow
on a large trace); a dead collector costs one export timeout, after which the remaining
batches are counted as lost and reported once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from flowtrace.events import Event
from flowtrace.otel.exporting import OtlpTarget, build_provider
from flowtrace.otel.mapping import MappingOptions, SpanMapper
from flowtrace.otel.sdk import TracerSink

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import TracerProvider

__all__ = ["ExportReport", "send_events", "export_events"]


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What an offline export did."""

    endpoint: str | None
    runs: int
    spans: int
    exported: int
    lost: int
    seconds: float
    finished: bool


def send_events(
    events: Iterable[Event],
    tracer_provider: TracerProvider,
    options: MappingOptions | None = None,
    *,
    on_event: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Map ``events`` to spans on ``tracer_provider``; returns ``(runs, spans)``.

    ``on_event(n)`` is called every 1024 events with the count so far (progress bars).
    """
    from flowtrace._version import __version__
    from flowtrace.events import FlowStarted

    tracer = tracer_provider.get_tracer("flowtrace", __version__)
    mapper = SpanMapper(TracerSink(tracer, inherit_context=False), options)
    runs = 0
    n = 0
    for event in events:
        mapper.on_event(event)
        if type(event) is FlowStarted:
            runs += 1
        n += 1
        if on_event is not None and not n & 1023:
            on_event(n)
    mapper.close()
    if on_event is not None:
        on_event(n)
    return runs, mapper.spans_ended


def export_events(
    events: Iterable[Event],
    *,
    target: OtlpTarget | None = None,
    exporter: SpanExporter | None = None,
    options: MappingOptions | None = None,
    service_name: str = "flowtrace",
    shutdown_timeout: float | None = None,
    on_event: Callable[[int], None] | None = None,
) -> ExportReport:
    """Send recorded ``events`` over OTLP (``target``) or to ``exporter``; bounded in time.

    Spans keep at most 1024 events (``OTEL_SPAN_EVENT_COUNT_LIMIT`` changes it), the
    limit of the provider built here; ``options`` gives the rest of the mapping.
    """
    started = time.perf_counter()
    owned = build_provider(
        target=target,
        exporter=exporter,
        service_name=service_name,
        batch="sync",
        shutdown_timeout=shutdown_timeout,
        retry_after=float("inf"),
    )
    # The mapping drops (and reports) what the provider's event limit would drop silently.
    options = replace(options or MappingOptions(), max_events_per_span=owned.max_events)
    try:
        runs, spans = send_events(events, owned.provider, options, on_event=on_event)
    finally:
        finished = owned.shutdown()
    guard = owned.guard
    return ExportReport(
        endpoint=guard.endpoint if guard is not None else None,
        runs=runs,
        spans=spans,
        exported=guard.exported if guard is not None else spans,
        lost=guard.lost if guard is not None else 0,
        seconds=time.perf_counter() - started,
        finished=finished,
    )
