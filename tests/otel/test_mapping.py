"""The event → span mapping, on hand-built runs, without OpenTelemetry."""

from __future__ import annotations

import sys

from flowtrace.events import (
    DataEmitted,
    Event,
    FlowFinished,
    NodeFinished,
    NodeStarted,
    NodeStatusChanged,
    StreamResumed,
    StreamStalled,
)
from flowtrace.otel import attributes as A
from flowtrace.otel.mapping import MappingOptions, spans_from_events
from flowtrace.otel.model import SpanRecord

from . import scenarios as S


def by_name(spans: list[SpanRecord]) -> dict[str, list[SpanRecord]]:
    out: dict[str, list[SpanRecord]] = {}
    for span in spans:
        out.setdefault(span.name, []).append(span)
    return out


def only(spans: list[SpanRecord], name: str) -> SpanRecord:
    [span] = by_name(spans)[name]
    return span


def test_a_run_is_one_trace_rooted_at_flow_run_with_one_span_per_evaluation() -> None:
    spans = spans_from_events(S.dag().events, seed=1)
    names = sorted(s.name for s in spans)
    assert names == ["a", "b", "c", "flow.run"]
    root = only(spans, "flow.run")
    assert root.parent is None
    assert {s.trace_id for s in spans} == {root.trace_id}
    assert all(s.parent is root for s in spans if s is not root)
    assert len({s.span_id for s in spans}) == 4


def test_span_times_are_the_event_times_on_the_wall_clock() -> None:
    run = S.dag()
    spans = spans_from_events(run.events, seed=1)
    started = {e.node_id: e.seq for e in run.events if type(e) is NodeStarted}
    finished = {e.node_id: e.seq for e in run.events if type(e) is NodeFinished}
    for span in spans:
        if span.name == "flow.run":
            assert span.start_ns == S.WALL0
            assert span.end_ns == run.epoch(len(run.events) - 1)
        else:
            assert span.start_ns == run.epoch(started[span.name])
            assert span.end_ns == run.epoch(finished[span.name])


def test_node_spans_carry_identity_inputs_and_outputs_as_attributes() -> None:
    spans = spans_from_events(S.dag().events, seed=1)
    c = only(spans, "c")
    a = only(spans, "a")
    assert c.attributes[A.NODE_ID] == "c"
    assert c.attributes[A.NODE_LABEL] == "C"
    assert c.attributes[A.NODE_KIND] == "mono"
    assert c.attributes[A.GENERATION] == "0"
    assert c.attributes[A.RUN_LEVEL] == 0
    assert c.attributes[A.RUN_ID] == "run-1"
    assert c.attributes[A.OUTCOME] == "completed"
    assert c.attributes["flowtrace.input.0.producer"] == "a"
    assert c.attributes["flowtrace.input.0.producer_generation"] == "0"
    assert c.attributes["flowtrace.input.0.producer_span_id"] == f"{a.span_id:016x}"
    assert c.attributes["flowtrace.input.1.producer"] == "b"
    assert c.attributes["flowtrace.input.0.value"] == "1"
    assert c.attributes["flowtrace.output.0"] == "3"
    root = only(spans, "flow.run")
    assert root.attributes[A.GRAPH_NODES] == ["a", "b", "c"]
    assert root.attributes[A.GRAPH_EDGE_COUNT] == 2
    assert root.attributes[A.FLOW_OUTCOME] == "completed"


def test_lineage_is_a_link_to_each_producer_evaluation() -> None:
    spans = spans_from_events(S.dag().events, seed=1)
    c = only(spans, "c")
    assert [(link.target.name, link.attributes[A.PORT]) for link in c.links] == [
        ("a", 0),
        ("b", 1),
    ]
    assert all(link.attributes[A.LINK_KIND] == "input" for link in c.links)
    assert only(spans, "a").links == []


def test_a_cycle_links_each_generation_to_the_one_it_read_and_records_the_break() -> None:
    spans = spans_from_events(S.cycle().events, seed=1)
    x0, x1 = by_name(spans)["x"]
    y0 = only(spans, "y")
    assert (x0.attributes[A.GENERATION], x1.attributes[A.GENERATION]) == ("0", "1")
    assert x0.links == []
    assert x0.attributes[A.INPUTS_DEFAULTED] == [0]
    assert x0.attributes["flowtrace.input.0.defaulted"] is True
    assert [link.target for link in y0.links] == [x0]
    assert [link.target for link in x1.links] == [y0]
    [brk] = [e for e in only(spans, "flow.run").events if e.name == "cycle_break"]
    assert brk.attributes == {
        A.CYCLE_NODE: "x",
        A.CYCLE_MEMBERS: ["x", "y"],
        A.CYCLE_DEFAULTED_PORTS: [0],
    }


def test_the_wait_before_an_evaluation_is_its_queue_wait_attribute() -> None:
    run = S.dag()
    spans = spans_from_events(run.events, seed=1)
    a = only(spans, "a")
    [queued] = [
        e
        for e in run.events
        if type(e) is NodeStatusChanged and e.node_id == "a" and e.new == "queued"
    ]
    assert a.attributes[A.QUEUE_WAIT_NS] == a.start_ns - run.epoch(queued.seq)
    assert not any(e.name == "status" for e in a.events)


def test_status_changes_during_an_evaluation_are_events_on_its_span() -> None:
    spans = spans_from_events(S.stream_cancel().events, seed=1)
    sink = only(spans, "sink")
    statuses = [
        (e.attributes[A.STATUS_OLD], e.attributes[A.STATUS_NEW])
        for e in sink.events
        if e.name == "status"
    ]
    assert statuses[0] == ("executing", "stalled")
    [stalled] = [
        e for e in sink.events if e.name == "status" and e.attributes[A.STATUS_NEW] == "stalled"
    ]
    assert stalled.attributes[A.PORT] == 0
    assert sink.end_ns is not None
    assert sink.start_ns < stalled.time_ns < sink.end_ns


def test_implied_status_changes_are_span_events_like_reported_ones() -> None:
    """Schema 2.0 leaves out the changes other events imply (a parked stream item, a
    stall, its resumption); the spans show them as the reported ones, old status
    included."""
    spans = spans_from_events(S.stream_cancel().events, seed=1)

    def statuses(span: SpanRecord) -> list[tuple[object, ...]]:
        return [
            (e.attributes[A.STATUS_OLD], e.attributes[A.STATUS_NEW], e.attributes.get(A.RUN_LEVEL))
            for e in span.events
            if e.name == "status"
        ]

    assert statuses(only(spans, "src")) == [
        ("executing", "waiting", 1),  # DataEmitted(parked=True)
        ("waiting", "executing", None),
        ("executing", "waiting", 1),
        ("waiting", "executing", None),
    ]
    assert statuses(only(spans, "sink")) == [
        ("executing", "stalled", None),  # StreamStalled
        ("stalled", "queued", None),
        ("queued", "executing", None),  # StreamResumed
    ]


def test_a_reported_change_to_the_status_a_node_has_changes_nothing() -> None:
    """A trace upgraded from 1.x may still report the changes 2.0 implies, next to the
    events that imply them: the spans are the same as without them."""
    run = S.stream_cancel()
    doubled = S.Run(*run.graph.nodes)
    for e in run.events[len(doubled.events) :]:
        if type(e) is NodeStarted:
            doubled.status(e.node_id, "queued", "executing")
        elif type(e) is StreamStalled:
            doubled.status(e.consumer, "executing", "stalled", None, e.port)
        elif type(e) is StreamResumed:
            doubled.status(e.consumer, "queued", "executing")
        doubled.emit(type(e), *[getattr(e, f) for f in type(e).__struct_fields__[3:]])
        if type(e) is NodeFinished and e.outcome == "completed":
            doubled.status(e.node_id, "executing", "waiting", 0)
        elif type(e) is DataEmitted and e.parked:
            doubled.status(e.node_id, "executing", "waiting", e.run_level)
    assert len(doubled.events) == len(run.events) + 7

    def shape(events: list[Event]) -> list[tuple[object, ...]]:
        return [
            (s.name, sorted(s.attributes), [(e.name, e.attributes) for e in s.events])
            for s in spans_from_events(events, seed=1)
        ]

    assert shape(doubled.events) == shape(run.events)


def test_a_write_with_pending_readers_is_a_barrier_wait_that_did_not_block() -> None:
    """``DataEmitted.pending_readers`` (schema 2.0) is the write barrier: its wait and its
    release are span events at the write, which never blocks in this engine."""
    run = S.dag()
    spans = spans_from_events(run.events, seed=1)
    c = only(spans, "c")
    wait, released = [e for e in c.events if e.name.startswith("barrier")]
    assert wait.name == "barrier.wait" and wait.attributes[A.PENDING_READERS] == 1
    assert released.name == "barrier.released"
    assert released.attributes[A.BLOCKED] is False
    assert released.attributes[A.WAITED_NS] == 0
    [write] = [e for e in run.events if type(e) is DataEmitted and e.node_id == "c"]
    assert wait.time_ns == released.time_ns == run.epoch(write.seq)
    assert wait.attributes[A.GENERATION] == released.attributes[A.GENERATION] == "0"
    a = only(spans, "a")
    assert not any(e.name.startswith("barrier") for e in a.events)  # none pending


def test_stream_items_and_cancellation_are_events_on_both_ends() -> None:
    spans = spans_from_events(S.stream_cancel().events, seed=1)
    src, sink = only(spans, "src"), only(spans, "sink")
    assert [e.attributes[A.GENERATION] for e in src.events if e.name == "stream.item"] == [
        "0.0",
        "0.1",
    ]
    consumed = [e for e in sink.events if e.name == "stream.consumed"]
    assert [e.attributes[A.VALUE] for e in consumed] == ["'item0'", "'item1'"]
    assert [e.name for e in sink.events if e.name.startswith("stream.")] == [
        "stream.stalled",
        "stream.resumed",
        "stream.consumed",
        "stream.consumed",
        "stream.cancel_requested",
        "stream.ended",
    ]
    [cancelled] = [e for e in src.events if e.name == "stream.cancelled"]
    assert cancelled.attributes[A.REQUESTED_BY] == ["sink"]
    assert src.attributes[A.OUTCOME] == "cancelled"
    assert src.status == "unset"
    assert [link.target for link in sink.links] == [src]
    assert sink.links[0].attributes[A.LINK_KIND] == "stream"


def test_stream_items_as_child_spans_by_option() -> None:
    run = S.stream_cancel()
    spans = spans_from_events(run.events, MappingOptions(stream_items="spans"), seed=1)
    src, sink = only(spans, "src"), only(spans, "sink")
    items = by_name(spans)["src.item"]
    consumes = by_name(spans)["sink.consume"]
    assert [i.parent for i in items] == [src, src]
    assert items[0].start_ns == src.start_ns  # item 0 took from the start to its emission
    assert items[1].start_ns == items[0].end_ns
    assert [c.parent for c in consumes] == [sink, sink]
    assert [c.links[0].target for c in consumes] == items
    assert sink.end_ns is not None
    assert all(
        c.end_ns is not None and sink.start_ns <= c.start_ns <= c.end_ns <= sink.end_ns
        for c in consumes
    )
    assert not any(e.name == "stream.item" for e in src.events)


def test_an_error_sets_status_and_records_the_exception() -> None:
    spans = spans_from_events(S.error().events, seed=1)
    boom, root = only(spans, "boom"), only(spans, "flow.run")
    assert boom.status == "error"
    assert boom.status_message == "ValueError: boom at 3"
    [exc] = [e for e in boom.events if e.name == "exception"]
    assert exc.attributes[A.EXCEPTION_TYPE] == "ValueError"
    assert exc.attributes[A.EXCEPTION_MESSAGE] == "boom at 3"
    assert "Traceback" in str(exc.attributes[A.EXCEPTION_STACKTRACE])
    assert exc.attributes[A.ERROR_PHASE] == "call"
    assert boom.attributes[A.OUTCOME] == "error"
    assert root.status == "error"
    assert root.attributes[A.FLOW_OUTCOME] == "error"
    assert root.attributes[A.FLOW_ERROR_NODE] == "boom"
    assert only(spans, "ok").status == "unset"


def test_events_beyond_the_limit_are_dropped_counted_and_announced() -> None:
    spans = spans_from_events(
        S.many_items(300).events, MappingOptions(max_events_per_span=128), seed=1
    )
    gen = only(spans, "gen")
    assert len(gen.events) == 128
    items = [e for e in gen.events if e.name == "stream.item"]
    assert items[0].attributes[A.GENERATION] == "0.0"  # the first ones are kept
    last = gen.events[-1]
    assert last.name == "flowtrace.events_dropped"
    kept = 127
    total = 300
    assert last.attributes[A.EVENTS_DROPPED] == total - kept
    assert gen.attributes[A.EVENTS_DROPPED] == total - kept


def test_no_limit_keeps_every_event() -> None:
    spans = spans_from_events(
        S.many_items(300).events, MappingOptions(max_events_per_span=None), seed=1
    )
    assert len(only(spans, "gen").events) == 300


def test_values_can_be_left_out() -> None:
    spans = spans_from_events(S.dag().events, MappingOptions(record_values=False), seed=1)
    c = only(spans, "c")
    assert not any(k.endswith(".value") or k.startswith("flowtrace.output") for k in c.attributes)


def test_a_trace_cut_short_still_ends_every_span() -> None:
    events = [e for e in S.stream_cancel().events if not isinstance(e, FlowFinished)][:-6]
    spans = spans_from_events(events, seed=1)
    assert all(s.end_ns is not None for s in spans)
    root = only(spans, "flow.run")
    assert root.attributes[A.FLOW_OUTCOME] == "unfinished"
    assert only(spans, "sink").attributes[A.OUTCOME] == "unfinished"


def test_interleaved_runs_become_separate_traces() -> None:
    one, two = S.dag().events, S.Run(S.info("solo"), run_id="run-2")
    two.schedule("solo")
    two.evaluate("solo", 0, output=7)
    two.finish()
    merged = sorted([*one, *two.events], key=lambda e: (e.seq, e.run_id))
    spans = spans_from_events(merged, seed=1)
    roots = [s for s in spans if s.parent is None]
    assert len(roots) == 2
    solo = only(spans, "solo")
    assert solo.trace_id != only(spans, "c").trace_id
    assert solo.parent is not None and solo.parent.attributes[A.RUN_ID] == "run-2"


def test_the_mapping_does_not_import_opentelemetry() -> None:
    assert "flowtrace.otel.mapping" in sys.modules
    import subprocess

    code = (
        "import sys, flowtrace, flowtrace.otel, flowtrace.export; "
        "from flowtrace.otel import spans_from_events; "
        "print(any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"
