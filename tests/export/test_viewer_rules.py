"""The Chrome and Jaeger files obey the rules their viewers build trees by, for every
bundled example in both stream-item modes.

* Every Chrome track nests: read in file order with the viewers' floating-point
  arithmetic (end = ``ts + dur``), each slice lies inside the innermost open one or
  after it; and no slice ends exactly where the next one of its track starts or where
  its parent ends (speedscope shifts times, computes ``ts + dur`` in floating point and
  pairs such ties by name: it misattributed consecutive stream items).
* Parents come before their children — in the Chrome file on each track (a child
  written first would close before its parent opens), in the Jaeger file within a
  trace.
* Lineage arrows leave the producer's slice when the data existed: at its end, or
  when a stream item had been emitted, never earlier; and arrive no earlier than they
  leave.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pytest

from flowtrace.events import Event
from flowtrace.export import to_chrome, to_jaeger
from flowtrace.otel.mapping import MappingOptions, spans_from_events
from flowtrace.testing import run_script

StreamItems = Literal["events", "spans"]
EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.py"))
MODES = ("events", "spans")
NS = 0.001  # one nanosecond, in the files' microseconds


@cache
def example_events(script: Path) -> tuple[Event, ...]:
    return tuple(run_script(script).capture.events)


def chrome_of(events: tuple[Event, ...], mode: StreamItems) -> dict[str, Any]:
    spans = spans_from_events(events, MappingOptions(stream_items=mode), seed=1)
    document: dict[str, Any] = json.loads(json.dumps(to_chrome(spans)))  # as read back
    return document


def jaeger_of(events: tuple[Event, ...], mode: StreamItems) -> dict[str, Any]:
    spans = spans_from_events(events, MappingOptions(stream_items=mode), seed=1)
    document: dict[str, Any] = json.loads(json.dumps(to_jaeger(spans)))
    return document


def nesting_problems(document: dict[str, Any]) -> list[str]:
    """Every way the slices of a track fail to form a tree, as a viewer reads them."""
    problems: list[str] = []
    stacks: dict[tuple[int, int], list[tuple[str, float, int, int]]] = {}
    for e in document["traceEvents"]:
        if e["ph"] != "X":
            continue
        stack = stacks.setdefault((e["pid"], e["tid"]), [])
        start, end = e["ts"], e["ts"] + e["dur"]
        start_ns, end_ns = round(e["ts"] * 1000), round(e["ts"] * 1000) + round(e["dur"] * 1000)
        while stack and stack[-1][1] <= start:
            name, _, closed_start, closed_end = stack.pop()
            if closed_end == start_ns and closed_start < closed_end and start_ns < end_ns:
                problems.append(f"{name} ends as {e['name']} starts, at {start}")
        if stack and end > stack[-1][1]:
            problems.append(
                f"{e['name']} [{start}, {end}] overlaps {stack[-1][0]} "
                f"(ends {stack[-1][1]}) on track {e['pid']}/{e['tid']}"
            )
        elif stack and end_ns == stack[-1][3] and start_ns < end_ns:
            problems.append(f"{e['name']} ends with its parent {stack[-1][0]}, at {end}")
        stack.append((e["name"], end, start_ns, end_ns))
    return problems


def track_names(document: dict[str, Any]) -> dict[tuple[int, int], str]:
    return {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in document["traceEvents"]
        if e["ph"] == "M" and e["name"] == "thread_name"
    }


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_every_track_of_every_example_nests(script: Path, mode: StreamItems) -> None:
    document = chrome_of(example_events(script), mode)
    assert nesting_problems(document) == []


def test_the_nesting_check_sees_overlaps_and_ties() -> None:
    def slices(*spec: tuple[str, float, float]) -> dict[str, Any]:
        return {
            "traceEvents": [
                {"ph": "X", "pid": 1, "tid": 1, "name": n, "ts": t, "dur": d} for n, t, d in spec
            ]
        }

    assert nesting_problems(slices(("a", 0, 10), ("b", 2, 3), ("c", 10.001, 1))) == []
    assert len(nesting_problems(slices(("a", 0, 10), ("b", 5, 10)))) == 1  # overlap
    assert len(nesting_problems(slices(("a", 0, 10), ("c", 10, 5)))) == 1  # a tie
    assert len(nesting_problems(slices(("a", 0, 10), ("b", 5, 5)))) == 1  # ends together
    assert len(nesting_problems(slices(("b", 0, 5), ("a", 0, 10)))) == 1  # child first
    assert nesting_problems(slices(("a", 0.1, 0.2), ("b", 0.1, 0.199))) == []


def test_a_node_reading_and_producing_a_stream_has_a_track_for_what_it_reads() -> None:
    document = chrome_of(
        example_events(EXAMPLES[[p.stem for p in EXAMPLES].index("streaming")]), "spans"
    )
    names = track_names(document)
    on: dict[str, set[str]] = {}
    for e in document["traceEvents"]:
        if e["ph"] == "X":
            on.setdefault(names[(e["pid"], e["tid"])], set()).add(e["name"].split(" ")[0])
    assert on["upper"] == {"upper", "upper.item"}
    assert on["upper.consume port 0"] == {"upper.consume"}
    assert on["tokens"] == {"tokens", "tokens.item"}
    tracks = [name for _, name in sorted(names.items())]
    assert tracks.index("upper.consume port 0") == tracks.index("upper") + 1


def test_a_parent_starting_with_its_first_child_comes_first() -> None:
    streaming = example_events(EXAMPLES[[p.stem for p in EXAMPLES].index("streaming")])
    slices = [e for e in chrome_of(streaming, "spans")["traceEvents"] if e["ph"] == "X"]
    tokens = next(i for i, e in enumerate(slices) if e["name"] == "tokens")
    first_item = next(i for i, e in enumerate(slices) if e["name"].startswith("tokens.item"))
    assert slices[first_item]["ts"] == slices[tokens]["ts"]  # the case in question
    assert tokens < first_item
    [trace] = jaeger_of(streaming, "spans")["data"]
    names = [s["operationName"] for s in trace["spans"]]
    assert names.index("tokens") < names.index("tokens.item")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_jaeger_spans_come_after_their_parents(script: Path, mode: StreamItems) -> None:
    for trace in jaeger_of(example_events(script), mode)["data"]:
        seen: set[str] = set()
        for span in trace["spans"]:
            for ref in span["references"]:
                if ref["refType"] == "CHILD_OF":
                    assert ref["spanID"] in seen, span["operationName"]
            seen.add(span["spanID"])


def enclosing(slices: list[dict[str, Any]], pid: int, tid: int, ts: float) -> dict[str, Any]:
    """The innermost slice of a track around ``ts``."""
    around = [
        e
        for e in slices
        if (e["pid"], e["tid"]) == (pid, tid) and e["ts"] <= ts <= e["ts"] + e["dur"]
    ]
    assert around, f"no slice at {ts} on {pid}/{tid}"
    return min(around, key=lambda e: e["dur"])


def data_time(document: dict[str, Any], producer: dict[str, Any], link: dict[str, Any]) -> float:
    """When the data an arrow carries existed, according to the file itself: the end
    of a result's or an item's slice; for a stream read from a running producer, the
    emission of the item read (its generation, or the producer's first item)."""
    if producer["cat"] == "item" or link.get("flowtrace.link.kind") == "input":
        return float(producer["ts"] + producer["dur"])
    generation = link["flowtrace.producer.generation"]
    node = link["flowtrace.producer.node.id"]
    emitted: list[tuple[str, float]] = []
    for e in document["traceEvents"]:
        if e["ph"] not in ("X", "i") or (e["pid"], e["tid"]) != (producer["pid"], producer["tid"]):
            continue
        if not producer["ts"] <= e["ts"] <= producer["ts"] + producer["dur"]:
            continue
        if e["ph"] == "X" and e["cat"] == "item":
            emitted.append((e["args"]["flowtrace.generation"], e["ts"] + e["dur"]))
        elif e["ph"] == "i" and e["name"] == "stream.item":
            emitted.append((e["args"]["flowtrace.generation"], e["ts"]))
    exact = [t for g, t in emitted if g == generation]
    assert exact or emitted, f"no item of {node} before an arrow leaves it ({link})"
    return float(exact[0] if exact else min(t for _, t in emitted))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_lineage_arrows_never_leave_before_the_data_exists(script: Path, mode: StreamItems) -> None:
    document = chrome_of(example_events(script), mode)
    events = document["traceEvents"]
    slices = [e for e in events if e["ph"] == "X"]
    arrivals = {e["id"]: e for e in events if e["ph"] == "f"}
    departures = [e for e in events if e["ph"] == "s"]
    assert len(departures) == len(arrivals)
    for s in departures:
        f = arrivals[s["id"]]
        assert s["ts"] <= f["ts"]
        producer = enclosing(slices, s["pid"], s["tid"], s["ts"])
        consumer = enclosing(slices, f["pid"], f["tid"], f["ts"])
        assert s["ts"] >= data_time(document, producer, f["args"]) - NS - 1e-9, (
            producer["name"],
            consumer["name"],
            f["args"],
        )


def test_an_input_arrow_leaves_at_the_producers_end() -> None:
    hello = example_events(EXAMPLES[[p.stem for p in EXAMPLES].index("hello")])
    document = chrome_of(hello, "events")
    events = document["traceEvents"]
    slices = [e for e in events if e["ph"] == "X"]
    arrivals = {e["id"]: e for e in events if e["ph"] == "f"}
    inputs = [
        s
        for s in events
        if s["ph"] == "s" and arrivals[s["id"]]["args"]["flowtrace.link.kind"] == "input"
    ]
    assert inputs
    for s in inputs:
        producer = enclosing(slices, s["pid"], s["tid"], s["ts"])
        assert producer["dur"] > NS
        assert producer["ts"] + producer["dur"] - s["ts"] == pytest.approx(NS, abs=1e-6)


def test_slices_that_would_still_overlap_move_to_an_extra_track() -> None:
    from flowtrace.otel.model import SpanRecord

    root = SpanRecord(
        "flow.run",
        "flow",
        0,
        end_ns=100_000,
        trace_id=1,
        span_id=1,
        attributes={"flowtrace.run.id": "r", "flowtrace.graph.nodes": ["x"]},
    )
    first = SpanRecord("x", "node", 10_000, root, 30_000, node_id="x", trace_id=1, span_id=2)
    second = SpanRecord("x", "node", 20_000, root, 40_000, node_id="x", trace_id=1, span_id=3)
    inner = SpanRecord(
        "x.item",
        "item",
        25_000,
        second,
        35_000,
        node_id="x",
        trace_id=1,
        span_id=4,
        attributes={"flowtrace.generation": "1.0"},
    )
    document = to_chrome([root, first, second, inner])
    assert nesting_problems(document) == []
    names = track_names(document)
    placed = [
        (e["name"], e["ts"], names[(e["pid"], e["tid"])])
        for e in document["traceEvents"]
        if e["ph"] == "X"
    ]
    assert placed == [
        ("flow.run", 0, "flow.run"),
        ("x", 10, "x"),
        ("x", 20, "x (2)"),
        ("x.item", 25, "x (2)"),
    ]
    tracks = [name for _, name in sorted(names.items())]
    assert tracks == ["flow.run", "x", "x (2)"]
