"""The debugger app, driven by keys through Textual's Pilot, asserting on its state."""

from __future__ import annotations

from typing import Any

import scenarios as S

from flowtrace.events import DataEmitted, Event, InputsGathered, NodeStarted, SolutionFound
from flowtrace.tui import ReplayApp, Runs
from flowtrace.tui.keys import KEYMAP
from flowtrace.tui.screens import HelpScreen, PickScreen, TextScreen
from flowtrace.tui.snapshot import screen_text

from .tui_helpers import SIZE, nav, run_async


def app_for(*runs: list[Event], debounce: float = 0) -> ReplayApp:
    events = [e for run in runs for e in run]
    return ReplayApp(runs=Runs.from_events(events), name="demo.ftrace.jsonl", debounce=debounce)


def kind(app: ReplayApp) -> str:
    return type(app.replay.event(nav(app).cursor)).__name__


async def prompt(pilot: Any, key: str, text: str) -> None:
    """Open a prompt with ``key``, fill it with ``text`` and submit it."""
    from flowtrace.tui.widgets import PromptLine

    await pilot.press(key)
    line = pilot.app.query_one(PromptLine)
    assert line.display and line.has_focus
    line.value = text
    await pilot.press("enter")
    assert not line.display


def drive(app: ReplayApp, body: Any) -> None:
    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await body(pilot)

    run_async(main)


def test_opens_at_the_first_event_of_a_finished_run_with_no_label_in_the_header() -> None:
    app = app_for(S.chain())

    async def body(pilot: Any) -> None:
        assert app.nav is not None and nav(app).cursor == 0
        top = screen_text(app).splitlines()[0]
        assert "demo.ftrace.jsonl" in top and "run-chain" in top
        # a finished run: neither LIVE nor INCOMPLETE nor STALE, and no stale "RECORDING"
        assert not any(w in top for w in ("RECORDING", "LIVE", "INCOMPLETE", "STALE"))

    drive(app, body)


def test_step_forward_and_back_and_to_both_ends() -> None:
    app = app_for(S.chain())

    async def body(pilot: Any) -> None:
        await pilot.press("down", "down", "j")
        assert nav(app).cursor == 3
        await pilot.press("up")
        assert nav(app).cursor == 2
        await pilot.press("end")
        assert nav(app).cursor == app.replay.last_seq
        await pilot.press("down")
        assert nav(app).cursor == app.replay.last_seq, "stepping past the end stays there"
        await pilot.press("home")
        assert nav(app).cursor == 0

    drive(app, body)


def test_jump_to_seq_typed_in_a_prompt() -> None:
    app = app_for(S.cycle())

    async def body(pilot: Any) -> None:
        await prompt(pilot, "colon", "42")
        assert nav(app).cursor == 42
        await prompt(pilot, "colon", "+5")
        assert nav(app).cursor == 47
        await pilot.press("backspace")
        assert nav(app).cursor == 42, "a jump is undone by backspace"

    drive(app, body)


def test_error_cycle_break_stall_and_cancellation_keys() -> None:
    app = app_for(S.stream_cancel_error())

    async def body(pilot: Any) -> None:
        await pilot.press("s")
        assert kind(app) == "StreamStalled"
        await pilot.press("x")
        assert kind(app) == "StreamCancelRequested"
        await pilot.press("x")
        assert kind(app) == "StreamCancelled"
        await pilot.press("e")
        assert kind(app) == "NodeErrored"
        await pilot.press("E")
        assert kind(app) == "NodeErrored", "no earlier error: the cursor stays"
        await pilot.press("X")
        assert kind(app) == "StreamCancelled"

    drive(app, body)

    cyc = app_for(S.cycle())

    async def cycle_body(pilot: Any) -> None:
        await pilot.press("c")
        event = cyc.replay.event(nav(cyc).cursor)
        assert type(event) is SolutionFound and event.cycle_breaks

    drive(cyc, cycle_body)


def test_node_events_and_generations_of_the_selected_node() -> None:
    app = app_for(S.cycle(4))

    async def body(pilot: Any) -> None:
        assert nav(app).selected == "acc", "at the start the first node is selected"
        await pilot.press("tab")
        assert nav(app).selected == "inc" and nav(app).pinned
        await pilot.press("shift+tab")
        assert nav(app).selected == "acc"
        starts = app.replay.evaluations_of("acc")
        await pilot.press("right_curly_bracket")
        assert nav(app).cursor == starts[0]
        await pilot.press("right_curly_bracket", "right_curly_bracket")
        assert nav(app).cursor == starts[2]
        await pilot.press("left_curly_bracket")
        assert nav(app).cursor == starts[1]
        await pilot.press("right_square_bracket")
        after = nav(app).cursor
        assert after > starts[1] and after in app.replay.events_of_node("acc")
        await pilot.press("down")
        assert nav(app).selected == "acc", "a pinned node stays selected while stepping"
        await pilot.press("escape")
        assert not nav(app).pinned

    drive(app, body)


def test_breakpoints_on_kinds_and_nodes_continue_both_ways() -> None:
    app = app_for(S.cycle(3))

    async def body(pilot: Any) -> None:
        emitted = app.replay.events_of_kind(DataEmitted)
        await prompt(pilot, "colon", str(emitted[0]))
        await pilot.press("b")
        assert nav(app).breakpoint_kinds == {"DataEmitted"}
        await pilot.press("home", "greater_than_sign")
        assert nav(app).cursor == emitted[0]
        await pilot.press("greater_than_sign", "greater_than_sign")
        assert nav(app).cursor == emitted[2]
        await pilot.press("less_than_sign")
        assert nav(app).cursor == emitted[1]
        await pilot.press("b")  # toggles it off again (cursor is on a DataEmitted)
        assert not nav(app).breakpoint_kinds
        await pilot.press("home")
        while nav(app).selected != "inc":
            await pilot.press("tab")
        await pilot.press("B")
        assert nav(app).breakpoint_nodes == {"inc"}
        await pilot.press("greater_than_sign")
        assert nav(app).cursor == app.replay.events_of_node("inc")[0]
        await pilot.press("ctrl+b")
        assert not nav(app).breakpoint_nodes

    drive(app, body)


def test_filter_shows_only_matching_events_and_steps_among_them() -> None:
    app = app_for(S.cycle(3))

    async def body(pilot: Any) -> None:
        await prompt(pilot, "f", "kind:NodeStarted")
        starts = list(app.replay.events_of_kind(NodeStarted))
        assert nav(app).filtered == starts
        assert nav(app).cursor == starts[0]
        await pilot.press("down", "down")
        assert nav(app).cursor == starts[2]
        text = screen_text(app)
        assert "NodeStatusChanged" not in text.split("inspector")[0]
        await prompt(pilot, "f", "boom")
        assert nav(app).filtered == [], "free text that matches nothing leaves an empty view"
        await pilot.press("F")
        assert nav(app).filtered is None

    drive(app, body)


def test_search_moves_to_the_next_match_and_wraps() -> None:
    app = app_for(S.stream_cancel_error())

    async def body(pilot: Any) -> None:
        await prompt(pilot, "slash", "world")
        first = nav(app).cursor
        assert "world" in str(app.replay.event(first)).lower()
        await pilot.press("n")
        second = nav(app).cursor
        assert second > first
        await pilot.press("N")
        assert nav(app).cursor == first
        await prompt(pilot, "slash", "node:check kind:NodeErrored")
        assert kind(app) == "NodeErrored"

    drive(app, body)


def test_lineage_jump_to_the_producer_and_back() -> None:
    app = app_for(S.cycle(3))

    async def body(pilot: Any) -> None:
        gathered = app.replay.gathered_seq("acc", (2,))
        await prompt(pilot, "colon", str(gathered))
        assert isinstance(app.replay.event(nav(app).cursor), InputsGathered)
        await pilot.press("p")
        event = app.replay.event(nav(app).cursor)
        assert isinstance(event, DataEmitted)
        assert (event.node_id, event.generation) == ("inc", (1,))
        await pilot.press("backspace")
        assert nav(app).cursor == gathered
        await pilot.press("O")
        assert nav(app).cursor == event.seq, "O redoes the jump"

    drive(app, body)


def test_producer_picker_when_an_event_read_several_values() -> None:
    b = S.RunBuilder("run-two")
    b.start(S.node("x"), S.node("y"), S.node("z", S.port(0, "x"), S.port(1, "y")))
    b.evaluate("x", 0, (), 1)
    b.evaluate("y", 0, (), 2)
    b.evaluate("z", 0, (S.read(0, "x", (0,), 1), S.read(1, "y", (0,), 2)), 3)
    app = app_for(b.finish())

    async def body(pilot: Any) -> None:
        gathered = app.replay.gathered_seq("z", (0,))
        await prompt(pilot, "colon", str(gathered))
        await pilot.press("p")
        assert isinstance(app.screen, PickScreen)
        await pilot.press("down", "enter")
        assert nav(app).cursor == app.replay.emitted_seq("y", (0,))

    drive(app, body)


def test_mark_and_diff_two_positions() -> None:
    app = app_for(S.chain())

    async def body(pilot: Any) -> None:
        await pilot.press("d")
        assert "mark a position first" in nav(app).message
        await pilot.press("m", "end", "d")
        assert isinstance(app.screen, TextScreen)
        assert app.last_diff is not None
        plain = app.last_diff.plain
        assert "a\n" in plain and "b\n" in plain and "output" in plain
        await pilot.press("escape")
        assert not isinstance(app.screen, TextScreen)

    drive(app, body)


def test_play_steps_until_a_breakpoint() -> None:
    app = app_for(S.chain())

    async def body(pilot: Any) -> None:
        nav(app).breakpoint_kinds.add("NodeStarted")
        app.speed = 0  # one tick a second: the timer cannot reach the breakpoint first
        await pilot.press("space")
        assert app.playing
        for _ in range(50):
            if not app.playing:
                break
            app.play_tick()
        assert not app.playing
        assert kind(app) == "NodeStarted"
        await pilot.press("plus", "plus", "minus")
        assert app.speed == 1

    drive(app, body)


def test_rapid_steps_coalesce_into_one_repaint() -> None:
    app = app_for(S.cycle(3), debounce=30.0)

    async def body(pilot: Any) -> None:
        app._last_paint = 10**9  # a paint "just happened": the next ones must wait
        before = app.paints
        for _ in range(25):
            app.action_step(1)
        assert nav(app).cursor == 25
        assert app.paints == before, "no repaint within the debounce interval"
        assert app._paint_timer is not None
        app._paint_timer.stop()
        app._timer_paint()
        assert app.paints == before + 1

    drive(app, body)


def test_run_selector_switches_between_runs() -> None:
    app = app_for(S.chain(), S.cycle(1))

    async def body(pilot: Any) -> None:
        assert app.runs.ids == ["run-chain", "run-cycle"]
        await pilot.press("r")
        assert isinstance(app.screen, PickScreen)
        await pilot.press("down", "enter")
        assert app.replay.run_id == "run-cycle"
        assert "run-cycle (2/2" in screen_text(app).splitlines()[0]

    drive(app, body)


def test_help_screen_lists_every_key() -> None:
    app = app_for(S.chain())

    async def body(pilot: Any) -> None:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

    drive(app, body)
    from rich.console import Console

    from flowtrace.tui.screens import help_table

    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(help_table())
    text = console.export_text()
    for spec in KEYMAP:
        assert spec.help in text, spec.action


def test_every_action_is_in_the_command_palette() -> None:
    app = app_for(S.chain())

    async def body(pilot: Any) -> None:
        titles = " ".join(c.title for c in app.get_system_commands(app.screen))
        for spec in KEYMAP:
            if spec.action not in ("command_palette",):
                assert spec.label in titles or spec.action in ("quit", "help"), spec.label

    drive(app, body)


def test_every_binding_names_an_existing_action() -> None:
    for spec in KEYMAP:
        name = spec.action.split("(")[0]
        assert hasattr(ReplayApp, f"action_{name}"), name


def test_clicking_a_row_moves_the_cursor() -> None:
    app = app_for(S.chain())

    async def body(pilot: Any) -> None:
        await pilot.click("#log", offset=(5, 4))
        assert nav(app).cursor == 3  # border row, then rows 0..3

    drive(app, body)


def test_an_action_run_from_the_command_palette() -> None:
    app = app_for(S.stream_cancel_error())

    async def body(pilot: Any) -> None:
        from textual.command import CommandInput, CommandPalette

        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        app.screen.query_one(CommandInput).value = "next error"
        await pilot.pause()
        await app.workers.wait_for_complete()  # the palette searches in a worker
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert kind(app) == "NodeErrored"

    drive(app, body)


def test_free_text_filter_and_search_on_a_big_run_scan_in_a_worker(monkeypatch: Any) -> None:
    import flowtrace.tui.app_actions as app_module  # where the actions scan

    monkeypatch.setattr(app_module, "LARGE_SCAN", 10)  # this run counts as big
    app = app_for(S.stream_cancel_error())

    async def body(pilot: Any) -> None:
        await prompt(pilot, "f", "world")
        await app.workers.wait_for_complete()
        await pilot.pause()
        filtered = nav(app).filtered
        assert filtered and all("world" in str(app.replay.event(s)) for s in filtered)
        assert not app.scanning
        await pilot.press("F", "home")
        await prompt(pilot, "slash", "boom")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert kind(app) == "NodeErrored"

    drive(app, body)


def test_a_big_graph_keeps_the_selected_node_in_view() -> None:
    b = S.RunBuilder("run-big")
    names = [f"n{i:02}" for i in range(60)]
    b.start(*[S.node(n, *([S.port(0, names[i - 1])] if i else [])) for i, n in enumerate(names)])
    for i, n in enumerate(names):
        b.evaluate(n, 0, (S.read(0, names[i - 1], (0,), i),) if i else (), i + 1)
    app = app_for(b.finish())

    async def body(pilot: Any) -> None:
        nav(app).selected = "n47"
        nav(app).pinned = True
        app.paint_now()
        await pilot.pause()
        text = screen_text(app)
        assert "▶n47" in text, "the node table shows the selected node"
        assert "▶ [n47]" in text, "the graph scrolled to the selected node"

    drive(app, body)
