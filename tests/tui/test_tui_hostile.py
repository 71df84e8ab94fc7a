"""The debugger over hostile trace files: events out of order, a corrupt line in the
middle, terminal escapes and rich markup in node ids and error texts."""

from __future__ import annotations

import re
from pathlib import Path

import scenarios as S

from flowtrace.events import ErrorInfo, Event, NodeErrored
from flowtrace.record import TraceWriter
from flowtrace.tracefile import make_header
from flowtrace.tui import ReplayApp, Runs, load_into
from flowtrace.tui.snapshot import screen_text

from .tui_helpers import SIZE, run_async

ESCAPES = "\x1b]52;c;cHduZWQ=\x07\x1b]0;owned\x07\x1b[2J\u202e[/x][bold]"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]")


def write_trace(path: Path, events: list[Event]) -> Path:
    writer = TraceWriter(str(path), make_header(["test"]))
    writer.write(events)
    writer.close()
    return path


def lines_swapped(path: Path, a: int, b: int) -> Path:
    lines = path.read_bytes().splitlines(keepends=True)
    lines[a], lines[b] = lines[b], lines[a]
    path.write_bytes(b"".join(lines))
    return path


def test_events_out_of_order_are_skipped_so_every_replay_is_in_order(tmp_path: Path) -> None:
    events = S.chain()
    path = lines_swapped(write_trace(tmp_path / "t.ftrace.jsonl", events), 6, 7)
    runs = Runs()
    load_into(runs, path)
    replay = runs.replays["run-chain"]
    assert [e.seq for e in replay.events()] == sorted(e.seq for e in replay.events())
    assert len(replay) == len(events) - 1
    assert runs.damage is not None and "1 bad line(s) skipped" in runs.damage
    assert runs.skipped == [
        f"{path}:8: seq 5 of run 'run-chain' comes after seq 6: events out of order"
    ]


def test_the_debugger_opens_a_file_with_events_out_of_order_and_moves_through_it(
    tmp_path: Path,
) -> None:
    path = lines_swapped(write_trace(tmp_path / "t.ftrace.jsonl", S.chain()), 6, 7)
    app = ReplayApp(path=str(path), name=path.name, debounce=0)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            for key in ("end", "home", "down", "down", "down", "down", "down", "up", "down"):
                await pilot.press(key)
            assert app.nav is not None and app.nav.cursor == 6  # seq 5 was skipped
            assert "damaged: 1 bad line(s) skipped" in screen_text(app).splitlines()[0]

    run_async(main)


def test_a_corrupt_line_in_the_middle_loses_only_that_line(tmp_path: Path) -> None:
    events = S.chain()
    path = write_trace(tmp_path / "t.ftrace.jsonl", events)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[10] = b'{"kind":"NodeStarted","seq":"nine"\n'
    path.write_bytes(b"".join(lines))
    runs = Runs()
    load_into(runs, path)
    assert len(runs.replays["run-chain"]) == len(events) - 1
    assert runs.damage is not None and "the first at line 11" in runs.damage


def test_escapes_and_markup_in_trace_strings_are_shown_not_obeyed(tmp_path: Path) -> None:
    bad = "b" + ESCAPES
    error = ErrorInfo("ValueError", ESCAPES, "Traceback (most recent call last):\n" + ESCAPES)
    run = S.RunBuilder("run-x")
    run.start(S.node("a"), S.node(bad, S.port(0, "a")))
    run.solve(bad, ("a",))
    run.evaluate("a", 0, (), 1)
    run.fail(bad, 0, (S.read(0, "a", (0,), 1),), error)
    path = write_trace(tmp_path / "t.ftrace.jsonl", run.finish("error", error, bad, (0,)))
    app = ReplayApp(path=str(path), name=path.name, debounce=0)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("e")  # the error: the inspector shows its message
            await pilot.pause()
            screen = screen_text(app)
            assert app.nav is not None
            assert isinstance(app.replay.event(app.nav.cursor), NodeErrored)
            # ESC is shown as ␛ (rich itself drops the bell), markup as the text it is
            assert "␛]52;c;cHduZWQ=" in screen and "[/x][bold]" in screen
            assert not UNSAFE.search(screen)

    run_async(main)
