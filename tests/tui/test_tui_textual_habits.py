"""What users expect of a Textual tool: copy, export, search highlights, a word when a
search term can match nothing, rows in the theme's colours, play that stops at
errors, inspector prose rather than reprs, a deadlock that says who waits for whom."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import scenarios as S

from flowtrace.events import DeadlockDetected, Event, WaitInfo
from flowtrace.replay import Replay
from flowtrace.tui import ReplayApp, Runs
from flowtrace.tui.app import SPEEDS
from flowtrace.tui.navigator import Navigator, parse_query
from flowtrace.tui.render import event_details, event_summary
from flowtrace.tui.widgets import EventLog, PromptLine

from .tui_helpers import SIZE, run_async


def app_for(events: list[Event]) -> ReplayApp:
    return ReplayApp(runs=Runs.from_events(events), name="demo.ftrace.jsonl", debounce=0)


def test_y_copies_the_inspector_and_Y_the_event_as_json() -> None:
    app = app_for(S.stream_cancel_error())

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("e", "y")
            assert app.copied is not None
            assert "NodeErrored" in app.copied and "Traceback" in app.copied
            await pilot.press("Y")
            obj = json.loads(app.copied)
            assert obj["kind"] == "NodeErrored" and obj["seq"] == app.replay.error_seqs[0]
            assert app.nav is not None and "copied" in app.nav.message

    run_async(main)


def test_ctrl_s_exports_the_filtered_view_as_text_or_json_lines(tmp_path: Path) -> None:
    app = app_for(S.cycle())
    text_file, json_file = tmp_path / "view.txt", tmp_path / "view.jsonl"

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.nav is not None
            app.nav.set_filter(parse_query("kind:DataEmitted"))
            for target in (text_file, json_file):
                await pilot.press("ctrl+s")
                app.query_one(PromptLine).value = str(target)
                await pilot.press("enter")
                await pilot.pause()
                assert f"to {target}" in app.nav.message

    run_async(main)
    shown = app.nav.filtered if app.nav is not None else None
    assert shown
    lines = text_file.read_text().splitlines()
    assert len(lines) == len(shown) and all("DataEmitted" in ln for ln in lines)
    assert lines[0].split()[1].startswith("+")  # the time column
    seqs = [json.loads(ln)["seq"] for ln in json_file.read_text().splitlines()]
    assert seqs == list(shown)


def test_search_matches_are_highlighted_in_the_log() -> None:
    app = app_for(S.stream_cancel_error())

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.search_for("words")
            await pilot.pause()
            log = app.query_one(EventLog)
            assert app.nav is not None
            for y in range(log.size.height):
                strip = log.render_line(y)
                row = "".join(seg.text for seg in strip)
                if "words" not in row or "▶" in row:
                    continue
                marked = [seg.text for seg in strip if seg.style and seg.style.reverse]
                assert "words" in marked, row
                return
            raise AssertionError("no row mentions words")

    run_async(main)


def test_an_unknown_kind_or_node_in_a_search_is_named() -> None:
    nav = Navigator(Replay(S.chain()))
    problem = nav.query_problem(parse_query("kind:NoSuchKind"))
    assert problem is not None and problem.startswith("unknown kind: NoSuchKind")
    problem = nav.query_problem(parse_query("node:zz"))
    assert problem is not None and "unknown node: zz" in problem and "a, b" in problem
    assert nav.query_problem(parse_query("kind:stream node:a")) is None
    app = app_for(S.chain())

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.search_for("node:zz")
            await pilot.pause()
            assert app.nav is not None and app.nav.message.startswith("unknown node: zz")

    run_async(main)


def test_rows_of_the_log_take_the_themes_background() -> None:
    app = app_for(S.chain())

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            app.theme = "textual-light"
            await pilot.pause()
            log = app.query_one(EventLog)
            for y in range(5):
                for seg in log.render_line(y):
                    assert seg.style is not None and seg.style.bgcolor is not None, y

    run_async(main)


def test_play_stops_at_the_first_error() -> None:
    app = app_for(S.stream_cancel_error())

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.speed = len(SPEEDS) - 1  # the fastest
            await pilot.press("space")
            for _ in range(100):
                await asyncio.sleep(0.05)
                if not app.playing:
                    break
            assert not app.playing
            assert app.nav is not None and app.nav.cursor == app.replay.error_seqs[0]
            assert "stopped at an error" in app.nav.message

    run_async(main)


def test_the_inspector_speaks_prose_not_reprs() -> None:
    replay = Replay(S.cycle())
    text = event_details(replay, replay.event(replay.cycle_break_seqs[0])).plain
    assert "CycleBreak(" not in text and "('" not in text
    assert "cycle acc → inc broken: acc runs first with its default on port(s) 0" in text


def test_a_deadlock_says_what_each_node_waits_for() -> None:
    e = DeadlockDetected(
        0,
        0,
        "r",
        (WaitInfo("a", "stalled", ("b",), "stream read"), WaitInfo("b", "waiting", ("a",), "")),
    )
    assert event_summary(e) == "DEADLOCK a waits for b; b waits for a"
    text = event_details(Replay([e]), e).plain
    assert "a (stalled) waits for b: stream read" in text and "b (waiting) waits for a" in text


def test_marks_breakpoints_and_the_filter_are_kept_beside_the_trace(tmp_path: Path) -> None:
    from flowtrace.record import TraceWriter
    from flowtrace.tracefile import make_header
    from flowtrace.tui.sidecar import sidecar_path

    path = tmp_path / "kept.ftrace.jsonl"
    writer = TraceWriter(str(path), make_header(["test"]))
    writer.write(S.cycle())
    writer.close()

    def session(body: object) -> ReplayApp:
        app = ReplayApp(path=str(path), name=path.name, debounce=0)

        async def main() -> None:
            async with app.run_test(size=SIZE) as pilot:
                await app.workers.wait_for_complete()
                await pilot.pause()
                await body(app, pilot)  # type: ignore[operator]

        run_async(main)
        return app

    async def first(app: ReplayApp, pilot: object) -> None:
        assert app.nav is not None
        app.nav.go(12)
        app.nav.set_mark()
        app.nav.breakpoint_kinds.add("DataEmitted")
        app.nav.set_filter(parse_query("node:acc"))

    session(first)
    assert Path(sidecar_path(str(path))).exists()

    async def second(app: ReplayApp, pilot: object) -> None:
        await asyncio.sleep(0.05)
        assert app.nav is not None
        assert app.nav.mark == 12 and app.nav.breakpoint_kinds == {"DataEmitted"}
        assert app.nav.filter is not None and app.nav.filter.source == "node:acc"
        app.nav.mark = None
        app.nav.breakpoint_kinds.clear()
        app.nav.set_filter(None)

    session(second)
    assert not Path(sidecar_path(str(path))).exists()  # nothing left to keep: removed


def test_an_unreadable_sidecar_is_ignored(tmp_path: Path) -> None:
    from flowtrace.tui.sidecar import load_sidecar, sidecar_path

    trace = str(tmp_path / "t.ftrace.jsonl")
    Path(sidecar_path(trace)).write_text("{not json")
    assert load_sidecar(trace) == {}
    Path(sidecar_path(trace)).write_text('{"version": 1, "runs": {"r": {"mark": "x"}}}')
    kept = load_sidecar(trace)
    assert kept["r"].mark is None and kept["r"].empty()
