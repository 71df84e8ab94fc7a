"""The live OpenTelemetry instrument: a flow run becomes a trace while it runs.

Attach it like any instrument (``run_until_complete(instruments=[OTelInstrument()])``,
``with OTelInstrument():``, or ``flowtrace run --otlp``). It feeds the shared mapping
(:mod:`flowtrace.otel.mapping`) and sends the spans through an OpenTelemetry
``TracerProvider``: the caller's, the global one when the application configured one,
or one flowtrace builds from the standard ``OTEL_*`` variables with a background batch
processor — creating a span costs the flow a few microseconds; exporting happens on the
SDK's thread, and a dead collector costs the flow nothing (see
:mod:`flowtrace.otel.exporting`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Literal

from flowtrace.events import Event
from flowtrace.instrument import InstrumentBase
from flowtrace.otel.exporting import OwnedProvider, build_provider, resolve_otlp
from flowtrace.otel.mapping import MAPPED_EVENT_TYPES, MappingOptions, SpanMapper
from flowtrace.otel.propagation import worker_context
from flowtrace.otel.sdk import TracerSink

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import TracerProvider

    from flowtrace.engine.remote import WorkerContext

__all__ = ["OTelInstrument"]

_SDK_DEFAULT_EVENT_LIMIT = 128


def _global_provider() -> TracerProvider | None:
    """The application's global provider, if it set a real one."""
    from opentelemetry import trace as trace_api

    provider = trace_api.get_tracer_provider()
    if isinstance(provider, (trace_api.ProxyTracerProvider, trace_api.NoOpTracerProvider)):
        return None
    return provider


class OTelInstrument(InstrumentBase):
    """Maps every flow run it sees to one trace (root span ``flow.run``, or
    ``flow.run <name>`` for a flow named by ``FlowHDL(name=...)`` or ``flow_name``).

    Provider: ``tracer_provider`` when given; else the global provider if the
    application installed one; else flowtrace builds one exporting over OTLP to
    ``endpoint``/``protocol``/``timeout`` (arguments, then ``OTEL_*`` variables, then
    ``http://localhost:4318``) — or to ``exporter`` (tests, custom sinks). A provider
    flowtrace built is flushed and stopped by :meth:`shutdown` (bounded by
    ``shutdown_timeout``) or at process exit, reporting lost spans once;
    :meth:`force_flush` exports what is buffered (both as OpenTelemetry's span
    processors have them).

    Mapping: ``stream_items`` (``"events"`` or ``"spans"``), ``record_values``,
    ``value_limit``, ``flow_name`` (the name of flows without one of their own;
    ``flowtrace run`` passes the script's) — see
    :class:`~flowtrace.otel.mapping.MappingOptions`.
    ``max_events_per_span`` defaults to the provider's limit (1024 for one flowtrace
    builds, 128 — the SDK default — for the caller's).
    """

    kinds = MAPPED_EVENT_TYPES

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        *,
        endpoint: str | None = None,
        protocol: Literal["grpc", "http", "http/protobuf"] | None = None,
        timeout: float | None = None,
        exporter: SpanExporter | None = None,
        service_name: str = "flowtrace",
        stream_items: Literal["events", "spans"] = "events",
        record_values: bool = True,
        value_limit: int = 256,
        max_events_per_span: int | None = None,
        flow_name: str | None = None,
        inherit_context: bool = True,
        shutdown_timeout: float | None = None,
        schedule_delay_millis: float | None = None,
    ) -> None:
        from flowtrace._version import __version__

        self.owned: OwnedProvider | None = None
        provider = tracer_provider
        if provider is None and exporter is None and endpoint is None:
            provider = _global_provider()
        if provider is None:
            target = None if exporter is not None else resolve_otlp(endpoint, protocol, timeout)
            self.owned = build_provider(
                target=target,
                exporter=exporter,
                service_name=service_name,
                max_events=max_events_per_span,
                schedule_delay_millis=schedule_delay_millis,
                shutdown_timeout=shutdown_timeout,
            )
            provider = self.owned.provider
            limit = self.owned.max_events
        else:
            limits = getattr(provider, "_span_limits", None)
            sdk_limit = getattr(limits, "max_events", None)
            limit = (
                max_events_per_span
                if max_events_per_span is not None
                else sdk_limit
                if isinstance(sdk_limit, int)
                else _SDK_DEFAULT_EVENT_LIMIT
            )
        self.endpoint = (
            self.owned.guard.endpoint if self.owned is not None and self.owned.guard else None
        )
        self.options = MappingOptions(
            stream_items=stream_items,
            record_values=record_values,
            value_limit=value_limit,
            max_events_per_span=limit,
            flow_name=flow_name,
        )
        tracer = provider.get_tracer("flowtrace", __version__)
        self._mapper = SpanMapper(TracerSink(tracer, inherit_context=inherit_context), self.options)
        self._lock = threading.Lock()
        #: Whether the last :meth:`shutdown` exported everything within its timeout
        #: (always true for the caller's provider, which is not shut down here).
        self.finished = True

    def on_event(self, event: Event) -> None:
        with self._lock:
            self._mapper.on_event(event)

    def offload_context(self, run_id: str, call_id: int) -> WorkerContext | None:
        """The engine's hook at each offloaded call: the W3C context of the call's span,
        for the worker (see :mod:`flowtrace.otel.propagation`)."""
        with self._lock:
            span = self._mapper.offload_span(run_id, call_id)
        return worker_context(span)

    # ------------------------------------------------------------------ lifecycle

    @property
    def spans_ended(self) -> int:
        """Spans handed to the provider so far."""
        return self._mapper.spans_ended

    @property
    def spans_exported(self) -> int:
        """Spans the collector accepted (only for a provider flowtrace built)."""
        return self.owned.exported if self.owned is not None else 0

    @property
    def spans_lost(self) -> int:
        """Spans that could not be exported (only for a provider flowtrace built)."""
        return self.owned.lost if self.owned is not None else 0

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export what is buffered now, within ``timeout_millis`` (OpenTelemetry's
        ``SpanProcessor.force_flush``); true when it all went. Spans still open stay
        open. A no-op for the caller's provider (it is theirs to flush)."""
        if self.owned is None:
            return True
        return bool(self.owned.provider.force_flush(timeout_millis))

    def shutdown(self, timeout: float | None = None) -> None:
        """End open spans, flush and stop a provider flowtrace built, within ``timeout``
        seconds (default: ``shutdown_timeout``); :attr:`finished` then tells whether it
        all went in time. Safe to call twice; the caller's provider is left running."""
        with self._lock:
            self._mapper.close()
        if self.owned is not None:
            self.finished = self.owned.shutdown(timeout)

    def close(self) -> None:
        """:meth:`shutdown` under the name instruments had before it (``flowtrace run``
        of earlier versions calls it)."""
        self.shutdown()
