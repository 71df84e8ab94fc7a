"""The debugger never says something false: an empty trace, a search in a trace still
loading, a run stopped at its generation limit, where a stream consumer's result came
from."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import scenarios as S

from flowtrace import FlowHDL, node
from flowtrace.events import DataEmitted, Event, NodeErrored
from flowtrace.record import TraceWriter
from flowtrace.replay import Replay
from flowtrace.tracefile import make_header
from flowtrace.tui import ReplayApp, Runs
from flowtrace.tui.render import event_category, event_details, node_table
from flowtrace.tui.snapshot import screen_text

from .tui_helpers import SIZE, run_async


def test_a_header_only_trace_says_no_events_in_the_header_log_and_inspector(tmp_path: Path) -> None:
    path = tmp_path / "empty.ftrace.jsonl"
    TraceWriter(str(path), make_header(["test"])).close()
    app = ReplayApp(path=str(path), name=path.name, debounce=0)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            text = screen_text(app)
            assert "loading" not in text
            assert "no events" in text.splitlines()[0]
            assert text.count("no events") >= 3  # header, log, inspector

    run_async(main)


def test_e_and_search_in_a_trace_still_loading_say_so() -> None:
    events = S.stream_cancel_error()
    cut = next(i for i, e in enumerate(events) if isinstance(e, NodeErrored))
    app = ReplayApp(runs=Runs.from_events(events[:cut]), name="big.ftrace.jsonl", debounce=0)
    app.loading = 0.4  # as while the worker reads the rest of the file

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("e")
            assert app.nav is not None
            assert "still loading" in app.nav.message
            assert app.nav.message.startswith("no next error in the 40% loaded so far")
            app.search_for("boom")
            await pilot.pause()
            assert "still loading" in app.nav.message

    run_async(main)


def limited_run() -> list[Event]:
    @node
    async def Inc(x: int = 0) -> int:
        return x + 1

    with FlowHDL() as f:
        f.b = Inc(f.c)
        f.c = Inc(f.b)
    events: list[Event] = []

    class Collect:
        def on_event(self, event: Event) -> None:
            events.append(event)

    with contextlib.suppress(Exception):
        f.run_until_complete(stop_at_node_generation=(3,), instruments=[Collect()])
    return events


def test_a_generation_limit_is_a_normal_end_without_red_events_or_tracebacks() -> None:
    events = limited_run()
    replay = Replay(events)
    assert not [e for e in events if event_category(e) == "error"]
    for e in events[-4:]:
        details = event_details(replay, e).plain
        assert "Traceback" not in details, details
    assert "a normal end, not an error" in screen_at_end(events)


def test_a_node_stopped_by_its_generation_limit_is_not_shown_executing() -> None:
    replay = Replay(limited_run())
    table = node_table(replay.final_state(), None)
    from rich.console import Console

    console = Console(width=100, record=True)
    console.print(table)
    text = console.export_text()
    assert "executing" not in text and "stopped" in text


def screen_at_end(events: list[Event]) -> str:
    app = ReplayApp(runs=Runs.from_events(events), name="limit.ftrace.jsonl", debounce=0)
    out: list[str] = []

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("end", "up")
            await pilot.pause()
            out.append(screen_text(app))

    run_async(main)
    return out[0]


def test_lineage_of_a_stream_consumers_result_leads_to_the_items_it_read() -> None:
    replay = Replay(S.stream_cancel_error())
    take_result = next(
        s
        for s in replay.events_of_kind(DataEmitted)
        if replay.event(s).node_id == "take"  # type: ignore[attr-defined]
        and replay.event(s).run_level == 0  # type: ignore[attr-defined]
    )
    sources = replay.sources(take_result)
    items = [s.seq for s in sources]
    assert items == [replay.emitted_seq("words", (0, 0)), replay.emitted_seq("words", (0, 1))]
    assert replay.emitted_seq("words", (0,)) not in items  # not the producer's final value
    assert all("item" in s.label for s in sources)


def test_the_inspector_shows_the_chain_of_producers_not_one_hop() -> None:
    replay = Replay(S.stream_cancel_error())
    error = replay.error_seqs[0]
    text = event_details(replay, replay.event(error)).plain
    chain = text.split("came from:")[1]
    assert "take g0" in chain and "words item g0.0" in chain and "words item g0.1" in chain
    lines = chain.splitlines()
    take = next(i for i, ln in enumerate(lines) if "take g0" in ln)
    item = next(i for i, ln in enumerate(lines) if "words item g0.0" in ln)
    assert item > take and len(lines[item]) - len(lines[item].lstrip()) > (
        len(lines[take]) - len(lines[take].lstrip())
    )  # indented under what it fed


def test_p_on_a_stream_consumers_result_offers_each_item(monkeypatch: Any) -> None:
    from flowtrace.tui.navigator import Navigator

    replay = Replay(S.stream_cancel_error())
    nav = Navigator(replay)
    take_result = next(
        s
        for s in replay.events_of_kind(DataEmitted)
        if replay.event(s).node_id == "take"  # type: ignore[attr-defined]
        and replay.event(s).run_level == 0  # type: ignore[attr-defined]
    )
    nav.go(take_result)
    targets = nav.producer_targets()
    assert [seq for _label, seq in targets] == [
        replay.emitted_seq("words", (0, 0)),
        replay.emitted_seq("words", (0, 1)),
    ]
