"""The sink that turns span records into OpenTelemetry spans through a ``Tracer``.

Used by both the live instrument and the offline export, so both send exactly what the
mapping produced. A span is started (with its original start time and first attributes)
when the mapping opens it — children and links need its ``SpanContext`` — and completed
(attributes, events with their own timestamps, links, status, end time) when it closes.

This module imports OpenTelemetry; only the OTel tools import it.
"""

from __future__ import annotations

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.trace import Status, StatusCode

from flowtrace.otel.model import AttributeValue, SpanRecord

__all__ = ["TracerSink"]

_MISSING = object()


class TracerSink:
    """Starts and ends real spans on ``tracer``.

    ``inherit_context``: a root span (``flow.run``) becomes the child of the span current
    in the caller's context when there is one (a flow run inside a request handler then
    appears inside that request's trace); otherwise every run starts a new trace.
    ``release``: drop a record's events and attributes once it has been sent, so a
    long-running process keeps only the small records needed for lineage links.
    """

    def __init__(
        self,
        tracer: trace_api.Tracer,
        *,
        inherit_context: bool = False,
        release: bool = True,
    ) -> None:
        self.tracer = tracer
        self.inherit_context = inherit_context
        self.release = release
        self._initial: dict[int, dict[str, AttributeValue]] = {}

    def start(self, span: SpanRecord) -> None:
        if span.parent is not None and span.parent.handle is not None:
            ctx = trace_api.set_span_in_context(span.parent.handle)
        elif self.inherit_context:
            ctx = context_api.get_current()
        else:
            ctx = context_api.Context()
        initial = dict(span.attributes)
        handle = self.tracer.start_span(
            span.name,
            context=ctx,
            kind=trace_api.SpanKind.INTERNAL,
            attributes=initial,
            start_time=span.start_ns,
        )
        self._initial[id(span)] = initial
        span_context = handle.get_span_context()
        span.trace_id = span_context.trace_id
        span.span_id = span_context.span_id
        span.handle = handle

    def end(self, span: SpanRecord) -> None:
        handle: trace_api.Span = span.handle
        initial = self._initial.pop(id(span), {})
        changed = {k: v for k, v in span.attributes.items() if initial.get(k, _MISSING) is not v}
        if changed:  # the SDK validates every value it is given: send only what is new
            handle.set_attributes(changed)
        for event in span.events:
            handle.add_event(event.name, event.attributes, timestamp=event.time_ns)
        for link in span.links:
            target = link.target.handle
            if target is not None:
                handle.add_link(target.get_span_context(), link.attributes)
        if span.status == "error":
            handle.set_status(Status(StatusCode.ERROR, span.status_message))
        handle.end(end_time=span.end_ns)
        if self.release:
            span.events = []
            span.links = []
            span.attributes = {}
            span.handle = trace_api.NonRecordingSpan(handle.get_span_context())
            span.parent = None
