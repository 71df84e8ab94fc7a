"""Whole screens as plain text at chosen positions (``snapshots/tui/``).

Update with ``pytest tests/tui --snapshot-update`` after a deliberate change, and
review the text diff like any other.
"""

from __future__ import annotations

from typing import Any

import scenarios as S

from flowtrace.events import Event
from flowtrace.tui import ReplayApp, Runs
from flowtrace.tui.snapshot import screen_text

from .tui_helpers import SIZE, run_async


def screen_after(events: list[Event], *keys: str, setup: Any = None) -> str:
    app = ReplayApp(runs=Runs.from_events(events), name="demo.ftrace.jsonl", debounce=0)
    out: list[str] = []

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            if setup is not None:
                setup(app)
                app.paint_now()
            await pilot.press(*keys)
            await pilot.pause()
            out.append(screen_text(app))

    run_async(main)
    return out[0]


def test_chain_at_the_start(screen_snapshot: Any) -> None:
    assert screen_after(S.chain()) == screen_snapshot


def test_chain_at_the_end(screen_snapshot: Any) -> None:
    assert screen_after(S.chain(), "end") == screen_snapshot


def test_cycle_at_its_cycle_break(screen_snapshot: Any) -> None:
    assert screen_after(S.cycle(), "c") == screen_snapshot


def test_cycle_in_a_later_generation(screen_snapshot: Any) -> None:
    assert (
        screen_after(S.cycle(), "c", "right_curly_bracket", "right_curly_bracket", "down")
        == screen_snapshot
    )


def test_stream_at_its_stall(screen_snapshot: Any) -> None:
    assert screen_after(S.stream_cancel_error(), "s") == screen_snapshot


def test_stream_at_its_cancellation(screen_snapshot: Any) -> None:
    assert screen_after(S.stream_cancel_error(), "x") == screen_snapshot


def test_stream_at_its_error(screen_snapshot: Any) -> None:
    assert screen_after(S.stream_cancel_error(), "e") == screen_snapshot


def test_filtered_with_breakpoints(screen_snapshot: Any) -> None:
    from flowtrace.tui.navigator import parse_query

    def setup(app: ReplayApp) -> None:
        assert app.nav is not None
        app.nav.set_filter(parse_query("node:acc"))
        app.nav.breakpoint_kinds.add("DataEmitted")

    assert screen_after(S.cycle(), "down", "down", setup=setup) == screen_snapshot


def test_help_screen(screen_snapshot: Any) -> None:
    assert screen_after(S.chain(), "question_mark") == screen_snapshot


def test_diff_screen(screen_snapshot: Any) -> None:
    assert screen_after(S.cycle(), "c", "m", "e", "end", "d") == screen_snapshot
