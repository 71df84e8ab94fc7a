"""The live instrument and the offline export, through the OpenTelemetry SDK
(``InMemorySpanExporter``): names, parents, links, attributes, events, status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import Event as SpanEvent
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from opentelemetry.util.types import AnyValue

from flowtrace.events import Event
from flowtrace.otel import OTelInstrument, send_events
from flowtrace.otel import attributes as A
from flowtrace.otel.offline import export_events

from . import scenarios as S


def live(events: list[Event], provider: TracerProvider, **options: Any) -> OTelInstrument:
    instrument = OTelInstrument(provider, **options)
    for event in events:
        instrument.on_event(event)
    return instrument


def named(spans: tuple[ReadableSpan, ...] | list[ReadableSpan], name: str) -> ReadableSpan:
    [span] = [s for s in spans if s.name == name]
    return span


def attributes_of(event: SpanEvent) -> Mapping[str, AnyValue]:
    """A span event's attributes (optional in the SDK's types; every event here has them)."""
    assert event.attributes is not None
    return event.attributes


def shape(spans: tuple[ReadableSpan, ...] | list[ReadableSpan]) -> list[tuple[Any, ...]]:
    """Everything but the ids: names, parent names, times, attributes, events, links."""
    by_id = {s.context.span_id: s for s in spans}

    def name_of(span_id: int | None) -> str | None:
        return by_id[span_id].name if span_id in by_id else None

    out = []
    for s in spans:
        attrs = {k: v for k, v in (s.attributes or {}).items() if not k.endswith("span_id")}
        out.append(
            (
                s.name,
                name_of(s.parent.span_id if s.parent else None),
                s.start_time,
                s.end_time,
                sorted((k, str(v)) for k, v in attrs.items()),
                [
                    (e.name, e.timestamp, sorted((k, str(v)) for k, v in attributes_of(e).items()))
                    for e in s.events
                ],
                [(name_of(link.context.span_id), dict(link.attributes or {})) for link in s.links],
                s.status.status_code,
            )
        )
    return sorted(out, key=lambda row: (row[2], row[0]))


def test_live_dag_spans_parents_links_and_times(memory: Any) -> None:
    provider, exporter = memory
    run = S.dag()
    live(run.events, provider)
    spans = exporter.get_finished_spans()
    root, c, a = named(spans, "flow.run"), named(spans, "c"), named(spans, "a")
    assert sorted(s.name for s in spans) == ["a", "b", "c", "flow.run"]
    assert root.parent is None
    assert all(
        s.parent is not None and s.parent.span_id == root.context.span_id
        for s in spans
        if s is not root
    )
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert root.start_time == S.WALL0
    assert c.attributes is not None and c.attributes[A.NODE_ID] == "c"
    assert c.attributes["flowtrace.input.0.producer_span_id"] == f"{a.context.span_id:016x}"
    assert [link.context.span_id for link in c.links] == [
        a.context.span_id,
        named(spans, "b").context.span_id,
    ]
    assert c.instrumentation_scope is not None and c.instrumentation_scope.name == "flowtrace"


def test_live_error_sets_status_and_exception_event(memory: Any) -> None:
    provider, exporter = memory
    live(S.error().events, provider)
    spans = exporter.get_finished_spans()
    boom = named(spans, "boom")
    assert boom.status.status_code is StatusCode.ERROR
    assert boom.status.description == "ValueError: boom at 3"
    [exc] = [e for e in boom.events if e.name == "exception"]
    assert attributes_of(exc)["exception.type"] == "ValueError"
    assert named(spans, "flow.run").status.status_code is StatusCode.ERROR
    assert named(spans, "ok").status.status_code is StatusCode.UNSET


def test_live_stream_with_cancellation(memory: Any) -> None:
    provider, exporter = memory
    live(S.stream_cancel().events, provider)
    spans = exporter.get_finished_spans()
    src, sink = named(spans, "src"), named(spans, "sink")
    assert [e.name for e in src.events if e.name.startswith("stream")] == [
        "stream.item",
        "stream.item",
        "stream.cancelled",
    ]
    assert "stream.cancel_requested" in [e.name for e in sink.events]
    assert [link.context.span_id for link in sink.links] == [src.context.span_id]
    assert src.attributes is not None and src.attributes[A.OUTCOME] == "cancelled"


def test_live_stream_items_as_child_spans(memory: Any) -> None:
    provider, exporter = memory
    live(S.stream_cancel().events, provider, stream_items="spans")
    spans = exporter.get_finished_spans()
    src = named(spans, "src")
    items = [s for s in spans if s.name == "src.item"]
    assert len(items) == 2
    assert all(i.parent is not None and i.parent.span_id == src.context.span_id for i in items)
    consumes = [s for s in spans if s.name == "sink.consume"]
    assert [c.links[0].context.span_id for c in consumes] == [i.context.span_id for i in items]


def test_live_cycle(memory: Any) -> None:
    provider, exporter = memory
    live(S.cycle().events, provider)
    spans = exporter.get_finished_spans()
    xs = sorted((s for s in spans if s.name == "x"), key=lambda s: s.start_time or 0)
    y = named(spans, "y")
    assert [link.context.span_id for link in y.links] == [xs[0].context.span_id]
    assert [link.context.span_id for link in xs[1].links] == [y.context.span_id]


def test_the_event_limit_follows_the_callers_provider(memory: Any) -> None:
    provider, exporter = memory
    live(S.many_items(200).events, provider)
    gen = named(exporter.get_finished_spans(), "gen")
    assert len(gen.events) == 128  # the SDK default, and nothing dropped by the SDK
    assert gen.dropped_events == 0
    assert gen.events[-1].name == "flowtrace.events_dropped"
    assert gen.attributes is not None and gen.attributes[A.EVENTS_DROPPED] == 200 - 127


def test_a_provider_built_by_flowtrace_raises_the_event_limit() -> None:
    exporter = InMemorySpanExporter()
    instrument = live(S.many_items(200).events, None, exporter=exporter)  # type: ignore[arg-type]
    instrument.shutdown(timeout=5)
    assert instrument.finished
    gen = named(exporter.get_finished_spans(), "gen")
    assert len(gen.events) == 200
    assert gen.attributes is not None and A.EVENTS_DROPPED not in gen.attributes


def test_force_flush_exports_what_is_buffered_and_shutdown_ends_what_is_open() -> None:
    """OpenTelemetry's span-processor protocol: ``force_flush(timeout_millis)`` sends the
    ended spans now (not at the batch delay); ``shutdown()`` ends the spans still open
    (a run cut short) and sends them too; ``close()`` is the same shutdown."""
    exporter = InMemorySpanExporter()
    instrument = OTelInstrument(exporter=exporter, schedule_delay_millis=60_000)
    events = S.dag().events
    for event in events[:-1]:  # all but FlowFinished: flow.run is still open
        instrument.on_event(event)
    assert exporter.get_finished_spans() == ()  # buffered for a minute
    assert instrument.force_flush(5_000) is True
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["a", "b", "c"]
    instrument.close()
    assert instrument.finished
    root = named(exporter.get_finished_spans(), "flow.run")
    assert root.attributes is not None and root.attributes[A.FLOW_OUTCOME] == "unfinished"
    instrument.shutdown()  # twice is harmless
    assert len(exporter.get_finished_spans()) == 4


def test_live_and_offline_give_identical_spans_but_for_ids(memory: Any) -> None:
    provider, exporter = memory
    for scenario in (S.dag, S.cycle, S.stream_cancel, S.error):
        exporter.clear()
        events = scenario().events
        live(events, provider)
        live_spans = exporter.get_finished_spans()
        exporter.clear()
        runs, n = send_events(events, provider)
        offline_spans = exporter.get_finished_spans()
        assert (runs, n) == (1, len(live_spans))
        assert shape(live_spans) == shape(offline_spans), scenario.__name__


def test_offline_export_to_an_exporter_reports_what_it_sent() -> None:
    exporter = InMemorySpanExporter()
    report = export_events(S.dag().events, exporter=exporter)
    assert (report.runs, report.spans, report.lost, report.finished) == (1, 4, 0, True)
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["a", "b", "c", "flow.run"]
