"""Recording real flows: a script's flows become runs of one trace, read back equal."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from _events import Collector
from click.testing import CliRunner

from flowtrace import FlowHDL, node
from flowtrace.cli import cli
from flowtrace.events import DataEmitted, FlowFinished, FlowStarted, NodeErrored
from flowtrace.record import Recorder
from flowtrace.summary import summarize_file
from flowtrace.tracefile import read_trace


@node
async def Source(n: int) -> int:
    return n


@node
async def Double(x: int) -> int:
    return 2 * x


@node
async def Count(limit: int) -> Any:
    for i in range(limit):
        yield i


@node(stream_in=["items"])
async def Total(items: Any) -> int:
    total = 0
    async for item in items:
        total += item
    return total


def test_a_flow_is_recorded_exactly_as_emitted(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder, capture = Recorder(path), Collector()
    with FlowHDL() as f:
        f.src = Source(21)
        f.double = Double(f.src)
    f.run_until_complete(instruments=[recorder, capture])
    recorder.close()
    trace = read_trace(path)
    assert trace.events == capture.events
    run = trace.run()
    assert run.outcome == "completed"
    assert run.graph is not None
    assert {"src", "double"} <= {n.node_id for n in run.graph.nodes}
    emitted = [e for e in run.events if isinstance(e, DataEmitted) and e.node_id == "double"]
    assert emitted[-1].values == (42,)


def test_a_streaming_flow_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl.gz"
    recorder, capture = Recorder(path), Collector()
    with FlowHDL() as f:
        f.count = Count(5)
        f.total = Total(f.count)
    f.run_until_complete(instruments=[recorder, capture])
    recorder.close()
    assert f.total.get_data() == (10,)
    assert read_trace(path).events == capture.events
    summary = summarize_file(path)
    nodes = summary.runs[0].nodes
    assert nodes["count"].items == 5 and nodes["count"].kind == "stream"


SCRIPT = """
from flowtrace import FlowHDL, node

@node
async def Source(n: int) -> int:
    return n

@node
async def Fail(x: int) -> int:
    if x == 2:
        raise ValueError(f"cannot take {x}")
    return x

for n in (1, 2):
    with FlowHDL() as f:
        f.src = Source(n)
        f.fail = Fail(f.src)
    try:
        f.run_until_complete()
    except Exception as exc:
        print("flow failed:", type(exc).__name__)
"""


def test_a_script_running_two_flows_gives_two_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "two.py").write_text(textwrap.dedent(SCRIPT))
    result = CliRunner().invoke(cli, ["run", "two.py"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "(2 runs," in result.stderr
    trace = read_trace(tmp_path / "two.ftrace.jsonl")
    first, second = trace.runs.values()
    assert [first.outcome, second.outcome] == ["completed", "error"]
    for run in (first, second):
        assert isinstance(run.events[0], FlowStarted)
        assert any(isinstance(e, FlowFinished) for e in run.events)
    errors = [e for e in second.events if isinstance(e, NodeErrored)]
    assert errors[0].node_id == "fail" and errors[0].error.message == "cannot take 2"
    shown = CliRunner().invoke(cli, ["show", "two.ftrace.jsonl"], env={"COLUMNS": "160"})
    assert shown.exit_code == 0
    assert "error in run" in shown.stdout and "cannot take 2" in shown.stdout
