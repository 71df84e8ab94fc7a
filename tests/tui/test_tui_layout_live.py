"""The debugger on screens of every size, following a trace as it is written, and
refusing — in one line, before any screen — what it cannot show."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import scenarios as S
from click.testing import CliRunner

from flowtrace.cli import cli
from flowtrace.events import Event, FlowFinished, NodeFinished
from flowtrace.record import TraceWriter
from flowtrace.tracefile import make_header
from flowtrace.tui import ReplayApp, Runs
from flowtrace.tui.snapshot import screen_text
from flowtrace.tui.timeline_pane import TimelinePane
from flowtrace.tui.widgets import Inspector

from .tui_helpers import run_async

SMALL = (80, 24)
LARGE = (200, 50)


def app_for(events: list[Event], **kw: Any) -> ReplayApp:
    return ReplayApp(runs=Runs.from_events(events), name="demo.ftrace.jsonl", debounce=0, **kw)


def screen(events: list[Event], size: tuple[int, int], *keys: str) -> str:
    app = app_for(events)
    out: list[str] = []

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await pilot.press(*keys)
            await pilot.pause()
            out.append(screen_text(app))

    run_async(main)
    return out[0]


# ---------------------------------------------------------------- snapshots


def test_large_screen_shows_the_timeline_under_every_pane(screen_snapshot: Any) -> None:
    text = screen(S.stream_cancel_error(), LARGE, "e")
    assert "timeline" in text and "▼" in text
    assert text == screen_snapshot


def test_small_screen_shows_the_log_and_the_inspector(screen_snapshot: Any) -> None:
    text = screen(S.stream_cancel_error(), SMALL, "e")
    assert "NodeErrored" in text and "inspector" in text and "graph" not in text
    assert text == screen_snapshot


def test_small_screen_shows_the_timeline_on_t(screen_snapshot: Any) -> None:
    text = screen(S.stream_cancel_error(), SMALL, "x", "t")
    assert "▼" in text and "inspector" not in text
    assert text == screen_snapshot


def test_small_screen_cycles_panes_with_i(screen_snapshot: Any) -> None:
    text = screen(S.cycle(), SMALL, "c", "i", "i")
    assert "nodes at cursor" in text and "waits for" in text
    assert text == screen_snapshot


def test_timeline_zoomed_in_around_the_cursor(screen_snapshot: Any) -> None:
    text = screen(S.cycle(), LARGE, "c", "right_curly_bracket", "z", "z")
    assert "the whole run" not in text and "…" in text
    assert text == screen_snapshot


# ---------------------------------------------------------------- layout and keys


def test_a_resize_switches_between_the_wide_and_the_compact_layout() -> None:
    app = app_for(S.chain())

    async def main() -> None:
        async with app.run_test(size=LARGE) as pilot:
            await pilot.pause()
            assert not app.compact
            await pilot.resize_terminal(*SMALL)
            await pilot.pause()
            await pilot.pause()
            assert app.compact
            text = screen_text(app)
            assert "graph" not in text and "FlowStarted" in text
            await pilot.resize_terminal(*LARGE)
            await pilot.pause()
            await pilot.pause()
            assert not app.compact and "graph" in screen_text(app)

    run_async(main)


def test_the_inspector_takes_focus_scrolls_by_key_and_starts_at_the_top_after_a_move() -> None:
    app = app_for(S.stream_cancel_error())

    async def main() -> None:
        async with app.run_test(size=SMALL) as pilot:
            await pilot.pause()
            await pilot.press("e", "i")
            inspector = app.query_one(Inspector)
            assert app.focused is inspector
            await pilot.press("down", "down", "down")
            await pilot.pause()
            assert inspector.scroll_offset.y == 3
            assert app.nav is not None and app.nav.cursor == app.replay.error_seqs[0]
            await pilot.press("k")  # still steps: the cursor moves, the pane rewinds
            await pilot.pause()
            assert inspector.scroll_offset.y == 0

    run_async(main)


def test_M_maximises_the_focused_pane_and_restores_it() -> None:
    for size in (SMALL, LARGE):
        app = app_for(S.stream_cancel_error())

        async def main(app: ReplayApp = app, size: tuple[int, int] = size) -> None:
            async with app.run_test(size=size) as pilot:
                await pilot.pause()
                await pilot.press("e", "i", "M")
                await pilot.pause()
                inspector = app.query_one(Inspector)
                assert app.screen.maximized is inspector
                assert inspector.region.height == size[1]  # the whole screen
                text = screen_text(app)
                assert "Traceback" in text and "graph" not in text
                await pilot.press("M")
                await pilot.pause()
                assert app.screen.maximized is None

        run_async(main)


def test_a_long_message_is_never_cut_at_120_columns() -> None:
    app = app_for(S.chain())

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert app.nav is not None
            app.nav.message = "a long message " * 9 + "END"
            app.paint_now()
            await pilot.pause()
            assert "END" in screen_text(app).replace("\n", "")

    run_async(main)


def test_a_click_on_a_lane_moves_the_cursor_to_that_nodes_event_at_that_moment() -> None:
    app = app_for(S.stream_cancel_error())

    async def main() -> None:
        async with app.run_test(size=LARGE) as pilot:
            await pilot.pause()
            pane = app.query_one(TimelinePane)
            lanes = pane.lane_names()
            row = lanes.index("check") + 1
            layout = pane.layout_info
            await pilot.click(
                TimelinePane, offset=(1 + layout.name_width + layout.cells - 3, 1 + row)
            )
            await pilot.pause()
            assert app.nav is not None
            assert app.replay.node_of(app.replay.event(app.nav.cursor)) == "check"
            assert app.nav.cursor > app.replay.last_seq - 10

    run_async(main)


def test_colon_takes_a_moment_in_the_app() -> None:
    app = app_for(S.chain())

    async def main() -> None:
        async with app.run_test(size=LARGE) as pilot:
            await pilot.pause()
            await pilot.press("colon", *"+12us", "enter")
            await pilot.pause()
            assert app.nav is not None and app.nav.cursor == 12

    run_async(main)


# ---------------------------------------------------------------- incomplete and live


def test_a_trace_without_flow_finished_says_so_and_names_what_was_executing() -> None:
    events = S.stream_cancel_error()
    cut = next(
        i for i, e in enumerate(events) if isinstance(e, NodeFinished) and e.node_id == "words"
    )
    app = app_for(events[:cut])

    async def main() -> None:
        async with app.run_test(size=LARGE) as pilot:
            await pilot.pause()
            top = screen_text(app).split("╭")[0]
            assert "INCOMPLETE: no FlowFinished" in top
            assert "executing at the end: take, words" in top

    run_async(main)
    assert not any(isinstance(e, FlowFinished) for e in events[:cut])


def test_follow_shows_new_events_within_a_second_and_the_cursor_follows_only_at_the_end(
    tmp_path: Path,
) -> None:
    events = S.cycle()
    path = tmp_path / "live.ftrace.jsonl"
    writer = TraceWriter(str(path), make_header(["test"]))
    writer.write(events[:30])
    app = ReplayApp(path=str(path), name=path.name, debounce=0, follow=True)

    async def wait_for(predicate: Any) -> None:
        for _ in range(40):  # at most 4 s (a poll is 0.25 s)
            await asyncio.sleep(0.1)
            if predicate():
                return
        raise AssertionError("the followed file did not show up")

    async def main() -> None:
        async with app.run_test(size=LARGE) as pilot:
            await wait_for(lambda: app.nav is not None and len(app.replay) == 30)
            await pilot.press("end")
            assert app.nav is not None and app.nav.cursor == 29
            assert "FOLLOWING" in screen_text(app)
            writer.write(events[30:50])
            await wait_for(lambda: len(app.replay) == 50)
            await pilot.pause()
            assert app.nav.cursor == 49  # was at the end: follows
            await pilot.press("home")
            writer.write(events[50:])
            await wait_for(lambda: len(app.replay) == len(events))
            await pilot.pause()
            assert app.nav.cursor == 0  # the user moved: stays
            assert "INCOMPLETE" not in screen_text(app)
            app._stop_follow.set()

    try:
        run_async(main)
    finally:
        writer.close()


# ---------------------------------------------------------------- refused before any screen


def test_a_directory_a_syntax_error_and_a_script_without_a_flow_fail_in_one_line(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "bad.py").write_text("def f(:\n")
    (tmp_path / "noflow.py").write_text("print('hello')\n")
    runner = CliRunner()
    expected = {
        "pkg": "pkg is a directory",
        "bad.py": "SyntaxError: invalid syntax at bad.py, line 1",
        "noflow.py": "without running a flow",
    }
    for target, words in expected.items():
        before = sorted(p.name for p in tmp_path.iterdir())
        result = runner.invoke(cli, ["tui", target])
        assert result.exit_code == 1, (target, result.output)
        lines = [ln for ln in result.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and words in lines[0], (target, result.output)
        assert "Traceback" not in result.output
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # no stray trace


def test_switching_runs_back_reuses_the_timeline_built_for_the_run() -> None:
    app = ReplayApp(runs=Runs.from_events([*S.chain(), *S.cycle()]), name="two", debounce=0)

    async def main() -> None:
        async with app.run_test(size=LARGE) as pilot:
            await pilot.pause()
            assert app.nav is not None
            first = app.nav.timeline
            assert len(first) == len(app.replay)  # built by the first paint
            app.open_run(1)
            app.paint_now()
            assert app.nav.timeline is not first
            app.open_run(0)
            assert app.nav.timeline is first

    run_async(main)


def test_a_trace_left_by_an_earlier_run_is_not_taken_for_the_new_one(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    stale = tmp_path / "bad.ftrace.jsonl"
    writer = TraceWriter(str(stale), make_header(["test"]))
    writer.write(S.chain())
    writer.close()
    (tmp_path / "bad.py").write_text("def f(:\n")
    result = CliRunner().invoke(cli, ["tui", "bad.py"])
    assert result.exit_code == 1 and "SyntaxError" in result.output, result.output
