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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from flowtrace.otel.attributes import FLOW_ID, RUN_ID

__all__ = [
    "AttributeValue",
    "Attributes",
    "SpanEventRecord",
    "LinkRecord",
    "SpanRecord",
    "SpanSink",
    "RecordingSink",
    "SpanKindName",
    "parents_first",
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
    """A link from one span to another (here: data lineage, consumer → producer).

    ``time_ns``: when the consumer took the data, if that is not the consumer span's
    start (a stream item read during the evaluation). OpenTelemetry links have no time;
    the Chrome exporter uses it to place the arrow.
    """

    target: SpanRecord
    attributes: Attributes = field(default_factory=dict)
    time_ns: int | None = None


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


def parents_first(spans: Iterable[SpanRecord]) -> list[SpanRecord]:
    """``spans`` by start time; among spans starting at the same nanosecond, parents
    before children (by depth), then longer before shorter: the order in which
    viewers that build a span tree from a file (Catapult, speedscope, Jaeger UI) need
    a parent to come first. Ties beyond that keep the given order."""
    depth: dict[int, int] = {}

    def depth_of(span: SpanRecord) -> int:
        known = depth.get(id(span))
        if known is None:
            known = depth[id(span)] = 0 if span.parent is None else depth_of(span.parent) + 1
        return known

    return sorted(spans, key=lambda s: (s.start_ns, depth_of(s), -s.duration_ns))


class SpanSink(Protocol):
    """Receives spans from the mapping: once when opened, once when complete."""

    def start(self, span: SpanRecord) -> None:
        """Assign ``trace_id``/``span_id`` (a root starts a new trace)."""

    def end(self, span: SpanRecord) -> None:
        """The span is complete: ``end_ns``, events, links and status are final."""


class RecordingSink:
    """Keeps finished spans as plain records, in the order they ended.

    Ids are random. With ``seed`` they are reproducible (tests, files meant to be
    diffed) and still differ between runs: each trace draws its ids from a generator
    seeded with ``seed``, ``salt`` (the recording's identity, e.g. the trace header's
    start time and pid) and the run's own identity (run id, flow id, start time), so
    two recordings exported with the same seed never share trace or span ids, and the
    ids of a run do not depend on which other runs are exported with it.
    """

    def __init__(self, seed: int | None = None, *, salt: str = "") -> None:
        self._seed = seed
        self._salt = salt
        self._random = random.Random(seed)
        self._by_trace: dict[int, random.Random] = {}
        self._trace_ids: set[int] = set()
        self.spans: list[SpanRecord] = []

    def start(self, span: SpanRecord) -> None:
        if span.parent is not None:
            span.trace_id = span.parent.trace_id
            generator = self._by_trace.get(span.trace_id, self._random)
        else:
            generator = self._run_generator(span)
            trace_id = _nonzero(generator, 128)
            while trace_id in self._trace_ids:  # the same run twice in one input
                trace_id = _nonzero(generator, 128)
            self._trace_ids.add(trace_id)
            span.trace_id = trace_id
            self._by_trace[trace_id] = generator
        span.span_id = _nonzero(generator, 64)

    def end(self, span: SpanRecord) -> None:
        self.spans.append(span)
        if span.parent is None:
            self._by_trace.pop(span.trace_id, None)  # a root ends after its children

    def _run_generator(self, root: SpanRecord) -> random.Random:
        if self._seed is None:
            return self._random
        identity = "\x1f".join(
            str(part)
            for part in (
                "flowtrace-ids",
                self._seed,
                self._salt,
                root.attributes.get(RUN_ID, ""),
                root.attributes.get(FLOW_ID, ""),
                root.start_ns,
            )
        )
        return random.Random(identity)  # a str seed is hashed with SHA-512: stable


def _nonzero(generator: random.Random, bits: int) -> int:
    while True:
        value = generator.getrandbits(bits)
        if value:
            return value
