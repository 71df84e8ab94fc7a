"""``flowtrace export`` to files: one pass, run by run, and a one-line error for a file it
cannot write."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from otel import scenarios as S

from flowtrace.cli import cli
from flowtrace.events import Event
from flowtrace.export import to_chrome, to_jaeger
from flowtrace.otel.mapping import MappingOptions, spans_from_events
from flowtrace.record import TraceWriter
from flowtrace.tracefile import make_header, read_trace


def runs(count: int, items: int = 1) -> list[Event]:
    """``count`` runs one after the other, each a solo node evaluated ``items`` times."""
    events: list[Event] = []
    for i in range(count):
        run = S.Run(S.info("solo"), run_id=f"solo-{i}")
        for g in range(items):
            run.schedule("solo")
            run.evaluate("solo", g, output=f"value {g} of run {i} " + "x" * 200)
        run.finish()
        events.extend(run.events)
    return events


def write(path: Path, events: list[Event]) -> str:
    writer = TraceWriter(path, make_header(["x.py"]))
    writer.write(events)
    writer.close()
    return str(path)


def export(*args: str) -> Result:
    return CliRunner().invoke(cli, ["export", *args])


def test_files_hold_what_the_in_memory_writers_produce(tmp_path: Path) -> None:
    events = [*S.dag().events, *runs(3, 2)]
    trace = write(tmp_path / "t.ftrace.jsonl", events)
    jaeger, chrome = tmp_path / "j.json", tmp_path / "c.json"
    result = export(
        trace, "--to", "jaeger-json", str(jaeger), "--to", "chrome", str(chrome), "--seed", "7"
    )
    assert result.exit_code == 0, result.output
    header = read_trace(trace).header  # what the command mixes in: the script, the recording
    spans = spans_from_events(
        events,
        MappingOptions(max_events_per_span=1024, flow_name="x"),
        seed=7,
        salt=f"{header.wall_time_ns}:{header.pid}",
    )
    expected = json.loads(json.dumps(to_jaeger(spans)))
    got = json.loads(jaeger.read_text())
    assert set(got) == set(expected)
    key = lambda t: t["traceID"]  # noqa: E731 - runs come in the order they ended
    assert sorted(got["data"], key=key) == sorted(expected["data"], key=key)

    def canon(d: dict[str, Any]) -> list[str]:
        return sorted(json.dumps(e, sort_keys=True) for e in d["traceEvents"])

    expected_chrome = json.loads(json.dumps(to_chrome(spans)))
    got_chrome = json.loads(chrome.read_text())
    assert canon(got_chrome) == canon(expected_chrome)
    assert got_chrome["otherData"] == expected_chrome["otherData"]


def _peak_bytes(trace: str, out: Path) -> int:
    tracemalloc.start()
    try:
        result = export(trace, "--to", "chrome", str(out), "--to", "jaeger-json", str(out) + ".j")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0, result.output
    return peak


def test_memory_holds_one_run_at_a_time_not_the_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flowtrace.tracefile.reader

    monkeypatch.setattr(flowtrace.tracefile.reader, "_BLOCK", 32 << 10)  # the reader's part: small
    small = write(tmp_path / "small.ftrace.jsonl", runs(25, 4))
    big = write(tmp_path / "big.ftrace.jsonl", runs(200, 4))
    assert os.path.getsize(big) > 7 * os.path.getsize(small)
    _peak_bytes(small, tmp_path / "warm.json")  # imports and caches
    small_peak = _peak_bytes(small, tmp_path / "s.json")
    big_peak = _peak_bytes(big, tmp_path / "b.json")
    # holding every event (or span) would make the peak grow with the trace (8x here)
    assert big_peak < 1.5 * small_peak + 2_000_000, (small_peak, big_peak)


def test_a_full_disk_is_a_one_line_error(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    trace = write(tmp_path / "t.ftrace.jsonl", runs(3))
    result = export(trace, "--to", "chrome", "/dev/full")
    assert result.exit_code == 1
    assert result.output == "Error: cannot write /dev/full: No space left on device\n"


def test_a_place_that_cannot_be_written_is_a_one_line_error_and_nothing_is_left(
    tmp_path: Path,
) -> None:
    trace = write(tmp_path / "t.ftrace.jsonl", runs(3))
    good = tmp_path / "good.json"
    bad = tmp_path / "missing" / "c.json"
    result = export(trace, "--to", "jaeger-json", str(good), "--to", "chrome", str(bad))
    assert result.exit_code == 1
    assert result.output == f"Error: cannot write {bad}: No such file or directory\n"
    assert not good.exists()  # a partial export is removed
    assert isinstance(result.exception, SystemExit)


def test_a_disk_that_fills_up_in_the_middle_is_one_line_and_removes_the_partial_file(
    tmp_path: Path,
) -> None:
    trace = write(tmp_path / "t.ftrace.jsonl", runs(40))
    out = tmp_path / "c.json"

    def small_disk() -> None:  # files may not grow past 20 kB: writes fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    done = subprocess.run(
        [sys.executable, "-m", "flowtrace.cli", "export", trace, "--to", "chrome", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=small_disk,
        # not measured by coverage: its data file would hit the same limit
        env={k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")},
    )
    assert done.returncode == 1
    assert done.stderr == f"Error: cannot write {out}: File too large\n"
    assert not out.exists()


def test_the_trace_itself_is_never_the_target(tmp_path: Path) -> None:
    trace = write(tmp_path / "t.ftrace.jsonl", runs(1))
    before = Path(trace).read_bytes()
    result = export(trace, "--to", "chrome", trace)
    assert result.exit_code == 1 and "is the trace being exported" in result.output
    assert result.output.count("\n") == 1
    assert Path(trace).read_bytes() == before


def test_a_damaged_trace_is_exported_leniently_with_one_warning_line(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    write(path, runs(2))
    lines = path.read_bytes().splitlines(keepends=True)
    lines[3] = b"{broken\n"
    path.write_bytes(b"".join(lines))
    out = tmp_path / "j.json"
    result = CliRunner().invoke(cli, ["export", str(path), "--to", "jaeger-json", str(out)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "1 bad line(s) skipped" in warnings[0]
    assert "the first at line 4" in warnings[0]
    assert len(json.loads(out.read_text())["data"]) == 2
