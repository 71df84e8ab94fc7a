"""Opening trace files: loading in a worker, several runs, damaged files, the CLI."""

from __future__ import annotations

import sys
import threading
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest
import scenarios as S
from click.testing import CliRunner

from flowtrace.cli import cli
from flowtrace.events import Event
from flowtrace.record import TraceWriter
from flowtrace.tracefile import make_header
from flowtrace.tui import ReplayApp, Runs, load_into
from flowtrace.tui.snapshot import screen_text
from flowtrace.tui.timeline import Timeline

from .tui_helpers import SIZE, run_async


def write_trace(path: Path, events: list[Event]) -> Path:
    writer = TraceWriter(str(path), make_header(["test"]))
    writer.write(events)
    writer.close()
    return path


def interleaved() -> list[Event]:
    a, b = S.chain(), S.cycle(2)
    return [*a[:10], *b[:20], *a[10:], *b[20:]]


def test_load_into_groups_runs_and_matches_events_in_memory(tmp_path: Path) -> None:
    events = interleaved()
    path = write_trace(tmp_path / "two.ftrace.jsonl", events)
    runs = Runs()
    seen: list[float] = []
    load_into(runs, path, on_chunk=seen.append, chunk=7)
    assert runs.ids == ["run-chain", "run-cycle"]
    assert list(runs.replays["run-cycle"].events()) == S.cycle(2)
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) > 2
    assert runs.damage is None


def test_app_loads_a_file_in_a_worker_and_opens_the_first_run(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "two.ftrace.jsonl", interleaved())
    app = ReplayApp(path=str(path), name=path.name, debounce=0)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.loading is None
            assert app.nav is not None and app.replay.run_id == "run-chain"
            assert len(app.replay) == len(S.chain())
            top = screen_text(app).splitlines()[0]
            assert "two.ftrace.jsonl" in top and "(1/2, r: switch)" in top
            await pilot.press("end")
            assert app.nav.cursor == len(S.chain()) - 1

    run_async(main)


def test_a_damaged_file_opens_up_to_its_last_good_event(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "cut.ftrace.jsonl", S.chain())
    with path.open("ab") as f:
        f.write(b'{"kind": "NodeStarted", "seq": 31, "t_')
    app = ReplayApp(path=str(path), name=path.name, debounce=0)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert len(app.replay) == len(S.chain())
            assert app.runs.damage is not None
            assert "damaged" in screen_text(app).splitlines()[0]

    run_async(main)


def test_a_file_that_is_not_a_trace_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    app = ReplayApp(path=str(path), name=path.name, debounce=0)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.nav is None and app.load_error is not None
            assert "not a flowtrace trace" in app.load_error
            await pilot.press("down", "e", "question_mark")  # keys do nothing harmful

    run_async(main)


def test_cli_without_a_terminal_prints_the_summary(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "err.ftrace.jsonl", S.stream_cancel_error())
    result = CliRunner().invoke(cli, ["tui", str(path)])
    assert result.exit_code == 0, result.output
    assert "not a terminal" in result.output
    assert "ValueError" in result.output and "check" in result.output


def test_cli_rejects_a_file_that_is_not_a_trace(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    result = CliRunner().invoke(cli, ["tui", str(path)])
    assert result.exit_code != 0
    assert "not a flowtrace trace" in result.output
    assert "Traceback" not in result.output


def test_cli_rejects_arguments_after_a_trace(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "a.ftrace.jsonl", S.chain())
    result = CliRunner().invoke(cli, ["tui", str(path), "extra"])
    assert result.exit_code == 2 and "only allowed after a script" in result.output


def test_importing_flowtrace_and_the_cli_does_not_load_textual() -> None:
    import subprocess
    import sys

    code = (
        "import sys, flowtrace, flowtrace.replay, flowtrace.cli, flowtrace._cli.tui; "
        "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_records_a_script_first_then_opens_its_trace(tmp_path: Path) -> None:
    script = tmp_path / "tiny.py"
    script.write_text(
        "import sys\n"
        "from flowtrace import FlowHDL, node\n\n"
        "@node\nasync def Inc(x: int = 0) -> int:\n    return x + int(sys.argv[1])\n\n"
        "with FlowHDL() as f:\n    f.a = Inc()\n    f.b = Inc(f.a)\n"
        "f.run_until_complete()\n"
    )
    trace = tmp_path / "tiny.ftrace.jsonl"
    result = CliRunner().invoke(cli, ["tui", "--summary", "--record", str(trace), str(script), "5"])
    assert result.exit_code == 0, result.output
    assert trace.exists()
    runs = Runs()
    load_into(runs, trace)
    [run_id] = runs.ids
    assert runs.replays[run_id].final_state().outputs() == {"a": (5,), "b": (10,)}


def _lanes(timeline: Timeline) -> dict[str, object]:
    """Everything a timeline answers from, as plain lists (to compare two)."""
    out: dict[str, object] = {"times": list(timeline.times), "open": timeline.open_nodes()}
    for node, lane in timeline.lanes.items():
        for kind, spans in lane.spans.items():
            out[f"{node}/{kind}"] = [
                list(a)
                for a in (spans.starts, spans.ends, spans.maxend, spans.seqs, spans.end_seqs)
            ] + [list(spans.cum)]
        for kind, points in lane.points.items():
            out[f"{node}/{kind}/points"] = [list(points.times), list(points.seqs)]
    return out


def _clock_steps_back(events: list[Event]) -> list[Event]:
    """The same run with its clock stepping back now and then (flattened by both)."""
    return [
        msgspec.structs.replace(e, t_ns=e.t_ns - 5_000_000) if i % 5 == 4 else e
        for i, e in enumerate(events)
    ]


def test_timelines_fed_while_loading_equal_timelines_built_from_the_replays(
    tmp_path: Path,
) -> None:
    for name, events in (
        ("two", interleaved()),  # two runs: chunks split by run
        ("stream", S.stream_cancel_error()),  # one run: stalls, items, errors, waits
        ("cut", S.stream_cancel_error()[:-7]),  # ends with a node still executing
        ("clock", _clock_steps_back(S.stream_cancel_error())),
    ):
        path = write_trace(tmp_path / f"{name}.ftrace.jsonl", events)
        fed = Runs(feed_timelines=True)
        load_into(fed, path, chunk=7, first_chunk=3)
        assert fed.ids
        for run_id in fed.ids:
            timeline = fed.timelines[run_id]
            assert timeline.fed and len(timeline) == len(fed.replays[run_id])
            built = Timeline()
            built.update(fed.replays[run_id])
            assert _lanes(timeline) == _lanes(built), (name, run_id)


def test_the_loader_builds_the_timeline_off_the_ui_thread_after_the_first_screen(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import flowtrace.tui.app_loading as loading

    events = S.cycle(20)
    path = write_trace(tmp_path / "cycle.ftrace.jsonl", events)
    monkeypatch.setattr(loading, "load_into", partial(load_into, chunk=9, first_chunk=4))
    feeders: list[int] = []
    feed = Timeline.feed

    def spy(self: Timeline, replay: Any, evs: Any) -> None:
        feeders.append(threading.get_ident())
        feed(self, replay, evs)

    monkeypatch.setattr(Timeline, "feed", spy)
    app = ReplayApp(path=str(path), name=path.name, debounce=0)
    at_first: list[int] = []
    shown_first = app._shown_first

    def first() -> None:
        at_first.append(len(app.replay))
        shown_first()

    monkeypatch.setattr(app, "_shown_first", first)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.first_shown_at is not None and app.nav is not None
            # the first screen showed the first chunk: the loader waited for it
            assert at_first == [4]
            assert len(app.replay) == len(events) and len(app.nav.timeline) == len(events)
            assert app.nav.timeline.fed
            await pilot.press("end", "z")  # keys work on the fed timeline
            assert app.nav.cursor == events[-1].seq

    run_async(main)
    assert feeders and threading.get_ident() not in feeders


def _loaded(path: Path, **kw: Any) -> tuple[object, ...]:
    runs = Runs(feed_timelines=True)
    seen: list[float] = []
    load_into(runs, path, on_chunk=seen.append, chunk=7, first_chunk=3, **kw)
    assert seen[-1] == 1.0 and seen == sorted(seen)
    return (
        runs.ids,
        {r: list(runs.replays[r].events()) for r in runs.ids},
        {r: _lanes(runs.timelines[r]) for r in runs.ids},
        runs.damage,
        runs.skipped,
        runs.notes,
    )


def _damaged(tmp_path: Path) -> Path:
    """Two runs, a bad line in the middle and a line cut short at the end."""
    path = write_trace(tmp_path / "damaged.ftrace.jsonl", interleaved())
    lines = path.read_bytes().split(b"\n")
    lines.insert(20, b'{"kind": "NodeStarted", "seq": oops}')
    path.write_bytes(b"\n".join(lines) + b'{"kind": "NodeStarted", "seq": 31, "t_')
    return path


def test_a_helper_process_reads_the_same_runs_damage_and_lanes_as_one_thread(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import flowtrace.tui.loader as loader

    finished: list[bool] = []
    read_helper = loader._read_helper

    def spy(*args: Any) -> bool:
        finished.append(read_helper(*args))
        return finished[-1]

    monkeypatch.setattr(loader, "_read_helper", spy)
    for path in (
        write_trace(tmp_path / "two.ftrace.jsonl", interleaved()),
        write_trace(tmp_path / "one.ftrace.jsonl", S.stream_cancel_error()),
        write_trace(tmp_path / "short.ftrace.jsonl", S.chain()[:3]),  # the first chunk only
        _damaged(tmp_path),
    ):
        here = _loaded(path, helper=False)
        finished.clear()
        assert _loaded(path, helper=True) == here, path.name
        assert finished == [True], path.name  # the helper read it all (no fallback)
    assert _loaded(_damaged(tmp_path), helper=True)[3] is not None  # damage is reported


def test_a_helper_that_dies_or_cannot_start_leaves_the_rest_to_the_loading_thread(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import flowtrace.tui.loader as loader

    path = _damaged(tmp_path)
    here = _loaded(path, helper=False)
    for command in ([sys.executable, "-c", "pass"], [str(tmp_path / "no-such-program")]):
        monkeypatch.setattr(loader, "HELPER_COMMAND", command)
        assert _loaded(path, helper=True) == here, command


def test_a_file_that_is_not_a_trace_fails_the_same_with_a_helper(tmp_path: Path) -> None:
    from flowtrace.tracefile import TraceFormatError

    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    for helper in (False, True):
        with pytest.raises(TraceFormatError, match="not a flowtrace trace"):
            load_into(Runs(), path, helper=helper)
