"""``flowtrace show``: a trace summarised as tables; damage explained in one line."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from click.testing import Result
from test_summary import flow_run

from flowtrace.events import ErrorInfo, Event, NodeErrored
from flowtrace.record import TraceWriter
from flowtrace.tracefile import make_header

Flowtrace = Callable[..., Result]


def write(path: Path, events: list[Event]) -> Path:
    writer = TraceWriter(path, make_header(["pipeline.py", "--fast"]))
    writer.write(events)
    writer.close()
    return path


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    return write(tmp_path / "t.ftrace.jsonl", flow_run() + flow_run("flow-2"))


def test_show_prints_runs_nodes_errors_deadlocks_cycles_and_cancellations(
    trace: Path, flowtrace: Flowtrace
) -> None:
    result = flowtrace("show", str(trace))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "40 events, 2 run(s)" in out
    assert "command: pipeline.py --fast" in out
    for title in (
        "Runs",
        "Nodes of flow-1",
        "Nodes of flow-2",
        "Deadlocks",
        "Cycles broken",
        "Streams cancelled",
    ):
        assert title in out
    assert "error (ValueError)" in out
    assert "error in run flow-1, node sink generation 0 (call)" in out
    assert "ValueError: boom" in out and "Traceback (most recent call last)" in out
    count_row = next(line for line in out.splitlines() if "count (Count)" in line)
    cells = [c.strip() for c in count_row.strip("│ ").split("│")]
    # node, kind, evaluations, generation, items, errors, total time, mean time
    assert cells == ["count (Count)", "mono", "2", "1", "-", "0", "4.0 µs", "2.0 µs"]


def test_show_can_focus_on_one_run_and_skip_tracebacks(trace: Path, flowtrace: Flowtrace) -> None:
    result = flowtrace("show", "--run", "flow-2", "--no-tracebacks", str(trace))
    assert result.exit_code == 0
    assert "Nodes of flow-2" in result.stdout and "Nodes of flow-1" not in result.stdout
    assert "Traceback" not in result.stdout
    result = flowtrace("show", "--run", "nope", str(trace))
    assert result.exit_code == 1
    assert "no run 'nope'" in result.stderr and "flow-1, flow-2" in result.stderr


def test_a_damaged_trace_is_one_line_error_unless_lenient(
    trace: Path, flowtrace: Flowtrace
) -> None:
    data = trace.read_bytes()
    trace.write_bytes(data[:-30])
    result = flowtrace("show", str(trace))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert f"{trace}:41: truncated line" in result.stderr
    assert "--lenient" in result.stderr
    result = flowtrace("show", "--lenient", str(trace))
    assert result.exit_code == 0
    assert "damaged trace" in result.stdout and "line 41" in result.stdout
    assert "incomplete" in result.stdout  # flow-2 lost its FlowFinished


def test_files_that_are_not_traces_are_refused_plainly(
    tmp_path: Path, flowtrace: Flowtrace
) -> None:
    result = flowtrace("show", str(tmp_path / "missing.ftrace.jsonl"))
    assert result.exit_code == 2 and "does not exist" in result.stderr
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    result = flowtrace("show", str(other))
    assert result.exit_code == 1
    assert "not a flowtrace trace" in result.stderr and "--lenient" not in result.stderr
    assert "Traceback" not in result.stderr


def test_values_options_are_mentioned(tmp_path: Path, flowtrace: Flowtrace) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    writer = TraceWriter(path, make_header(["x"], {"values": False, "redacted": True}))
    writer.close()
    result = flowtrace("show", str(path))
    assert "values were not recorded" in result.stdout
    assert "values were redacted" in result.stdout


def test_help(flowtrace: Flowtrace) -> None:
    result = flowtrace("show", "--help")
    assert result.exit_code == 0 and "--lenient" in result.stdout


def test_long_reads_show_progress_on_a_terminal(
    trace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowtrace._cli import show as show_module

    class Terminal:
        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> int:
            return len(text)

        def flush(self) -> None:
            pass

    monkeypatch.setattr(show_module, "_PROGRESS_BYTES", 0)
    monkeypatch.setattr("sys.stderr", Terminal())
    summary = show_module._summarize(str(trace), lenient=False)
    assert summary.events == 40


# ----------------------------------------------------------------------------- hostile files

ESCAPES = "\x1b]52;c;cHduZWQ=\x07\x1b]0;owned\x07\x1b[2J\x9b31m\u202e"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]")


def test_escapes_and_markup_from_a_trace_are_shown_not_obeyed(
    tmp_path: Path, flowtrace: Flowtrace
) -> None:
    events = flow_run()
    bad = [
        msgspec.structs.replace(
            e,
            error=ErrorInfo("Evil" + ESCAPES, ESCAPES + "[/x]", "Traceback\n" + ESCAPES + "[bold]"),
        )
        if isinstance(e, NodeErrored)
        else e
        for e in events
    ]
    bad = [msgspec.structs.replace(e, run_id="[/x]" + ESCAPES) for e in bad]
    writer = TraceWriter(tmp_path / "t.ftrace.jsonl", make_header(["evil.py", ESCAPES]))
    writer.write(bad)
    writer.close()
    for args in (["show"], ["show", "--lenient"], ["tui", "--summary"]):
        result = flowtrace(*args, str(tmp_path / "t.ftrace.jsonl"))
        assert result.exit_code == 0, result.output
        assert not UNSAFE.search(result.output), args
        assert "␛]52;c;cHduZWQ=␇" in result.stdout and "[/x]" in result.stdout


def test_a_newer_minor_schema_is_one_warning_line(tmp_path: Path, flowtrace: Flowtrace) -> None:
    path = write(tmp_path / "t.ftrace.jsonl", flow_run())
    lines = path.read_bytes().splitlines(keepends=True)
    head = json.loads(lines[0])
    head["schema"] = [head["schema"][0], head["schema"][1] + 1]
    path.write_bytes(json.dumps(head).encode() + b"\n" + b"".join(lines[1:]))
    result = flowtrace("show", str(path))
    assert result.exit_code == 0
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"flowtrace: warning: {path} was written by a newer")
    assert "UserWarning" not in result.stderr and "warnings.warn" not in result.stderr


def test_lenient_show_lists_every_skipped_line_with_its_reason(
    trace: Path, flowtrace: Flowtrace
) -> None:
    lines = trace.read_bytes().splitlines(keepends=True)
    lines[5] = b"{not json\n"
    lines[9] = b'{"kind":"Teleported"}\n'
    trace.write_bytes(b"".join(lines))
    result = flowtrace("show", "--lenient", str(trace))
    assert result.exit_code == 0
    out = result.stdout
    assert "2 bad line(s) skipped" in out
    assert f"{trace}:6: not valid JSON" in out
    assert f"{trace}:10: unknown event kind 'Teleported'" in out
    assert "40 events" not in out and "38 events" in out  # everything else was read
