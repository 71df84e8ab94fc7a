"""Schema 1.x traces still open: read and upgraded to 2.0 in memory, every fact kept.

The fixtures in ``tests/fixtures/schema1`` were recorded by the last 1.x flowtrace
(see their README). Each test reads a fixture two ways: raw (``json.loads`` of each
line, the 1.x vocabulary as written) and through the reader (upgraded), and checks
that what 2.0 folds away can be derived back from the upgraded events
(:mod:`flowtrace.implied`), that everything else is unchanged, and that the upgraded
events are valid 2.0.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from flowtrace.eventjson import DECODER, encode_event, encode_event_bytes, event_to_json
from flowtrace.events import (
    EVENT_TYPES,
    BarrierCountdown,
    DataEmitted,
    Event,
    NodeFinished,
    NodeStarted,
    NodeStatusChanged,
    NodeVisited,
    ResolutionQueuePut,
    SleepBegan,
    StreamItemConsumed,
    StreamStalled,
)
from flowtrace.implied import queue_get, queue_put, status_change
from flowtrace.tracefile import TraceFormatError, read_trace
from flowtrace.upgrade import V1_DECODER, Upgrader, upgrade_events

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "schema1"
NAMES = ["cycle", "streaming", "error", "cancel", "deadlock", "hello", "hello-1.0"]

#: 1.x kinds the upgrade changes (dropped, folded, or given new fields).
TOUCHED = {
    "ResolutionQueueGet",
    "NodeRegistered",
    "BarrierWaitBegan",
    "BarrierWaitEnded",
    "NodeVisited",
    "NodeStatusChanged",
    "ResolutionQueuePut",
    "BarrierCountdown",
    "DataEmitted",
    "StreamItemConsumed",
    "StreamStalled",
    "SleepBegan",
}


def fixture(name: str) -> Path:
    return FIXTURES / f"{name}.ftrace.jsonl"


def raw(name: str) -> list[dict[str, Any]]:
    """The 1.x events as written."""
    lines = fixture(name).read_bytes().splitlines()[1:]
    return [json.loads(line) for line in lines if line.strip()]


def upgraded(name: str) -> list[Event]:
    return read_trace(fixture(name)).events


def without_seq(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "seq"}


@pytest.mark.parametrize("name", NAMES)
def test_a_1x_trace_opens_as_valid_2_0(name: str) -> None:
    trace = read_trace(fixture(name))
    assert trace.header.schema[0] == 1 and trace.header.upgraded
    assert trace.events and trace.damage is None
    for run in trace.runs.values():
        assert [e.seq for e in run.events] == list(range(len(run.events)))
    for event in trace.events:
        assert type(event) in EVENT_TYPES
        assert DECODER.decode(encode_event_bytes(event)) == event
    kinds = Counter(type(e).__name__ for e in trace.events)
    assert len(trace.events) < len(raw(name))
    for gone in ("ResolutionQueueGet", "NodeRegistered", "BarrierWaitBegan", "BarrierWaitEnded"):
        assert gone not in kinds
    assert not any(isinstance(e, NodeVisited) and e.action == "resumed" for e in trace.events)  # type: ignore[comparison-overlap]


@pytest.mark.parametrize("name", NAMES)
def test_every_event_the_upgrade_does_not_touch_is_unchanged(name: str) -> None:
    before = [without_seq(o) for o in raw(name) if o["kind"] not in TOUCHED]
    after = [
        without_seq(event_to_json(e)) for e in upgraded(name) if type(e).__name__ not in TOUCHED
    ]
    assert after == before


def _statuses_raw(objs: list[dict[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for o in objs:
        if o["kind"] == "NodeStatusChanged":
            new = o["new"]
            out.setdefault(o["node_id"], []).append(
                (
                    new,
                    o["run_level"] if new == "waiting" else None,
                    o["port"] if new == "stalled" else None,
                )
            )
    return out


def _statuses_derived(events: list[Event]) -> dict[str, list[tuple[Any, ...]]]:
    """Each node's statuses as a consumer follows them: explicit and implied changes
    alike, a change to the status the node already has being a no-op."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for event in events:
        change = status_change(event)
        if change is None:
            continue
        state = (
            change.new,
            change.run_level if change.new == "waiting" else None,
            change.port if change.new == "stalled" else None,
        )
        seen = out.setdefault(change.node_id, [])
        if not seen or seen[-1] != state:
            seen.append(state)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_node_statuses_follow_from_the_upgraded_events_as_they_were_written(name: str) -> None:
    assert _statuses_derived(upgraded(name)) == _statuses_raw(raw(name))


@pytest.mark.parametrize("name", NAMES)
def test_the_resolution_queue_follows_from_the_upgraded_events(name: str) -> None:
    objs, events = raw(name), upgraded(name)
    puts = [
        (o["node_id"], o["by"], o["reason"], o["added"])
        for o in objs
        if o["kind"] == "ResolutionQueuePut"
    ]
    assert [tuple(p) for e in events if (p := queue_put(e)) is not None] == puts
    gets = [o["node_id"] for o in objs if o["kind"] == "ResolutionQueueGet"]
    assert [g for e in events if (g := queue_get(e)) is not None] == gets


@pytest.mark.parametrize("name", NAMES)
def test_barrier_facts_move_to_the_events_that_carry_them_in_2_0(name: str) -> None:
    objs, events = raw(name), upgraded(name)
    waits = {
        (o["node_id"], tuple(o["generation"] or ()), o["run_level"]): o["pending_readers"]
        for o in objs
        if o["kind"] == "BarrierWaitBegan"
    }
    emitted = {
        (e.node_id, tuple(e.generation or ()), e.run_level): e.pending_readers
        for e in events
        if isinstance(e, DataEmitted)
    }
    assert {k: emitted[k] for k in waits} == waits
    assert all(v == 0 for k, v in emitted.items() if k not in waits)
    parks = sum(
        1
        for o in objs
        if o["kind"] == "NodeStatusChanged"
        and (o["old"], o["new"], o["run_level"]) == ("executing", "waiting", 1)
    )
    parked = [e for e in events if isinstance(e, DataEmitted) and e.parked]
    explicit = [
        e
        for e in events
        if isinstance(e, NodeStatusChanged)
        and (e.old, e.new, e.run_level) == ("executing", "waiting", 1)
    ]
    assert len(parked) + len(explicit) == parks
    assert all(e.run_level == 1 for e in parked)
    countdowns = Counter(
        (o["node_id"], o["reader"], tuple(o["generation"] or ()), o["remaining"])
        for o in objs
        if o["kind"] == "BarrierCountdown" and o["run_level"] == 1
    )
    kept = Counter(
        (e.node_id, e.reader, tuple(e.generation or ()), e.remaining)
        for e in events
        if isinstance(e, BarrierCountdown) and e.run_level == 1
    )
    folded = Counter(
        (e.producer, e.consumer, tuple(e.generation or ()), e.remaining)
        for e in events
        if isinstance(e, StreamItemConsumed) and e.remaining is not None
    )
    assert kept + folded == countdowns


@pytest.mark.parametrize("name", NAMES)
def test_data_and_outcomes_are_unchanged(name: str) -> None:
    objs, events = raw(name), upgraded(name)
    assert [
        (e.node_id, list(e.generation or ()), e.run_level, list(e.values))
        for e in events
        if isinstance(e, DataEmitted)
    ] == [
        (o["node_id"], o["generation"] or [], o["run_level"], o["values"])
        for o in objs
        if o["kind"] == "DataEmitted"
    ]
    assert [(e.consumer, e.value) for e in events if isinstance(e, StreamItemConsumed)] == [
        (o["consumer"], o["value"]) for o in objs if o["kind"] == "StreamItemConsumed"
    ]


def test_the_folds_happen_on_a_streaming_trace() -> None:
    objs, events = raw("streaming"), upgraded("streaming")
    kinds = Counter(type(e).__name__ for e in events)
    before = Counter(o["kind"] for o in objs)
    # every stall's demand on its producer is in the StreamStalled …
    stalls = [e for e in events if isinstance(e, StreamStalled)]
    assert len(stalls) == before["StreamStalled"] == 5
    assert all(s.producer_queued is True for s in stalls)
    assert not any(isinstance(e, ResolutionQueuePut) and e.reason == "stall" for e in events)
    # … every stream read has its barrier count …
    reads = [e for e in events if isinstance(e, StreamItemConsumed)]
    assert len(reads) == 10 and all(r.remaining is not None for r in reads)
    assert not any(isinstance(e, BarrierCountdown) and e.run_level == 1 for e in events)
    # … and the status changes other events imply are gone.
    changes = [e for e in events if isinstance(e, NodeStatusChanged)]
    assert before["NodeStatusChanged"] == 60 and kinds["NodeStatusChanged"] == 30 == len(changes)
    assert not any(c.new == "stalled" for c in changes)
    assert not any(c.new == "waiting" and c.old == "executing" for c in changes)
    items = [e for e in events if isinstance(e, DataEmitted) and e.run_level == 1]
    assert len(items) == 10 and all(e.parked for e in items)
    for prev, event in itertools.pairwise(events):
        if isinstance(event, NodeStarted) and isinstance(prev, NodeStatusChanged):
            assert prev.node_id != event.node_id
    assert len(events) == 153 and len(objs) == 257


# ----------------------------------------------------------------------------- edge cases


def _v1(objs: list[dict[str, Any]]) -> list[Any]:
    return [V1_DECODER.decode(json.dumps(o)) for o in objs]


def _obj(kind: str, seq: int, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "seq": seq, "t_ns": seq * 10, "run_id": "r", **fields}


def _nsc(seq: int, node: str, old: str, new: str, run_level: Any = None) -> dict[str, Any]:
    return _obj(
        "NodeStatusChanged", seq, node_id=node, old=old, new=new, run_level=run_level, port=None
    )


def test_where_the_neighbour_is_not_as_expected_the_explicit_event_stays() -> None:
    objs = [
        _nsc(0, "a", "queued", "executing"),
        _obj("NodeVisited", 1, node_id="b", action="running"),
        _obj("NodeStarted", 2, node_id="a", generation=[0], run_level=0),
        _obj("StreamStalled", 3, consumer="c", port=0, producer="p", last_generation=[0, 0]),
        _obj("NodeVisited", 4, node_id="p", action="running"),
        _obj("ResolutionQueuePut", 5, node_id="p", by="c", reason="stall", added=False),
        _obj(
            "BarrierCountdown",
            6,
            node_id="p",
            reader="x",
            generation=[0, 0],
            run_level=1,
            remaining=0,
        ),
        _obj(
            "StreamItemConsumed",
            7,
            consumer="c",
            port=0,
            producer="p",
            producer_output=0,
            generation=[0, 0],
            value=1,
        ),
    ]
    events = upgrade_events(_v1(objs))
    assert [type(e).__name__ for e in events] == [o["kind"] for o in objs]
    assert [e.seq for e in events] == list(range(len(objs)))
    stall = events[3]
    assert isinstance(stall, StreamStalled) and stall.producer_queued is None
    read = events[7]
    assert isinstance(read, StreamItemConsumed) and read.remaining is None


def test_a_stream_item_is_parked_only_when_its_park_follows_its_queue_puts() -> None:
    item = {"node_id": "p", "generation": [0, 0], "run_level": 1, "values": [1]}
    objs = [
        _obj("DataEmitted", 0, **item),
        _obj("ResolutionQueuePut", 1, node_id="c", by="p", reason="consumer", added=True),
        _obj("ResolutionQueuePut", 2, node_id="d", by="p", reason="consumer", added=False),
        _nsc(3, "p", "executing", "waiting", 1),
        _obj("DataEmitted", 4, **{**item, "generation": [0, 1]}),
        _obj("StreamCancelled", 5, producer="p", generation=[0], requested_by=["c"], handled=False),
        _nsc(6, "p", "executing", "waiting", 1),
    ]
    events = upgrade_events(_v1(objs))
    assert [type(e).__name__ for e in events] == [
        "DataEmitted",
        "ResolutionQueuePut",
        "ResolutionQueuePut",
        "DataEmitted",
        "StreamCancelled",
        "NodeStatusChanged",
    ]
    first, second = events[0], events[3]
    assert isinstance(first, DataEmitted) and first.parked
    assert isinstance(second, DataEmitted) and not second.parked
    assert [e.seq for e in events] == list(range(6))


def test_a_run_level_0_park_after_a_completed_evaluation_is_implied_across_other_events() -> None:
    objs = [
        _obj("NodeStarted", 0, node_id="a", generation=[0], run_level=0),
        _obj("NodeFinished", 1, node_id="a", generation=[0], run_level=0, outcome="completed"),
        _obj("ResolutionQueuePut", 2, node_id="b", by="a", reason="consumer", added=True),
        _nsc(3, "a", "executing", "waiting", 0),
        _obj("NodeFinished", 4, node_id="b", generation=[0], run_level=0, outcome="error"),
        _nsc(5, "b", "executing", "waiting", 0),
    ]
    events = upgrade_events(_v1(objs))
    assert [type(e).__name__ for e in events] == [
        "NodeStarted",
        "NodeFinished",
        "ResolutionQueuePut",
        "NodeFinished",
        "NodeStatusChanged",  # b did not complete: nothing implies its park
    ]


def test_a_sleep_without_end_becomes_none(tmp_path: Path) -> None:
    header = fixture("hello").read_bytes().splitlines()[0]
    path = tmp_path / "old.ftrace.jsonl"
    path.write_bytes(
        header
        + b'\n{"kind":"SleepBegan","seq":0,"t_ns":1,"run_id":"r","task_id":1,'
        + b'"duration":Infinity,"deadline":Infinity}\n'
        + b'{"kind":"SleepBegan","seq":1,"t_ns":2,"run_id":"r","task_id":1,'
        + b'"duration":0.5,"deadline":1.5}\n'
    )
    assert read_trace(path).events == [
        SleepBegan(0, 1, "r", 1, None, None),
        SleepBegan(1, 2, "r", 1, 0.5, 1.5),
    ]


def test_interleaved_runs_are_upgraded_each_on_its_own(tmp_path: Path) -> None:
    data = fixture("streaming").read_bytes().splitlines()
    header, lines = data[0], data[1:]
    other = [line.replace(b'"run_id":"flow-1"', b'"run_id":"flow-2"') for line in lines]
    mixed = [x for pair in zip(lines, other, strict=True) for x in pair]
    path = tmp_path / "two.ftrace.jsonl"
    path.write_bytes(b"\n".join([header, *mixed]) + b"\n")
    trace = read_trace(path)
    alone = upgraded("streaming")
    one, two = trace.runs["flow-1"].events, trace.runs["flow-2"].events
    assert one == alone
    assert [msgspec_replace_run(e, "flow-1") for e in two] == alone


def msgspec_replace_run(event: Event, run_id: str) -> Event:
    import msgspec

    return msgspec.structs.replace(event, run_id=run_id)


def test_a_damaged_1x_line_is_named_and_lenient_reading_goes_on(tmp_path: Path) -> None:
    data = fixture("hello").read_bytes().splitlines()
    index = next(i for i, line in enumerate(data) if b'"kind":"NodeStarted"' in line)
    data[index] = data[index].replace(b'"run_level":0', b'"run_level":"zero"')
    path = tmp_path / "bad.ftrace.jsonl"
    path.write_bytes(b"\n".join(data) + b"\n")
    with pytest.raises(TraceFormatError) as info:
        read_trace(path)
    assert str(info.value) == (
        f"{path}:{index + 1}: NodeStarted: Expected `int`, got `str` - at `$.run_level`"
    )
    trace = read_trace(path, lenient=True)
    assert trace.damage is not None and trace.damage.line == index + 1
    starts = Counter(type(e).__name__ for e in trace.events)
    whole = Counter(type(e).__name__ for e in upgraded("hello"))
    # The lost NodeStarted no longer implies the queued→executing change before it,
    # which therefore stays explicit.
    assert starts["NodeStarted"] == whole["NodeStarted"] - 1
    assert starts["NodeStatusChanged"] == whole["NodeStatusChanged"] + 1
    assert len(trace.events) == len(upgraded("hello"))


def test_the_upgrader_streams_holding_back_few_events() -> None:
    """At most the last event of a run, or a stream item and its consumers' queue puts
    (two readers here: three events)."""
    objs = raw("streaming")
    upgrader = Upgrader()
    got: list[Event] = []
    for i, o in enumerate(objs):
        out, numbers = upgrader.feed(_v1([o]), [i + 2])
        assert len(numbers) == len(out)
        got.extend(out)
        assert i + 1 - len(got) - sum(upgrader.folded.values()) <= 3
    rest, _ = upgrader.finish()
    assert len(rest) == 1
    assert got + rest == upgraded("streaming")


# ----------------------------------------------------------------------------- commands


def _flowtrace(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "flowtrace", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


@pytest.mark.parametrize("name", ["streaming", "hello-1.0"])
def test_flowtrace_show_and_export_open_a_1x_trace(name: str, tmp_path: Path) -> None:
    shown = _flowtrace("show", str(fixture(name)))
    assert shown.returncode == 0, shown.stderr
    assert "completed" in shown.stdout
    out = tmp_path / "t.json"
    exported = _flowtrace("export", str(fixture(name)), "--to", "chrome", str(out))
    assert exported.returncode == 0, exported.stderr
    spans = json.loads(out.read_text())
    events = spans["traceEvents"] if isinstance(spans, dict) else spans
    assert any("NodeStarted" in json.dumps(e) or e.get("ph") == "X" for e in events)


def _facts(events: list[Event]) -> dict[str, Any]:
    return {
        "outcomes": sorted(
            (e.node_id, str(e.generation), e.outcome) for e in events if isinstance(e, NodeFinished)
        ),
        "data": sorted(
            (e.node_id, str(e.generation), e.run_level, encode_event(e).split('"values":')[1])
            for e in events
            if isinstance(e, DataEmitted)
        ),
        "reads": sorted(
            (e.consumer, e.producer, str(e.generation), json.dumps(e.value))
            for e in events
            if isinstance(e, StreamItemConsumed)
        ),
    }


def _values_only(facts: dict[str, Any]) -> dict[str, Any]:
    # The values array is followed by the 2.0-only fields: compare the values alone.
    return {
        **facts,
        "data": [(n, g, r, text.split(',"pending_readers"')[0]) for n, g, r, text in facts["data"]],
    }


@pytest.mark.parametrize("name", ["hello", "cycle", "streaming", "error", "cancel", "deadlock"])
def test_a_1x_trace_and_a_2_0_trace_of_the_same_program_say_the_same(
    name: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{name}.ftrace.jsonl"
    ran = _flowtrace("run", "--record", str(path), f"examples/{name}.py")
    assert ran.returncode == 0, ran.stderr
    new = read_trace(path)
    assert new.header.schema[0] == 2
    assert _values_only(_facts(new.events)) == _values_only(_facts(upgraded(name)))
    compared = _flowtrace("diff", str(fixture(name)), str(path))
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert "agree at the scheduling level" in compared.stdout
