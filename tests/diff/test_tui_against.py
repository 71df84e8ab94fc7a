"""``flowtrace tui A --against B``: the debugger opens at the first divergence, steps
to the next one, and shows the other run at the same place."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner

from flowtrace.cli import cli
from flowtrace.diff import diff_files
from flowtrace.tui.app import ReplayApp

Trace = Callable[..., str]
SIZE = (120, 40)


async def _until_compared(app: ReplayApp, pilot: Any) -> None:
    for _ in range(200):  # bounded: the comparison runs in the load worker
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.comparison is not None or app.load_error:
            return
    raise AssertionError("the comparison never arrived")


def test_tui_against_opens_at_the_first_divergence_and_steps_through_them(trace: Trace) -> None:
    a = trace("a")
    b = trace("b", {"step": 2})  # every value differs: several divergences
    report = diff_files(a, b, limit=1000)
    assert report.divergence_count >= 3
    first, second = report.divergences[0], report.divergences[1]
    app = ReplayApp(path=a, name="a", against=b, debounce=0)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _until_compared(app, pilot)
            assert app.load_error is None
            assert app.nav is not None and app.nav.cursor == first.a_seq
            assert "divergence 1 of" in app.nav.message
            await pilot.press("v")
            assert app.nav.cursor == second.a_seq
            await pilot.press("a")  # the other run, at the same divergence
            assert app.comparison is not None and app.comparison.side == "B"
            assert app.nav is app.comparison.b and app.nav.cursor == second.b_seq
            await pilot.press("V")
            assert app.nav.cursor == first.b_seq
            await pilot.press("a")
            assert app.nav is app.comparison.a and app.nav.cursor == first.a_seq
            await pilot.press("V")
            assert app.nav.cursor == first.a_seq and "no divergence behind" in app.nav.message

    asyncio.run(main())


def test_tui_against_a_run_that_agrees_says_so(trace: Trace) -> None:
    app = ReplayApp(path=trace("a"), name="a", against=trace("b"), debounce=0)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _until_compared(app, pilot)
            assert app.comparison is not None
            assert app.nav is not None and "the runs agree" in app.nav.message
            await pilot.press("v")
            assert "no divergence" in app.nav.message

    asyncio.run(main())


def test_divergence_keys_without_against_explain_themselves(trace: Trace) -> None:
    app = ReplayApp(path=trace("a"), name="a", debounce=0)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("v")
            assert app.nav is not None and "--against" in app.nav.message

    asyncio.run(main())


def test_cli_tui_against_without_a_terminal_prints_the_comparison(trace: Trace) -> None:
    result = CliRunner().invoke(cli, ["tui", trace("a"), "--against", trace("b", {"glitch_at": 0})])
    assert result.exit_code == 0, result.output
    assert "First divergence" in result.output and "out emitted (0,)" in result.output
