"""Jaeger JSON, Chrome trace-event JSON and graph text, checked against their formats."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from otel import scenarios as S

from flowtrace.export import to_chrome, to_dot, to_jaeger, to_mermaid
from flowtrace.otel.mapping import MappingOptions, spans_from_events

SCENARIOS = [S.dag, S.cycle, S.stream_cancel, S.error]
HEX16 = re.compile(r"^[0-9a-f]{16}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
TAG_TYPES = {"string": str, "bool": bool, "int64": int, "float64": float}


def jaeger_of(*runs: S.Run, **options: Any) -> dict[str, Any]:
    events = [e for run in runs for e in run.events]
    document = to_jaeger(spans_from_events(events, MappingOptions(**options), seed=7))
    loaded: dict[str, Any] = json.loads(json.dumps(document))  # what a reader of the file sees
    return loaded


def check_tags(tags: list[dict[str, Any]]) -> dict[str, Any]:
    for tag in tags:
        assert set(tag) == {"key", "type", "value"}
        assert isinstance(tag["value"], TAG_TYPES[tag["type"]]), tag
    return {t["key"]: t["value"] for t in tags}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_jaeger_json_has_the_upload_shape_and_references_resolve(scenario: Any) -> None:
    run = scenario()
    document = jaeger_of(run)
    [trace] = document["data"]
    assert HEX32.match(trace["traceID"])
    assert set(trace["processes"]) == {"p1"}
    assert trace["processes"]["p1"]["serviceName"] == "flowtrace"
    ids = {s["spanID"] for s in trace["spans"]}
    roots = 0
    for span in trace["spans"]:
        assert {
            "traceID",
            "spanID",
            "operationName",
            "references",
            "startTime",
            "duration",
            "tags",
            "logs",
            "processID",
        } <= set(span)
        assert span["traceID"] == trace["traceID"] and HEX16.match(span["spanID"])
        assert span["processID"] == "p1"
        assert isinstance(span["startTime"], int) and isinstance(span["duration"], int)
        # microseconds since the epoch: the run started at WALL0 ns
        assert S.WALL0 // 1000 <= span["startTime"] <= S.WALL0 // 1000 + 10_000
        child_of = [r for r in span["references"] if r["refType"] == "CHILD_OF"]
        roots += not child_of
        for ref in span["references"]:
            assert ref["refType"] in ("CHILD_OF", "FOLLOWS_FROM")
            assert ref["traceID"] == trace["traceID"] and ref["spanID"] in ids
        tags = check_tags(span["tags"])
        assert tags["span.kind"] == "internal"
        for log in span["logs"]:
            assert isinstance(log["timestamp"], int)
            fields = check_tags(log["fields"])
            assert isinstance(fields["event"], str)
    assert roots == 1


def test_jaeger_json_times_in_microseconds() -> None:
    run = S.dag()
    [trace] = jaeger_of(run)["data"]
    root = next(s for s in trace["spans"] if s["operationName"] == "flow.run")
    assert root["startTime"] == S.WALL0 // 1000
    assert root["duration"] == (len(run.events) - 1) * S.STEP // 1000


def test_jaeger_json_links_are_follows_from_and_errors_are_tagged() -> None:
    [trace] = jaeger_of(S.error())["data"]
    spans = {s["operationName"]: s for s in trace["spans"]}
    boom = spans["boom"]
    kinds = sorted(r["refType"] for r in boom["references"])
    assert kinds == ["CHILD_OF", "FOLLOWS_FROM"]
    follows = next(r for r in boom["references"] if r["refType"] == "FOLLOWS_FROM")
    assert follows["spanID"] == spans["ok"]["spanID"]
    tags = check_tags(boom["tags"])
    assert tags["error"] is True and tags["otel.status_code"] == "ERROR"
    assert tags["otel.status_description"] == "ValueError: boom at 3"
    assert any(check_tags(log["fields"])["event"] == "exception" for log in boom["logs"])


def test_jaeger_json_one_trace_per_run() -> None:
    two = S.Run(S.info("solo"), run_id="run-2")
    two.schedule("solo")
    two.evaluate("solo", 0)
    two.finish()
    document = jaeger_of(S.dag(), two)
    assert len(document["data"]) == 2
    assert len({t["traceID"] for t in document["data"]}) == 2


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_chrome_trace_events_have_the_required_keys(scenario: Any) -> None:
    spans = spans_from_events(scenario().events, seed=7)
    document = json.loads(json.dumps(to_chrome(spans)))
    events = document["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    assert len(complete) == len(spans)
    for e in events:
        assert {"name", "ph", "pid", "tid"} <= set(e)
        assert e["ph"] in ("X", "i", "M", "s", "f")
        if e["ph"] != "M":
            assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0
        if e["ph"] == "X":
            assert isinstance(e["dur"], (int, float)) and e["dur"] >= 0
            assert isinstance(e["args"], dict)
        if e["ph"] == "i":
            assert e["s"] == "t"
    names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events
        if e["ph"] == "M" and e["name"] == "thread_name"
    }
    for e in complete:  # every slice is on a named track: its node, or the run's
        assert names[(e["pid"], e["tid"])] == (e["args"].get("flowtrace.node.id") or "flow.run")


def test_chrome_times_are_microseconds_from_the_first_span() -> None:
    run = S.dag()
    document = to_chrome(spans_from_events(run.events, seed=7))
    root = next(e for e in document["traceEvents"] if e["name"] == "flow.run" and e["ph"] == "X")
    assert root["ts"] == 0
    assert root["dur"] == (len(run.events) - 1) * S.STEP / 1000
    assert document["otherData"]["origin_unix_ns"] == S.WALL0


def test_chrome_lineage_arrows_bind_producer_to_consumer() -> None:
    document = to_chrome(spans_from_events(S.dag().events, seed=7))
    events = document["traceEvents"]
    slices = [e for e in events if e["ph"] == "X"]
    tid_of = {e["name"]: e["tid"] for e in slices}
    starts = [e for e in events if e["ph"] == "s"]
    ends = [e for e in events if e["ph"] == "f"]
    assert len(starts) == len(ends) == 2
    assert sorted(s["id"] for s in starts) == sorted(f["id"] for f in ends)
    for s in starts:
        [f] = [f for f in ends if f["id"] == s["id"]]
        assert f["tid"] == tid_of["c"] and f["bp"] == "e"
        assert s["tid"] in (tid_of["a"], tid_of["b"])
        producer = next(e for e in slices if e["tid"] == s["tid"])
        assert producer["ts"] <= s["ts"] <= producer["ts"] + producer["dur"]


def test_chrome_errors_are_instant_events() -> None:
    document = to_chrome(spans_from_events(S.error().events, seed=7))
    [boom] = [e for e in document["traceEvents"] if e["ph"] == "X" and e["name"] == "boom"]
    assert boom["args"]["status"] == "ERROR"
    [exc] = [
        e
        for e in document["traceEvents"]
        if e["ph"] == "i" and e["name"] == "exception" and e["tid"] == boom["tid"]
    ]
    assert exc["cat"] == "error"
    assert exc["args"]["exception.type"] == "ValueError"


def test_graph_as_mermaid_and_dot() -> None:
    graph = S.cycle().graph
    mermaid = to_mermaid(graph)
    assert mermaid.startswith("flowchart LR\n")
    assert mermaid.count("-.->") == 1 and mermaid.count("-->") == 1  # y->x has a default
    dot = to_dot(graph)
    assert dot.startswith('digraph "flow" {')
    assert '"y" -> "x" [label="in0", style=dashed];' in dot
    assert '"x" -> "y" [label="in0"];' in dot
