"""W3C trace context for offloaded calls: the instrument's side and the worker's side.

The engine knows nothing of OpenTelemetry. When it submits an offloaded call it asks
each attached instrument that has an ``offload_context(run_id, call_id)`` method for a
:class:`~flowtrace.engine.remote.WorkerContext`: a *carrier* (a dict of strings) and a
function, importable on the worker, that makes the carrier current there. It sends both
with the call, opaque, and the worker enters ``activate(carrier)`` around the user's
function. :class:`~flowtrace.otel.OTelInstrument` answers with the ``traceparent`` of
the call's own span and :func:`attach` below, so a span the user's code starts on the
worker (with whatever tracer provider the worker configured) is a child of that span,
in the run's trace. Without an OTel instrument no carrier is made and nothing of
OpenTelemetry is imported anywhere; a worker without OpenTelemetry runs the call
without the context.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flowtrace.engine.remote import WorkerContext
from flowtrace.otel.model import SpanRecord

__all__ = ["attach", "traceparent", "worker_context"]


def traceparent(span: SpanRecord, sampled: bool = True) -> str:
    """The W3C ``traceparent`` header value naming ``span`` as the parent."""
    return f"00-{span.trace_id:032x}-{span.span_id:016x}-{'01' if sampled else '00'}"


def worker_context(span: SpanRecord | None) -> WorkerContext | None:
    """What the OTel instrument answers for a call whose span is ``span``."""
    if span is None or not span.trace_id or not span.span_id:
        return None
    sampled = True
    handle = span.handle
    if handle is not None:
        with contextlib.suppress(Exception):
            sampled = bool(handle.get_span_context().trace_flags.sampled)
    return WorkerContext(attach, {"traceparent": traceparent(span, sampled)})


@contextlib.contextmanager
def attach(carrier: dict[str, str]) -> Iterator[None]:
    """On the worker: make the carried trace context current while the call runs."""
    from opentelemetry import context
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    token = context.attach(TraceContextTextMapPropagator().extract(carrier))
    try:
        yield
    finally:
        context.detach(token)
