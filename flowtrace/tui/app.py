"""``flowtrace tui``: the time-travel debugger, a Textual app over a recorded trace.

The app never runs the engine: it shows :class:`~flowtrace.replay.Replay` states. It
is a thin view over a :class:`~flowtrace.tui.navigator.Navigator` (which owns the
cursor and all navigation), with three duties of its own:

* **never block**: a trace file loads in a worker thread, chunk by chunk, and the
  screen is usable as soon as the first chunk is in; long free-text scans (filter,
  search) run in a worker too;
* **repaint at most every ``debounce`` seconds**: keys only move the cursor (cheap);
  a held-down key coalesces into one repaint per interval;
* **one key table** (:mod:`flowtrace.tui.keys`) drives the bindings, the help screen
  and the command palette.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.timer import Timer

from flowtrace.diff import DiffReport
from flowtrace.replay import Replay

from .against import Comparison, compare_files
from .keys import KEYMAP, bindings
from .loader import Runs, load_into
from .navigator import LARGE_SCAN, Navigator, Query, parse_query
from .render import diff_text, event_details, node_details
from .screens import HelpScreen, PickScreen, TextScreen
from .widgets import (
    EventLog,
    GraphView,
    HeaderBar,
    Inspector,
    KeyBar,
    NodeTable,
    PositionBar,
    PromptLine,
)

__all__ = ["ReplayApp", "SPEEDS"]

#: Play speeds, events per second.
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500)


class ReplayApp(App[None]):
    """The debugger. Give it ``runs`` (already in memory) or ``path`` (loaded in a
    worker). ``debounce`` is the minimum time between repaints (0 repaints on every
    key, which tests use). ``against``: a second trace; the worker also compares the
    two (:mod:`flowtrace.tui.against`) and the app opens at their first divergence."""

    TITLE = "flowtrace tui"
    AUTO_FOCUS = None
    BINDINGS = bindings()  # type: ignore[assignment]
    CSS = """
    Screen { layout: vertical; }
    #header { height: 1; background: $panel; }
    #main { height: 1fr; }
    #left { width: 58%; }
    #right { width: 42%; }
    #log { height: 1fr; border: round $primary; scrollbar-size-vertical: 1; }
    #inspector { height: 13; border: round $secondary; scrollbar-size-vertical: 1; }
    #nodes { height: auto; max-height: 45%; border: round $secondary; }
    #graph-box { height: 1fr; border: round $secondary; scrollbar-size-vertical: 1; }
    #bar { height: 1; }
    #keys { height: 1; background: $panel; }
    #prompt { height: 1; border: none; padding: 0 1; display: none; }
    """

    def __init__(
        self,
        *,
        runs: Runs | None = None,
        path: str | None = None,
        name: str = "trace",
        debounce: float = 0.03,
        against: str | None = None,
    ) -> None:
        super().__init__()
        self.against = against
        self.comparison: Comparison | None = None
        self.runs = runs if runs is not None else Runs()
        self.path = path
        self.trace_name = name
        self.debounce = debounce
        self.run_index = 0
        self.nav: Navigator | None = None
        self.loading: float | None = 0.0 if path is not None else None
        self.load_error: str | None = None
        self.paints = 0
        self.playing = False
        self.speed = SPEEDS.index(10)
        self.last_diff: Text | None = None
        self.scanning = False
        self._last_paint = 0.0
        self._paint_timer: Timer | None = None
        self._play_timer: Timer | None = None

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield EventLog(id="log")
                yield Inspector(id="inspector")
            with Vertical(id="right"):
                yield NodeTable(id="nodes")
                with VerticalScroll(id="graph-box", can_focus=False):
                    yield GraphView(id="graph")
        yield PositionBar(id="bar")
        yield KeyBar(id="keys")
        yield PromptLine(id="prompt")

    def on_mount(self) -> None:
        self.query_one("#log").border_title = "events"
        self.query_one("#inspector").border_title = "inspector"
        self.query_one("#nodes").border_title = "nodes at cursor"
        self.query_one("#graph-box").border_title = "graph"
        if self.path is not None:
            self.run_worker(self._load, thread=True, exclusive=True, name="load",
                            group="load")
        elif self.runs.ids:
            self.open_run(0)
        self.paint_now()

    # ------------------------------------------------------------------ loading

    def _load(self) -> None:
        assert self.path is not None
        try:
            load_into(self.runs, self.path,
                      on_chunk=lambda f: self.call_from_thread(self._loaded_chunk, f))
        except Exception as exc:  # a bad file is shown, not raised into the UI loop
            self.call_from_thread(self._load_failed, f"{type(exc).__name__}: {exc}")
            return
        if self.against is not None:
            try:
                other = Runs()
                load_into(other, self.against)
                report = compare_files(self.path, self.against)
            except Exception as exc:
                self.call_from_thread(self._load_failed,
                                      f"comparing with {self.against}: "
                                      f"{type(exc).__name__}: {exc}")
                return
            self.call_from_thread(self._compared, other, report)

    def _compared(self, other: Runs, report: DiffReport) -> None:
        """Both traces are in: open run A at the first divergence."""
        self.open_run(report.a.run_number - 1)
        assert self.nav is not None
        b_nav = Navigator(other.replays[other.ids[report.b.run_number - 1]])
        self.comparison = Comparison(report, self.nav, b_nav,
                                     os.path.basename(self.against or "B"))
        self.comparison.first()
        self.paint_now()

    def _loaded_chunk(self, fraction: float) -> None:
        self.loading = None if fraction >= 1.0 else fraction
        if self.nav is None and self.runs.ids:
            self.open_run(0)
        self.request_paint()

    def _load_failed(self, message: str) -> None:
        self.loading = None
        self.load_error = message
        self.notify(message, title="cannot read the trace", severity="error", timeout=30)
        self.paint_now()

    def open_run(self, index: int) -> None:
        """Show run number ``index`` of the trace (breakpoints carry over)."""
        old = self.nav
        self.run_index = index
        nav = Navigator(self.runs.replays[self.runs.ids[index]])
        if old is not None:
            nav.breakpoint_kinds = old.breakpoint_kinds
            nav.breakpoint_nodes = old.breakpoint_nodes
        self.nav = nav
        self.query_one(EventLog).nav = nav
        if self.comparison is not None and old is not self.comparison.b:
            self.comparison = None  # another run of A: the comparison was of the old one

    @property
    def replay(self) -> Replay:
        assert self.nav is not None
        return self.nav.replay

    # ------------------------------------------------------------------ painting

    def request_paint(self) -> None:
        """Repaint now, or once at the end of the debounce interval."""
        if self.debounce <= 0:
            self.paint_now()
            return
        if self._paint_timer is not None:
            return
        wait = self._last_paint + self.debounce - time.monotonic()
        if wait <= 0:
            self.paint_now()
        else:
            self._paint_timer = self.set_timer(wait, self._timer_paint)

    def _timer_paint(self) -> None:
        self._paint_timer = None
        self.paint_now()

    def paint_now(self) -> None:
        self._last_paint = time.monotonic()
        self.paints += 1
        nav = self.nav
        header = self.query_one(HeaderBar)
        runs = len(self.runs.ids)
        run_id = self.runs.ids[self.run_index] if runs else "-"
        header.show(self.trace_name, run_id, runs, self.run_index, self._status())
        if nav is None or not len(nav.replay):
            message = self.load_error or ("loading…" if self.loading is not None
                                          else "this trace holds no events")
            self.query_one(Inspector).show(Text(message))
            return
        state = nav.replay.state_at(nav.cursor)
        self.query_one(EventLog).sync()
        self.query_one(NodeTable).show(state, nav.selected)
        self.query_one(GraphView).show(state, nav.selected)
        body = event_details(nav.replay, nav.replay.event(nav.cursor))
        divergence = self.comparison.at_cursor() if self.comparison is not None else None
        if divergence is not None and self.comparison is not None:
            body = self.comparison.details(divergence).append_text(body)
        if nav.selected is not None:
            body.append("\n")
            body.append_text(node_details(nav.replay, state, nav.selected))
        self.query_one(Inspector).show(body)
        self.query_one(PositionBar).show(nav, nav.message)

    def _status(self) -> str:
        parts: list[str] = []
        if self.loading is not None:
            parts.append(f"loading {self.loading:.0%}")
        if self.runs.damage:
            parts.append(f"damaged: {self.runs.damage}")
        nav = self.nav
        if nav is not None:
            if self.playing:
                parts.append(f"▶ playing {SPEEDS[self.speed]}/s")
            if nav.filter is not None:
                parts.append(f"filter {nav.filter.source!r}")
            if nav.breakpoint_kinds or nav.breakpoint_nodes:
                parts.append("breakpoints: " + ", ".join(
                    sorted(nav.breakpoint_kinds) + [f"node {n}" for n in
                                                    sorted(nav.breakpoint_nodes)]))
            if nav.mark is not None:
                parts.append(f"mark #{nav.mark}")
        if self.comparison is not None:
            parts.append(self.comparison.status())
        elif self.against is not None and self.loading is None and not self.load_error:
            parts.append("comparing…")
        if self.scanning:
            parts.append("scanning…")
        return "  ".join(parts)

    def _moved(self, _moved: bool = True) -> None:
        self.request_paint()

    def _with_nav(self, fn: Callable[[Navigator], object]) -> None:
        if self.nav is None or not len(self.nav.replay):
            return
        fn(self.nav)
        self.request_paint()

    # ------------------------------------------------------------------ actions: moving

    def action_step(self, delta: int) -> None:
        self._with_nav(lambda n: n.step(delta))

    def action_start(self) -> None:
        self._with_nav(lambda n: n.start())

    def action_end(self) -> None:
        self._with_nav(lambda n: n.end())

    def action_node_event(self, direction: int) -> None:
        self._with_nav(lambda n: n.node_event(direction > 0))

    def action_generation(self, direction: int) -> None:
        self._with_nav(lambda n: n.generation(direction > 0))

    def action_select_node(self, delta: int) -> None:
        self._with_nav(lambda n: n.select_node(delta))

    def action_unpin(self) -> None:
        self._with_nav(lambda n: n.unpin())

    def action_error(self, direction: int) -> None:
        self._with_nav(lambda n: n.error(direction > 0))

    def action_cycle_break(self, direction: int) -> None:
        self._with_nav(lambda n: n.cycle_break(direction > 0))

    def action_stall(self, direction: int) -> None:
        self._with_nav(lambda n: n.stall(direction > 0))

    def action_cancellation(self, direction: int) -> None:
        self._with_nav(lambda n: n.cancellation(direction > 0))

    def action_goto(self) -> None:
        def done(text: str | None) -> None:
            if text:
                self._with_nav(lambda n: n.goto(text))

        self.ask("Jump to event", "a seq (120), +10, -10 or 50%", "", done)

    # ------------------------------------------------------------------ the prompt line

    def ask(self, title: str, hint: str, value: str,
            done: Callable[[str | None], None]) -> None:
        """Ask for one line of text in place of the key bar (not a modal screen: closing
        a screen repaints everything, replacing one line repaints one line)."""
        prompt = self.query_one(PromptLine)
        prompt.open(title, hint, value, done)
        self.query_one(KeyBar).display = False
        if self.nav is not None:
            self.nav.message = f"{title} (enter: go, esc: cancel)"
        self.paint_now()

    def on_prompt_line_closed(self, message: PromptLine.Closed) -> None:
        self.query_one(KeyBar).display = True
        self.set_focus(None)
        if self.nav is not None:
            self.nav.message = ""
        message.done(message.value)
        self.request_paint()

    # ------------------------------------------------------------------ breakpoints

    def action_kind_breakpoint(self) -> None:
        self._with_nav(lambda n: n.toggle_kind_breakpoint())

    def action_node_breakpoint(self) -> None:
        self._with_nav(lambda n: n.toggle_node_breakpoint())

    def action_clear_breakpoints(self) -> None:
        def clear(n: Navigator) -> None:
            n.breakpoint_kinds.clear()
            n.breakpoint_nodes.clear()
            n.message = "breakpoints cleared"

        self._with_nav(clear)

    def action_continue(self, direction: int) -> None:
        self._with_nav(lambda n: n.continue_(direction > 0))

    # ------------------------------------------------------------------ filter / search

    def _scan(self, query: Query, done: Callable[[list[int]], None]) -> None:
        """All matches of a free-text query; off the UI thread for big runs."""
        nav = self.nav
        assert nav is not None
        indexed = nav.indexed_matches(query)
        if indexed is not None:
            done(indexed)
            return
        if len(nav.replay) <= LARGE_SCAN:
            done(nav.scan(query))
            return
        self.scanning = True
        self.request_paint()

        def work() -> None:
            matches = nav.scan(query)
            self.call_from_thread(finish, matches)

        def finish(matches: list[int]) -> None:
            self.scanning = False
            if self.nav is nav:
                done(matches)

        self.run_worker(work, thread=True, exclusive=True, group="scan", name="scan")

    def action_filter(self) -> None:
        nav = self.nav
        if nav is None:
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            if not text.strip():
                self._with_nav(lambda n: n.set_filter(None))
                return
            query = parse_query(text)
            self._scan(query, lambda m: self._with_nav(lambda n: n.set_filter(query, m)))

        self.ask("Filter: show only matching events",
                 "words to match, kind:NodeErrored, node:ID (empty clears)",
                 nav.filter.source if nav.filter else "", done)

    def action_clear_filter(self) -> None:
        self._with_nav(lambda n: n.set_filter(None))

    def action_search(self) -> None:
        nav = self.nav
        if nav is None:
            return

        def done(text: str | None) -> None:
            if text:
                self.search_for(text)

        self.ask("Search: move to the next matching event", "words, kind:NAME, node:ID",
                 nav.search.source if nav.search else "", done)

    def search_for(self, text: str, forward: bool = True) -> None:
        """Set the search and move to its next match (n / N repeat it)."""
        query = parse_query(text)
        nav = self.nav
        if nav is None:
            return
        nav.search = query
        self._find(forward)

    def _find(self, forward: bool) -> None:
        nav = self.nav
        if nav is None:
            return
        query = nav.search
        if query is None:
            nav.message = "no search yet (press /)"
            self.request_paint()
            return

        def done(matches: list[int]) -> None:
            self._with_nav(lambda n: n.go_to_match(matches, forward, query.source))

        self._scan(query, done)

    def action_find(self, direction: int) -> None:
        self._find(direction > 0)

    # ------------------------------------------------------------------ playing

    def action_play(self) -> None:
        if self.nav is None:
            return
        if self.playing:
            self._stop_play("paused")
        else:
            self.playing = True
            self._start_timer()
        self.request_paint()

    def _start_timer(self) -> None:
        if self._play_timer is not None:
            self._play_timer.stop()
        self._play_timer = self.set_interval(1 / SPEEDS[self.speed], self.play_tick)

    def _stop_play(self, why: str) -> None:
        self.playing = False
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None
        if self.nav is not None:
            self.nav.message = why

    def play_tick(self) -> None:
        """One step of play: stops at the end and on a breakpoint."""
        nav = self.nav
        if nav is None or not self.playing:
            return
        if not nav.step(1):
            self._stop_play("end of run")
        elif nav.is_breakpoint(nav.replay.event(nav.cursor)):
            self._stop_play(f"breakpoint: {type(nav.replay.event(nav.cursor)).__name__}")
        self.request_paint()

    def action_speed(self, delta: int) -> None:
        self.speed = min(max(self.speed + delta, 0), len(SPEEDS) - 1)
        if self.nav is not None:
            self.nav.message = f"speed {SPEEDS[self.speed]} events/s"
        if self.playing:
            self._start_timer()
        self.request_paint()

    # ------------------------------------------------------------------ lineage, marks

    def action_producer(self) -> None:
        nav = self.nav
        if nav is None or not len(nav.replay):
            return
        targets = nav.producer_targets()
        if len(targets) <= 1:
            self._with_nav(lambda n: n.jump_to_producer(0))
            return

        def done(index: int | None) -> None:
            if index is not None:
                self._with_nav(lambda n: n.jump_to_producer(index))

        self.push_screen(PickScreen("Which input's producer?",
                                    [f"{label}  → event #{seq}" for label, seq in targets]),
                         done)

    def action_jump_back(self) -> None:
        self._with_nav(lambda n: n.back())

    def action_jump_forward(self) -> None:
        self._with_nav(lambda n: n.forward())

    def action_mark(self) -> None:
        self._with_nav(lambda n: n.set_mark())

    def action_diff(self) -> None:
        nav = self.nav
        if nav is None or not len(nav.replay):
            return
        if nav.mark is None:
            nav.message = "mark a position first (m), then move and press d"
            self.request_paint()
            return
        a, b = sorted((nav.mark, nav.cursor))
        self.last_diff = diff_text(nav.replay.diff(a, b))
        self.push_screen(TextScreen(f"Diff #{a} → #{b}", self.last_diff))

    # ------------------------------------------------------------------ --against B

    def action_divergence(self, direction: int) -> None:
        comparison = self.comparison
        if comparison is None:
            if self.nav is not None:
                self.nav.message = ("no second run to compare with: open with "
                                    "`flowtrace tui A --against B`")
            self.request_paint()
            return
        comparison.step(direction > 0)
        self.request_paint()

    def action_other_side(self) -> None:
        comparison = self.comparison
        if comparison is None:
            self.action_divergence(0)
            return
        nav = comparison.toggle()
        self.nav = nav
        self.query_one(EventLog).nav = nav
        self.paint_now()

    # ------------------------------------------------------------------ runs, help

    def action_runs(self) -> None:
        if len(self.runs.ids) <= 1:
            if self.nav is not None:
                self.nav.message = "this trace holds a single run"
            self.request_paint()
            return
        labels = []
        for run_id in self.runs.ids:
            replay = self.runs.replays[run_id]
            final = replay.final_state()
            labels.append(f"{run_id}  {len(replay):,} events  {final.outcome or 'incomplete'}")

        def done(index: int | None) -> None:
            if index is not None:
                self.open_run(index)
                self.request_paint()

        self.push_screen(PickScreen("Runs in this trace", labels, self.run_index), done)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def on_event_log_clicked(self, message: EventLog.Clicked) -> None:
        self._with_nav(lambda n: n.go(message.seq, jump=False))

    # ------------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for spec in KEYMAP:
            if spec.action in ("command_palette", "quit", "help"):
                continue
            keys = escape(", ".join(spec.display_keys()))
            yield SystemCommand(f"{spec.label} · {keys}", escape(spec.help),
                                partial(self.run_action, spec.action))
