"""The summary behind ``flowtrace show``: what each run did, computed in one pass."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from _events import node_info, port_info

from flowtrace.events import (
    CycleBreak,
    DataEmitted,
    DeadlockDetected,
    ErrorInfo,
    Event,
    FlowFinished,
    FlowStarted,
    GraphInfo,
    LoopExited,
    NodeErrored,
    NodeFinished,
    NodeInfo,
    NodeStarted,
    SolutionFound,
    StreamCancelled,
    StreamCancelRequested,
    TaskFinished,
    TaskSpawned,
    WaitInfo,
)
from flowtrace.record import TraceWriter
from flowtrace.summary import (
    duration_text,
    generation_text,
    summarize_events,
    summarize_file,
)
from flowtrace.tracefile import make_header

BOOM = ErrorInfo(
    "ValueError", "boom", "Traceback (most recent call last):\n  ...\nValueError: boom\n"
)


def node(
    node_id: str, kind: Literal["mono", "stream"] = "mono", producer: str | None = None
) -> NodeInfo:
    port = port_info(0, producer, name="x", default=0, has_default=producer is None)
    return node_info(node_id, port, kind=kind)


def flow_run(run_id: str = "flow-1") -> list[Event]:
    """A source streaming into a sink, in a cycle with a counter, ending in an error."""
    graph = GraphInfo(
        (node("src", "stream"), node("sink", producer="src"), node("count", producer="count"))
    )
    r = run_id
    return [
        FlowStarted(0, 1_000, r, "flow", 1_700_000_000_000_000_000, graph),
        SolutionFound(
            1,
            1_010,
            r,
            "sink",
            ("count", "src"),
            (("count",),),
            (CycleBreak("count", ("count",), (0,)),),
        ),
        NodeStarted(2, 2_000, r, "src", (0,), 0),
        DataEmitted(3, 2_100, r, "src", (0, 0), 1, (1,), 0, True),
        DataEmitted(4, 2_200, r, "src", (0, 1), 1, (2,), 0, True),
        StreamCancelRequested(5, 2_250, r, "sink", 0, "src", (0,), False),
        StreamCancelled(6, 2_300, r, "src", (0,), ("sink",), False),
        DataEmitted(7, 2_400, r, "src", (0,), 0, (3,), 0, False),
        NodeFinished(8, 3_000, r, "src", (0,), 0, "cancelled"),
        NodeStarted(9, 3_000, r, "count", (0,), 0),
        DataEmitted(10, 3_100, r, "count", (0,), 0, (1,), 0, False),
        NodeFinished(11, 4_000, r, "count", (0,), 0, "completed"),
        NodeStarted(12, 4_000, r, "count", (1,), 0),
        DataEmitted(13, 4_100, r, "count", (1,), 0, (2,), 0, False),
        NodeFinished(14, 7_000, r, "count", (1,), 0, "completed"),
        NodeStarted(15, 7_000, r, "sink", (0,), 0),
        NodeErrored(16, 7_100, r, "sink", (0,), BOOM, "call"),
        NodeFinished(17, 7_500, r, "sink", (0,), 0, "error"),
        DeadlockDetected(18, 7_600, r, (WaitInfo("count", "stalled", ("sink",), "port 0"),)),
        FlowFinished(19, 8_000, r, "flow", "error", BOOM, "sink", (0,)),
    ]


def test_runs_nodes_and_times() -> None:
    summary = summarize_events(flow_run())
    (run,) = summary.runs
    assert (run.run_id, run.flow_id, run.outcome, run.events) == ("flow-1", "flow", "error", 20)
    assert run.duration_ns == 7_000
    assert list(run.nodes) == ["src", "sink", "count"]  # graph order
    count = run.nodes["count"]
    assert (count.evaluations, count.completed, count.generation) == (2, 2, (1,))
    assert (count.total_ns, count.mean_ns) == (4_000, 2_000)
    src = run.nodes["src"]
    assert (src.kind, src.items, src.generation, src.outcomes) == (
        "stream",
        2,
        (0,),
        {"cancelled": 1},
    )
    assert run.nodes["sink"].errors == 1
    assert run.evaluations == 4


def test_an_error_is_reported_once_where_it_was_raised() -> None:
    summary = summarize_events(flow_run())
    assert len(summary.errors) == 1
    (err,) = summary.errors
    assert (err.source, err.node_id, err.generation, err.phase) == ("node", "sink", (0,), "call")
    assert err.error == BOOM


def test_deadlocks_cycles_and_cancellations() -> None:
    summary = summarize_events(flow_run() + flow_run("flow-2"))
    assert [d.waiting[0].node_id for d in summary.deadlocks] == ["count", "count"]
    assert [(c.run_id, c.node_id, c.defaulted_ports, c.count) for c in summary.cycle_breaks] == [
        ("flow-1", "count", (0,), 1),
        ("flow-2", "count", (0,), 1),
    ]
    assert [(c.producer, c.requested_by) for c in summary.stream_cancels] == [
        ("src", ("sink",)),
        ("src", ("sink",)),
    ]
    assert summary.stream_cancel_requests == 2
    assert len(summary.errors) == 2  # one per run


def test_plain_loop_runs_report_failed_tasks_and_the_loop_outcome() -> None:
    events: list[Event] = [
        TaskSpawned(0, 10, "loop-1", 0, "main", None, None),
        TaskFinished(1, 20, "loop-1", 0, "failed", None, BOOM),
        LoopExited(2, 30, "loop-1", "error", BOOM, 0),
    ]
    summary = summarize_events(events)
    assert summary.runs[0].outcome == "error"
    assert summary.runs[0].tasks == 1
    assert [(e.source, e.error.type) for e in summary.errors] == [("task", "ValueError")]


def test_a_file_is_summarised_with_progress(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    writer = TraceWriter(path, make_header(["x.py"]))
    writer.write(flow_run())
    writer.close()
    calls: list[tuple[int, int]] = []
    summary = summarize_file(path, progress=lambda done, total: calls.append((done, total)))
    assert summary.events == 20 and summary.header is not None
    assert summary.header.argv == ("x.py",)
    assert calls[-1][0] == calls[-1][1] == path.stat().st_size


def test_texts() -> None:
    assert [generation_text(g) for g in (None, (3,), (3, 1))] == ["-", "3", "3.1"]
    assert duration_text(512) == "512 ns"
    assert duration_text(1_500) == "1.5 µs"
    assert duration_text(2_500_000) == "2.50 ms"
    assert duration_text(3_000_000_000) == "3.00 s"


def test_a_generation_limit_is_an_ending_not_an_error() -> None:
    limit = ErrorInfo("flowtrace.engine.flow.TerminateLimitReached", "limit (3,)", "tb")
    helper = ErrorInfo("OSError", "disk full", "tb")
    events: list[Event] = [
        FlowStarted(0, 1, "flow-1", "flow", 5, GraphInfo(())),
        TaskSpawned(1, 2, "flow-1", 0, "root", None, None),
        TaskSpawned(2, 3, "flow-1", 1, "helper", 0, None),
        TaskFinished(3, 4, "flow-1", 1, "failed", None, helper),  # a real failure
        TaskFinished(4, 5, "flow-1", 0, "failed", None, limit),  # echoes of the end
        LoopExited(5, 6, "flow-1", "error", limit, 0),
        FlowFinished(6, 7, "flow-1", "flow", "limit", limit, "count", (3,)),
    ]
    summary = summarize_events(events)
    assert summary.runs[0].outcome == "limit"
    assert [(e.source, e.error.message) for e in summary.errors] == [("task", "disk full")]


def test_errors_of_a_run_cut_short_are_still_reported() -> None:
    events: list[Event] = [
        FlowStarted(0, 1, "flow-1", "flow", 5, GraphInfo(())),
        TaskFinished(1, 2, "flow-1", 0, "failed", None, BOOM),
    ]
    summary = summarize_events(events)
    assert summary.runs[0].outcome == "incomplete"
    assert [e.source for e in summary.errors] == ["task"]
