"""The debugger on real runs: examples/demo.py (a cycle feeding a stream that is
cancelled) and examples/error.py, recorded in this process. What a first-time user
is told to do in docs/tui.md must work: c finds the cycle break, x the cancellation,
e the error."""

from __future__ import annotations

import contextlib
import io
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest

from flowtrace.events import Event, InputsGathered, SolutionFound
from flowtrace.instrument import add_default_instrument, remove_default_instrument
from flowtrace.tui import ReplayApp, Runs
from flowtrace.tui.snapshot import screen_text
from flowtrace.tui.widgets import PromptLine

from .tui_helpers import SIZE, nav, run_async

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def record(name: str) -> list[Event]:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(f"examples/{name} is not there")
    events: list[Event] = []

    class Collect:
        def on_event(self, event: Event) -> None:
            events.append(event)

    col = Collect()
    add_default_instrument(col)
    argv, sys.argv = sys.argv, [str(path)]
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(Exception):
            runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = argv
        remove_default_instrument(col)
    return events


def drive(events: list[Event], body: Any) -> None:
    app = ReplayApp(runs=Runs.from_events(events), name="demo.ftrace.jsonl", debounce=0)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await body(app, pilot)

    run_async(main)


def test_demo_cycle_break_then_the_defaulted_input_then_the_cancellation() -> None:
    events = record("demo.py")

    async def body(app: ReplayApp, pilot: Any) -> None:
        await pilot.press("c")
        event = app.replay.event(nav(app).cursor)
        assert type(event) is SolutionFound and event.cycle_breaks
        assert "⟲ cycle" in screen_text(app)
        broken = event.cycle_breaks[0].node_id
        gathered = app.replay.gathered_seq(broken, (0,))
        assert gathered is not None
        inputs = app.replay.event(gathered)
        assert isinstance(inputs, InputsGathered) and inputs.defaulted_ports
        await pilot.press("colon")
        app.query_one("#prompt", PromptLine).value = str(gathered)
        await pilot.press("enter")
        assert "DEFAULTED" in screen_text(app)
        await pilot.press("x")
        assert type(app.replay.event(nav(app).cursor)).__name__ == "StreamCancelRequested"
        state = app.replay.state_at(nav(app).cursor)
        assert "cancel" in {e.reason for e in state.wait_for()}

    drive(events, body)


def test_error_example_e_lands_on_the_error_with_its_traceback() -> None:
    events = record("error.py")

    async def body(app: ReplayApp, pilot: Any) -> None:
        await pilot.press("e")
        assert type(app.replay.event(nav(app).cursor)).__name__ == "NodeErrored"
        assert "Traceback" in screen_text(app)

    drive(events, body)
