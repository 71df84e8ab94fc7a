"""``flowtrace.diff`` on real runs: where two runs part ways and what differs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from flowtrace import events as ev
from flowtrace.diff import RunChoiceError, diff_events, diff_files, load_pair
from flowtrace.diff.report import compare
from flowtrace.record import TraceWriter
from flowtrace.testing.render import event_types_for, render_lines
from flowtrace.tracefile import TraceFormatError, make_header, read_trace

Trace = Callable[..., str]


def test_two_recordings_of_the_same_program_agree(trace: Trace) -> None:
    report = diff_files(trace("a"), trace("b"))
    assert report.agree and report.lines_agree
    assert report.divergence_count == 0 and report.first is None
    assert report.a.lines == report.b.lines > 50
    assert not (report.evaluations or report.values or report.errors or report.cycle_breaks)
    assert report.exit_status == 0


def test_a_changed_value_is_the_first_divergence_with_its_node_and_generation(trace: Trace) -> None:
    report = diff_files(trace("a"), trace("b", {"glitch_at": 1}))
    first = report.first
    assert first is not None and first.kind == "changed"
    assert first.a_lines == ("out emitted (1,): 6",)
    assert first.b_lines == ("out emitted (1,): -1",)
    assert first.nodes == ("out",) and first.generations == (("out", (1,)),)
    assert first.a_start == first.b_start and first.a_seq is not None
    assert first.context and all(
        line in render_lines(read_trace(report.a.path).events) for line in first.context
    )
    assert report.divergence_count == 1  # the sink's value goes nowhere
    assert [(v.node, v.generation, v.a, v.b) for v in report.values] == [("out", (1,), "6", "-1")]
    assert report.exit_status == 1


def test_an_extra_generation_shows_as_that_and_not_as_every_later_line(trace: Trace) -> None:
    report = diff_files(trace("a"), trace("b", {"limit": 4}))
    assert report.divergence_count == 1
    first = report.first
    assert first is not None
    assert first.a_lines[0].startswith("increment reached its generation limit at (3,)")
    assert first.b_lines[0] == "increment finished (3,): completed; now waiting (run level 0)"
    assert ("increment", (4,)) in first.generations
    assert {(c.node, c.a, c.b) for c in report.evaluations} == {
        ("increment", 4, 5),
        ("double", 3, 4),
        ("out", 3, 4),
    }
    assert ("increment", (4,), None, "31") in {
        (v.node, v.generation, v.a, v.b) for v in report.values
    }
    # the common end of both runs is aligned as common, not as changed
    assert report.lines_differing[0] < 5


def test_an_error_in_one_run_only_is_listed_with_where_it_happened(trace: Trace) -> None:
    report = diff_files(trace("a"), trace("b", {"fail_at": 6}))
    assert [(e.node, e.generation, e.phase, e.error, e.a, e.b) for e in report.errors] == [
        ("increment", (2,), "call", "ValueError: too big: 6", 0, 1)
    ]
    assert report.b.outcome == "error" and report.a.outcome == "limit"
    first = report.first
    assert first is not None and first.nodes[0] == "increment"
    assert any("errored" in line for line in first.b_lines)


def test_two_independent_evaluations_swapped_at_the_scheduling_level_are_a_move(
    trace: Trace,
) -> None:
    a = trace("a", {"flow": "race"})
    b = trace("b", {"flow": "race", "x_delay": 3.0})
    report = diff_files(a, b, level="scheduling")
    assert not report.agree
    first = report.first
    assert first is not None and first.kind == "moved" and first.moved_to == 1
    assert set(first.nodes) == {"x", "y"}
    assert report.divergences[1].kind == "moved"
    # the same evaluations with the same values, only in another order
    assert not report.evaluations and not report.values and not report.errors


def _timed_run(run_id: str, durations: dict[str, int]) -> list[ev.Event]:
    """A hand-made run where node ``n``'s evaluation takes ``durations[n]`` ns."""
    events: list[ev.Event] = []
    t = 1_000_000

    def emit(cls: type[ev.Event], *fields: object) -> None:
        events.append(cls(len(events), t, run_id, *fields))

    nodes = tuple(ev.NodeInfo(n, n.title(), "mono", False, False, (), 1) for n in durations)
    emit(ev.FlowStarted, "flow-0", 0, ev.GraphInfo(nodes))
    for n, took in durations.items():
        for g in range(3):
            emit(ev.NodeStarted, n, (g,), 0)
            t += took
            emit(ev.DataEmitted, n, (g,), 0, (g,), 0, False)
            emit(ev.NodeFinished, n, (g,), 0, "completed")
            t += 1000
    emit(ev.FlowFinished, "flow-0", "completed", None, None, None)
    return events


def _write(path: Path, events: list[ev.Event]) -> str:
    writer = TraceWriter(str(path), make_header(["test"]))
    writer.write(events)
    writer.close()
    return str(path)


def test_a_pure_timing_regression_is_flagged_and_counts_only_when_asked(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.ftrace.jsonl", _timed_run("flow-1", {"p": 1_000_000, "q": 500_000}))
    b = _write(tmp_path / "b.ftrace.jsonl", _timed_run("flow-1", {"p": 1_000_000, "q": 900_000}))
    shown = diff_files(a, b)
    assert shown.lines_agree and shown.agree  # timing alone does not make runs differ...
    checked = diff_files(a, b, slower=1.5, timing_checked=True)
    assert not checked.agree and checked.exit_status == 1  # ...unless --slower is given
    flags = {t.node: (t.flag, round(t.ratio or 0, 2)) for t in checked.timing}
    assert flags == {"p": (None, 1.0), "q": ("slower", 1.8)}
    assert checked.timing[1].a_mean_ns == 500_000 and checked.timing[1].b_mean_ns == 900_000
    assert diff_files(a, b, slower=2.0, timing_checked=True).agree
    faster = diff_files(b, a, slower=1.5, timing_checked=True)
    assert [t.flag for t in faster.timing] == [None, "faster"]


def test_tiny_timing_changes_are_noise_below_the_minimum_delta(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.ftrace.jsonl", _timed_run("flow-1", {"p": 1_000}))
    b = _write(tmp_path / "b.ftrace.jsonl", _timed_run("flow-1", {"p": 5_000}))
    assert diff_files(a, b, timing_checked=True).agree
    assert not diff_files(a, b, timing_checked=True, min_delta_ns=1_000).agree


def test_two_runs_of_one_trace_are_compared_by_number_or_id(trace: Trace) -> None:
    path = trace("both", {}, {"limit": 4})
    report = diff_files(path, path, a_run="1", b_run="2")
    assert (report.a.run_number, report.b.run_number) == (1, 2)
    assert {(c.node, c.a, c.b) for c in report.evaluations} >= {("increment", 4, 5)}
    ids = [report.a.run_id, report.b.run_id]
    assert diff_files(path, path, a_run=ids[0], b_run=ids[1]).divergence_count == 1
    with pytest.raises(RunChoiceError, match="holds 2 runs"):
        diff_files(path, trace("one"))
    with pytest.raises(RunChoiceError, match="no run '3'"):
        diff_files(path, path, a_run="1", b_run="3")


def test_a_damaged_file_is_named_with_its_line(trace: Trace, tmp_path: Path) -> None:
    good = trace("good")
    lines = Path(good).read_bytes().splitlines(keepends=True)
    damaged = tmp_path / "damaged.ftrace.jsonl"
    damaged.write_bytes(
        b"".join(lines[:20]) + b'{"kind":"NodeStarted","seq":' + b"".join(lines[21:])
    )
    with pytest.raises(TraceFormatError) as info:
        diff_files(good, str(damaged))
    assert info.value.path == str(damaged) and info.value.line == 21
    cut = tmp_path / "cut.ftrace.jsonl"
    cut.write_bytes(b"".join(lines)[:-15])
    with pytest.raises(TraceFormatError, match="truncated") as info:
        diff_files(str(cut), str(cut))
    assert info.value.line == len(lines)
    lenient = diff_files(good, str(cut), lenient=True)
    assert lenient.b.lines == lenient.a.lines - 1


def test_a_line_that_looks_like_an_event_but_does_not_decode_is_reported(
    trace: Trace, tmp_path: Path
) -> None:
    good = trace("good")
    text = Path(good).read_text()
    bad = tmp_path / "bad.ftrace.jsonl"
    # still matches the raw scan's pattern, but is not valid JSON: found when rendered
    assert '"port":null}' in text  # a NodeStatusChanged, decoded only to be rendered
    bad.write_text(text.replace('"port":null}', '"port":null,}', 1))
    with pytest.raises(TraceFormatError, match="not valid JSON"):
        diff_files(good, str(bad))


def test_the_raw_scan_and_the_reader_give_the_same_report(trace: Trace) -> None:
    pairs = [
        (trace("a"), trace("b", {"limit": 4})),
        (trace("c"), trace("d", {"step": 2})),
        (trace("e"), trace("f", {"fail_at": 6})),
    ]
    for a_path, b_path in pairs:
        for level in ("evaluations", "scheduling", "full"):
            fast = compare(*load_pair(a_path, b_path, level=level))
            slow = compare(*load_pair(a_path, b_path, level=level, raw=False))
            assert fast == slow


def test_lines_are_those_of_the_canonical_renderer(trace: Trace) -> None:
    path = trace("a", {"limit": 2})
    events = read_trace(path).events
    for level in ("evaluations", "scheduling", "full"):
        side, _ = load_pair(path, path, level=level)
        assert [side.text(i) for i in range(side.count)] == render_lines(events, level)
        wanted = event_types_for(level)
        assert list(side.seqs) == [e.seq for e in events if wanted is None or type(e) in wanted]


def test_automatic_node_ids_numbered_differently_still_agree(tmp_path: Path) -> None:
    # The canonical lines count automatic ids (``Label#N``) from 0 in each run, so runs
    # whose ids were numbered from elsewhere agree; the raw comparison, which sees the
    # ids as written, must not be trusted then.
    first = _timed_run("flow-1", {"P#0": 1000, "P#1": 1000})
    later = _timed_run("flow-7", {"P#4": 1000, "P#5": 1000})
    a = _write(tmp_path / "a.ftrace.jsonl", first)
    b = _write(tmp_path / "b.ftrace.jsonl", later)
    report = diff_files(a, b)
    assert report.agree and report.a.lines == report.b.lines > 10
    assert diff_events(first, later).agree
    changed = _timed_run("flow-7", {"P#4": 1000, "P#6": 1000})  # P#6 second: still P#1
    assert diff_events(first, changed).agree
    swapped = _timed_run("flow-7", {"P#5": 1000, "P#4": 1000})  # registered in the other order
    assert diff_events(first, swapped).agree


def test_a_line_written_alike_but_renamed_differently_is_a_difference(tmp_path: Path) -> None:
    # Both files write "X#1 started", but B registered X#1 first, so its canonical id
    # is X#0 there: the same bytes, different lines.
    def run(order: tuple[str, ...]) -> list[ev.Event]:
        nodes = tuple(ev.NodeInfo(n, "X", "mono", False, False, (), 1) for n in order)
        return [
            ev.FlowStarted(0, 0, "flow-1", "flow-0", 0, ev.GraphInfo(nodes)),
            ev.NodeStarted(1, 10, "flow-1", "X#1", (0,), 0),
            ev.NodeFinished(2, 20, "flow-1", "X#1", (0,), 0, "completed"),
        ]

    a = _write(tmp_path / "a.ftrace.jsonl", run(("X#0", "X#1")))
    b = _write(tmp_path / "b.ftrace.jsonl", run(("X#1", "X#0")))
    report = diff_files(a, b, level="evaluations")
    assert not report.agree
    assert report.first is not None and report.first.a_lines[0] == "X#1 started (0,)"
    assert report.first.b_lines[0] == "X#0 started (0,)"


def test_runs_that_agree_are_compared_without_rendering_their_lines(trace: Trace) -> None:
    # Recorded in one process, the runs differ in flow ids and wall-clock times, which
    # the canonical lines leave out: the raw comparison steps over those lines.
    a, b = load_pair(trace("a", {"limit": 30}), trace("b", {"limit": 30}))
    assert a.keys is not None and b.keys is not None and a.keys[0] != b.keys[0]
    report = compare(a, b)
    assert report.agree and a.count > 500
    rendered = [i for i, text in enumerate(a.texts) if text is not None]
    assert len(rendered) <= 4, rendered


def _scheduling_run(run_id: str, *, breaks: int, cancelled: bool, b: str = "b") -> list[ev.Event]:
    events: list[ev.Event] = []

    def emit(cls: type[ev.Event], *fields: object) -> None:
        events.append(cls(len(events), len(events) * 10, run_id, *fields))

    nodes = tuple(ev.NodeInfo(n, n.title(), "mono", False, False, (), 1) for n in ("a", b))
    emit(ev.FlowStarted, "flow-0", 0, ev.GraphInfo(nodes))
    for _ in range(breaks):
        emit(ev.SolutionFound, "a", ("a",), (("a", b),), (ev.CycleBreak("a", ("a", b), (0,)),))
    if cancelled:
        emit(ev.StreamCancelRequested, b, 0, "a", (0,), False)
        emit(ev.StreamCancelled, "a", (0,), (b,), False)
    emit(ev.FlowFinished, "flow-0", "completed", None, None, None)
    return events


def test_cycle_breaks_and_cancellations_that_differ_are_listed() -> None:
    report = diff_events(
        _scheduling_run("r1", breaks=1, cancelled=False),
        _scheduling_run("r2", breaks=2, cancelled=True),
    )
    assert [(c.node, c.members, c.defaulted_ports, c.a, c.b) for c in report.cycle_breaks] == [
        ("a", ("a", "b"), (0,), 1, 2)
    ]
    assert [(c.producer, c.generation, c.what, c.a, c.b) for c in report.cancellations] == [
        ("a", (0,), "cancel requested by b", 0, 1),
        ("a", (0,), "cancelled, ended by b", 0, 1),
    ]
    # scheduling facts: not compared at the evaluations level, where these lines are not
    evaluations = diff_events(
        _scheduling_run("r1", breaks=1, cancelled=False),
        _scheduling_run("r2", breaks=2, cancelled=True),
        level="evaluations",
    )
    assert evaluations.agree and not evaluations.cycle_breaks
    assert not evaluations.cancellations
    # an automatic id is named as the lines name it (B#4 is the run's first B: B#0)
    renamed = diff_events(
        _scheduling_run("r1", breaks=0, cancelled=False, b="B#0"),
        _scheduling_run("r2", breaks=1, cancelled=True, b="B#4"),
    )
    assert [c.members for c in renamed.cycle_breaks] == [("a", "B#0")]
    assert [c.what for c in renamed.cancellations] == [
        "cancel requested by B#0",
        "cancelled, ended by B#0",
    ]


def test_compressed_traces_and_blocks_holding_two_runs_read_like_plain_ones(
    trace: Trace, tmp_path: Path
) -> None:
    import gzip

    plain = trace("both", {}, {"limit": 4})
    packed = tmp_path / "both.ftrace.jsonl.gz"
    packed.write_bytes(gzip.compress(Path(plain).read_bytes()))
    for a_path, b_path in ((plain, str(packed)), (str(packed), str(packed))):
        fast = compare(*load_pair(a_path, b_path, a_run="1", b_run="2"))
        slow = compare(*load_pair(a_path, b_path, a_run="1", b_run="2", raw=False))
        assert fast == slow and fast.divergence_count == 1
    assert diff_files(plain, str(packed), a_run="2", b_run="2").agree


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("example", ["hello", "cycle", "error", "streaming", "cancel", "deadlock"])
def test_a_schema_1_trace_and_a_2_0_recording_of_the_same_example_agree(
    example: str, tmp_path: Path
) -> None:
    # The 1.x fixture is read upgraded to 2.0; its canonical lines, at every level,
    # are those of the same example recorded today: the folds lost nothing.
    old = ROOT / "tests" / "fixtures" / "schema1" / f"{example}.ftrace.jsonl"
    new = tmp_path / f"{example}.ftrace.jsonl"
    script = str(ROOT / "examples" / f"{example}.py")
    done = subprocess.run(
        [sys.executable, "-m", "flowtrace.cli", "run", "--record", str(new), script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert new.exists(), done.stderr
    for level in ("evaluations", "scheduling", "full"):
        report = diff_files(str(old), str(new), level=level)
        assert report.lines_agree, (level, report.first)
        assert report.a.lines == report.b.lines > 5
        assert not (report.values or report.errors or report.evaluations)
