"""``flowtrace diff`` on the command line: exit status, JSON, escaping, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from flowtrace import events as ev
from flowtrace.cli import cli
from flowtrace.record import TraceWriter
from flowtrace.tracefile import make_header

Trace = Callable[..., str]


def flowtrace(*args: str) -> Result:
    return CliRunner().invoke(cli, ["diff", *args], terminal_width=200)


def test_runs_that_agree_exit_0_and_say_so(trace: Trace) -> None:
    result = flowtrace(trace("a"), trace("b"))
    assert result.exit_code == 0, result.output
    assert "The runs agree at the scheduling level" in result.output
    # The verdict is the last line; under load it may add "(timing: … flagged …)",
    # which never changes the exit status without --slower.
    assert result.output.rstrip().splitlines()[-1].startswith("agree")


def test_runs_that_differ_exit_1_and_start_with_the_first_divergence(trace: Trace) -> None:
    result = flowtrace(trace("a"), trace("b", {"glitch_at": 2}))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("First divergence"))
    assert "involves: out (2,)" in lines[first + 1]
    assert any(line.startswith("A ") and "out emitted (2,): 14" in line for line in lines)
    assert any(line.startswith("B ") and "out emitted (2,): -1" in line for line in lines)
    assert "Values that differ" in result.output
    assert "differ: 1 place(s) differ at the scheduling level" in result.output


def test_json_report_for_scripts(trace: Trace) -> None:
    result = flowtrace(trace("a"), trace("b", {"limit": 4}), "--json", "--level", "evaluations")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["agree"] is False and report["level"] == "evaluations"
    first = report["first_divergence"]
    assert first["kind"] in ("changed", "only in A", "only in B")
    assert {"node": "increment", "a": 4, "b": 5} in report["evaluations"]
    assert report["a"]["run"] == 1 and report["b"]["outcome"] == "limit"
    assert report["timing"]["checked"] is False


def test_slower_makes_a_timing_regression_fail(tmp_path: Path) -> None:
    def run(took: int) -> str:
        events: list[ev.Event] = [
            ev.FlowStarted(
                0,
                0,
                "flow-1",
                "flow-0",
                0,
                ev.GraphInfo((ev.NodeInfo("p", "P", "mono", False, False, (), 1),)),
            ),
            ev.NodeStarted(1, 1000, "flow-1", "p", (0,), 0),
            ev.NodeFinished(2, 1000 + took, "flow-1", "p", (0,), 0, "completed"),
        ]
        path = tmp_path / f"{took}.ftrace.jsonl"
        writer = TraceWriter(str(path), make_header(["test"]))
        writer.write(events)
        writer.close()
        return str(path)

    a, b = run(1_000_000), run(3_000_000)
    assert flowtrace(a, b).exit_code == 0
    result = flowtrace(a, b, "--slower", "1.5")
    assert result.exit_code == 1
    assert "3.00x" in result.output and "slower" in result.output
    assert "1 node(s) changed speed by 1.5x or more" in result.output
    assert flowtrace(a, b, "--slower", "4").exit_code == 0


def test_two_runs_of_one_file(trace: Trace) -> None:
    path = trace("both", {}, {"limit": 4})
    assert flowtrace(path, "--run", "1", "--run", "2").exit_code == 1
    assert flowtrace(path, "--run", "1", "--run", "1").exit_code == 0
    result = flowtrace(path)
    assert result.exit_code == 2 and "choose two of its runs" in result.output
    result = flowtrace(path, trace("one"))
    assert result.exit_code == 2 and "holds 2 runs" in result.output


def test_bad_input_exits_2_naming_the_file_and_line(trace: Trace, tmp_path: Path) -> None:
    good = trace("good")
    missing = flowtrace(good, str(tmp_path / "nope.ftrace.jsonl"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    damaged = tmp_path / "damaged.ftrace.jsonl"
    lines = Path(good).read_bytes().splitlines(keepends=True)
    damaged.write_bytes(b"".join(lines[:7]) + b"garbage\n" + b"".join(lines[8:]))
    result = flowtrace(good, str(damaged))
    assert result.exit_code == 2
    assert f"{damaged}:8: not valid JSON" in result.output
    assert "--lenient" in result.output and "Traceback" not in result.output
    not_a_trace = tmp_path / "notes.txt"
    not_a_trace.write_text("hello\n")
    result = flowtrace(str(not_a_trace), good)
    assert result.exit_code == 2 and "not a flowtrace trace" in result.output
    assert flowtrace(good, good, "--slower", "0.5").exit_code == 2


def test_trace_text_is_printed_literally_never_as_markup_or_control_codes(tmp_path: Path) -> None:
    def run(value: str) -> str:
        node = "[bold red]n\x1b]0;title\x07"
        events: list[ev.Event] = [
            ev.FlowStarted(
                0,
                0,
                "flow-1",
                "flow-0",
                0,
                ev.GraphInfo((ev.NodeInfo(node, "N", "mono", False, False, (), 1),)),
            ),
            ev.NodeStarted(1, 10, "flow-1", node, (0,), 0),
            ev.DataEmitted(2, 20, "flow-1", node, (0,), 0, (value,), 0, False),
            ev.NodeFinished(3, 30, "flow-1", node, (0,), 0, "completed"),
        ]
        path = tmp_path / f"{len(value)}.ftrace.jsonl"
        writer = TraceWriter(str(path), make_header(["test"]))
        writer.write(events)
        writer.close()
        return str(path)

    result = flowtrace(run("ok"), run("\x1b[31m[link=x]red"))
    assert result.exit_code == 1
    out = result.output
    assert "\x1b" not in out and "\x07" not in out
    assert "[bold red]n\\x1b]0;title\\x07" in out
    assert "\\x1b[31m[link=x]red" in out
