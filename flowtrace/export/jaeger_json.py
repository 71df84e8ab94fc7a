"""Spans as the JSON that Jaeger UI's upload (search page → **Upload**) opens.

The shape is the one Jaeger's own query API returns (``/api/traces``): ``{"data":
[trace, …]}``, one trace per flow run, each with its spans and a ``processes`` table.
Times are integer microseconds since the Unix epoch; a span's parent is a ``CHILD_OF``
reference and each lineage link a ``FOLLOWS_FROM`` reference, which is how Jaeger shows
OTLP links; span events become ``logs`` whose ``event`` field is the event's name; an
error span carries the tags ``error=true`` and ``otel.status_code=ERROR``, as Jaeger's
OTLP ingestion would produce. Spans are in start order, a parent before the children
that start at the same microsecond.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from flowtrace.otel.model import Attributes, AttributeValue, SpanRecord, parents_first

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["to_jaeger", "write_jaeger_json", "jaeger_tag", "JaegerWriter"]

_PROCESS_ID = "p1"


def _us(ns: int) -> int:
    return ns // 1000


def jaeger_tag(key: str, value: AttributeValue) -> dict[str, Any]:
    """One Jaeger key/value: bool, int64, float64 or string (sequences as JSON text)."""
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    if isinstance(value, str):
        return {"key": key, "type": "string", "value": value}
    return {"key": key, "type": "string", "value": json.dumps(list(value))}


def _tags(attributes: Attributes) -> list[dict[str, Any]]:
    return [jaeger_tag(k, v) for k, v in attributes.items()]


def _span(span: SpanRecord, version: str) -> dict[str, Any]:
    trace_id = f"{span.trace_id:032x}"
    references: list[dict[str, Any]] = []
    if span.parent is not None:
        references.append(
            {"refType": "CHILD_OF", "traceID": trace_id, "spanID": f"{span.parent.span_id:016x}"}
        )
    for link in span.links:
        references.append(
            {
                "refType": "FOLLOWS_FROM",
                "traceID": f"{link.target.trace_id:032x}",
                "spanID": f"{link.target.span_id:016x}",
            }
        )
    tags = _tags(span.attributes)
    tags.append(jaeger_tag("span.kind", "internal"))
    tags.append(jaeger_tag("otel.scope.name", "flowtrace"))
    tags.append(jaeger_tag("otel.scope.version", version))
    if span.status == "error":
        tags.append(jaeger_tag("error", True))
        tags.append(jaeger_tag("otel.status_code", "ERROR"))
        if span.status_message:
            tags.append(jaeger_tag("otel.status_description", span.status_message))
    logs = [
        {
            "timestamp": _us(event.time_ns),
            "fields": [jaeger_tag("event", event.name), *_tags(event.attributes)],
        }
        for event in span.events
    ]
    end = span.end_ns if span.end_ns is not None else span.start_ns
    return {
        "traceID": trace_id,
        "spanID": f"{span.span_id:016x}",
        "flags": 1,
        "operationName": span.name,
        "references": references,
        "startTime": _us(span.start_ns),
        "duration": max(0, _us(end) - _us(span.start_ns)),
        "tags": tags,
        "logs": logs,
        "processID": _PROCESS_ID,
        "warnings": None,
    }


def to_jaeger(
    spans: Iterable[SpanRecord],
    *,
    service_name: str = "flowtrace",
    process_tags: Attributes | None = None,
) -> dict[str, Any]:
    """The Jaeger JSON document for ``spans``: one entry of ``data`` per trace (run),
    traces in order of their root's start, spans in start order within a trace (parents
    before their children, see :func:`~flowtrace.otel.model.parents_first`)."""
    from flowtrace._version import __version__

    by_trace: dict[int, list[SpanRecord]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    process = _process(service_name, process_tags)
    data: list[dict[str, Any]] = []
    ordered: Sequence[list[SpanRecord]] = sorted(
        by_trace.values(), key=lambda group: min(s.start_ns for s in group)
    )
    for unordered in ordered:
        data.append(_trace(unordered, process, __version__))
    return {"data": data, "total": 0, "limit": 0, "offset": 0, "errors": None}


def _process(service_name: str, process_tags: Attributes | None) -> dict[str, Any]:
    from flowtrace._version import __version__

    return {
        "serviceName": service_name,
        "tags": _tags({"flowtrace.version": __version__, **(process_tags or {})}),
    }


def _trace(spans: list[SpanRecord], process: dict[str, Any], version: str) -> dict[str, Any]:
    """One entry of ``data``: the spans of one trace (run), parents first."""
    group = parents_first(spans)
    return {
        "traceID": f"{group[0].trace_id:032x}",
        "spans": [_span(s, version) for s in group],
        "processes": {_PROCESS_ID: process},
        "warnings": None,
    }


class JaegerWriter:
    """Writes the Jaeger JSON document run by run, holding one run's spans at a time
    (``flowtrace export --to jaeger-json``): :meth:`write_run` with a run's spans once
    it has ended, :meth:`close` at the end. Traces follow each other in the order their
    runs ended (Jaeger UI orders them itself)."""

    def __init__(
        self,
        out: SupportsWrite[str],
        *,
        service_name: str = "flowtrace",
        process_tags: Attributes | None = None,
    ) -> None:
        from flowtrace._version import __version__

        self._out = out
        self._version = __version__
        self._process = _process(service_name, process_tags)
        self.traces = 0
        self.spans = 0
        out.write('{"data":[')

    def write_run(self, spans: list[SpanRecord]) -> None:
        if not spans:
            return
        text = json.dumps(_trace(spans, self._process, self._version), separators=(",", ":"))
        self._out.write(("," if self.traces else "") + text)
        self.traces += 1
        self.spans += len(spans)

    def close(self) -> int:
        """Finish the document; returns the number of traces written."""
        self._out.write('],"total":0,"limit":0,"offset":0,"errors":null}')
        return self.traces


def write_jaeger_json(spans: Iterable[SpanRecord], path: str, **kwargs: Any) -> int:
    """Write :func:`to_jaeger` to ``path``; returns the number of traces written."""
    document = to_jaeger(spans, **kwargs)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, separators=(",", ":"))
    return len(document["data"])
