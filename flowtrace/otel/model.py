"""The span model: what the event→span mapping produces, independent of any SDK.

The mapping (:mod:`flowtrace.otel.mapping`) fills :class:`SpanRecord` objects and hands
them to a :class:`SpanSink` twice — when a span opens (so the sink can give it ids and,
for the OpenTelemetry SDK, start a real span that children and links can point at) and
when it closes, complete. Two sinks exist: :class:`RecordingSink` below keeps plain
records (for the Jaeger-JSON and Chrome exporters and for tests), and
:class:`flowtrace.otel.sdk.TracerSink` drives an OpenTelemetry ``Tracer`` (live
instrument and offline OTLP export). Both see exactly the same records, which is why the
live and offline paths give the same span structure and times.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

__all__ = [
    "AttributeValue",
    "Attributes",
    "SpanEventRecord",
    "LinkRecord",
    "SpanRecord",
    "SpanSink",
    "RecordingSink",
    "SpanKindName",
]

AttributeValue: TypeAlias = (
    str | bool | int | float | Sequence[str] | Sequence[bool] | Sequence[int] | Sequence[float]
)
Attributes: TypeAlias = dict[str, AttributeValue]

#: ``flow`` (the root ``flow.run``), ``node`` (one evaluation), ``item`` (a stream item
#: produced, by option), ``consume`` (a stream item consumed, by option) and
#: ``offload`` (one offloaded call).
SpanKindName: TypeAlias = Literal["flow", "node", "item", "consume", "offload"]


@dataclass(slots=True)
class SpanEventRecord:
    """A timestamped annotation on a span (an OpenTelemetry span event / Jaeger log)."""

    name: str
    time_ns: int
    attributes: Attributes = field(default_factory=dict)


@dataclass(slots=True)
class LinkRecord:
    """A link from one span to another (here: data lineage, consumer → producer)."""

    target: SpanRecord
    attributes: Attributes = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class SpanRecord:
    """One span. Times are Unix epoch nanoseconds; ids are filled by the sink."""

    name: str
    kind: SpanKindName
    start_ns: int
    parent: SpanRecord | None = None
    end_ns: int | None = None
    attributes: Attributes = field(default_factory=dict)
    events: list[SpanEventRecord] = field(default_factory=list)
    links: list[LinkRecord] = field(default_factory=list)
    status: Literal["unset", "error"] = "unset"
    status_message: str | None = None
    dropped_events: int = 0
    node_id: str | None = None
    trace_id: int = 0
    span_id: int = 0
    #: Sink-private data (the SDK span for :class:`~flowtrace.otel.sdk.TracerSink`).
    handle: Any = None

    @property
    def duration_ns(self) -> int:
        return 0 if self.end_ns is None else max(0, self.end_ns - self.start_ns)

    def linked_to(self, target: SpanRecord) -> bool:
        return any(link.target is target for link in self.links)


class SpanSink(Protocol):
    """Receives spans from the mapping: once when opened, once when complete."""

    def start(self, span: SpanRecord) -> None:
        """Assign ``trace_id``/``span_id`` (a root starts a new trace)."""

    def end(self, span: SpanRecord) -> None:
        """The span is complete: ``end_ns``, events, links and status are final."""


class RecordingSink:
    """Keeps finished spans as plain records, in the order they ended.

    Ids come from a :class:`random.Random`; pass ``seed`` for reproducible ids (tests,
    files meant to be diffed).
    """

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)
        self.spans: list[SpanRecord] = []

    def start(self, span: SpanRecord) -> None:
        span.span_id = self._nonzero(64)
        span.trace_id = span.parent.trace_id if span.parent is not None else self._nonzero(128)

    def end(self, span: SpanRecord) -> None:
        self.spans.append(span)

    def _nonzero(self, bits: int) -> int:
        while True:
            value = self._random.getrandbits(bits)
            if value:
                return value
