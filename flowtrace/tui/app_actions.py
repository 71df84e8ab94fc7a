"""The debugger's actions: what each key (and the command palette) does.

Every action only asks the :class:`~flowtrace.tui.navigator.Navigator` to move or
change and then requests a repaint (coalesced: a held-down key repaints at most
once per ``debounce``); long free-text scans (filter, search) run in a worker.
The keys themselves are in :mod:`flowtrace.tui.keys`, one table for the bindings,
the help screen and the palette.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from textual.app import SystemCommand
from textual.markup import escape
from textual.screen import Screen

from .app_base import SPEEDS, AppBase
from .keys import KEYMAP
from .navigator import LARGE_SCAN, Navigator, Query, parse_query
from .render import diff_text
from .screens import HelpScreen, PickScreen, TextScreen
from .timeline_pane import TimelinePane
from .widgets import EventLog, Inspector, KeyBar, PromptLine

__all__ = ["ActionsMixin"]


class ActionsMixin(AppBase):
    """What the keys do: move, look up, filter, search, play, compare, copy, export."""

    # ------------------------------------------------------------------ actions: time

    def action_zoom(self, factor: float) -> None:
        self._with_nav(lambda n: n.zoom(factor))

    def action_pan(self, fraction: float) -> None:
        self._with_nav(lambda n: n.pan(fraction))

    def action_fit(self) -> None:
        self._with_nav(lambda n: n.fit())

    def action_time_step(self, cells: int) -> None:
        width = self.query_one(TimelinePane).layout_info.cells
        self._with_nav(lambda n: n.time_step(cells, width))

    def on_timeline_pane_clicked(self, message: TimelinePane.Clicked) -> None:
        def go(n: Navigator) -> None:
            if message.node is not None:
                if not n.go_to_node_time(message.node, message.moment):
                    n.go_to_time(message.moment)
            else:
                n.go_to_time(message.moment)

        self._with_nav(go)

    def _moved(self, _moved: bool = True) -> None:
        self.request_paint()

    def _with_nav(self, fn: Callable[[Navigator], object]) -> None:
        if self.nav is None or not len(self.nav.replay):
            if self.loading is not None:
                self.notify("still loading: the first events are not in yet", timeout=2)
            return
        with self.nav.timeline.lock:  # the loader may be adding to its lanes
            fn(self.nav)
        self._not_yet(self.nav)
        self.request_paint()

    def _not_yet(self, nav: Navigator) -> None:
        """A search that found nothing in a trace still loading has not looked at the
        rest of the file: say so instead of a plain "no next error"."""
        if self.loading is not None and nav.message.startswith(("no ", "only match")):
            nav.message += (
                f" in the {self.loading:.0%} loaded so far: still loading, "
                "try again when it is done"
            )

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

        self.ask(
            "Jump to event", "a seq (120), +10, -10, 50%, or a moment (+250ms, 1.5s)", "", done
        )

    # ------------------------------------------------------------------ the prompt line

    def ask(self, title: str, hint: str, value: str, done: Callable[[str | None], None]) -> None:
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
            if self._refused(query):
                return
            self._scan(query, lambda m: self._with_nav(lambda n: n.set_filter(query, m)))

        self.ask(
            "Filter: show only matching events",
            "words to match, kind:NodeErrored, node:ID (empty clears)",
            nav.filter.source if nav.filter else "",
            done,
        )

    def action_clear_filter(self) -> None:
        self._with_nav(lambda n: n.set_filter(None))

    def action_search(self) -> None:
        nav = self.nav
        if nav is None:
            return

        def done(text: str | None) -> None:
            if text:
                self.search_for(text)

        self.ask(
            "Search: move to the next matching event",
            "words, kind:NAME, node:ID",
            nav.search.source if nav.search else "",
            done,
        )

    def search_for(self, text: str, forward: bool = True) -> None:
        """Set the search and move to its next match (n / N repeat it)."""
        query = parse_query(text)
        nav = self.nav
        if nav is None:
            return
        nav.search = query
        if self._refused(query):
            return
        self._find(forward)

    def _refused(self, query: Query) -> bool:
        """Tell the user a term that can match nothing (and do not search)."""
        nav = self.nav
        problem = nav.query_problem(query) if nav is not None else None
        if nav is None or problem is None:
            return False
        if self.loading is not None and not query.unknown_kinds:
            problem += " — still loading, it may appear later"
        nav.message = problem
        self.request_paint()
        return True

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
        elif self.stop_at_errors and nav.cursor in self._error_set(nav):
            self._stop_play(f"stopped at an error (#{nav.cursor}); space plays on")
        elif nav.is_breakpoint(nav.replay.event(nav.cursor)):
            self._stop_play(f"breakpoint: {type(nav.replay.event(nav.cursor)).__name__}")
        self.request_paint()

    def _error_set(self, nav: Navigator) -> frozenset[int]:
        errors = nav.replay.error_seqs
        if self._errors_cache[0] != len(errors):
            self._errors_cache = (len(errors), frozenset(errors))
        return self._errors_cache[1]

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

        self.push_screen(
            PickScreen(
                "Which input's producer?", [f"{label}  → event #{seq}" for label, seq in targets]
            ),
            done,
        )

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
                self.nav.message = (
                    "no second run to compare with: open with `flowtrace tui A --against B`"
                )
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

    def action_copy(self, what: str) -> None:
        """Copy to the clipboard: the inspector's text (the event, its values, a
        traceback, the selected node), or the event under the cursor as JSON."""
        nav = self.nav
        if nav is None or not len(nav.replay):
            return
        event = nav.replay.event(nav.cursor)
        if what == "json":
            import msgspec

            text = msgspec.json.encode(event).decode()
            label = f"event #{nav.cursor} as JSON"
        else:
            text = self.query_one(Inspector).shown.plain.rstrip() + "\n"
            label = f"the inspector (#{nav.cursor})"
        self.copy_to_clipboard(text)
        self.copied = text
        nav.message = f"copied {label} to the clipboard ({len(text):,} characters)"
        self.request_paint()

    def action_export(self) -> None:
        """Write the events of the current view (the filter's, else the run's) to a
        file: JSON lines when the name ends in .json/.jsonl, else the log's text."""
        nav = self.nav
        if nav is None or not len(nav.replay):
            return
        default = f"{self.trace_name.split('.')[0]}-view.txt"

        def done(name: str | None) -> None:
            if not name:
                return
            try:
                count = nav.export(name.strip())
            except OSError as exc:
                nav.message = f"cannot write {name}: {exc.strerror or exc}"
            else:
                nav.message = f"wrote {count:,} event(s) to {name.strip()}"
            self.request_paint()

        self.ask(
            "Export the events shown to a file",
            "a file name (.jsonl: JSON lines, else text)",
            default,
            done,
        )

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
            yield SystemCommand(
                f"{spec.label} · {keys}", escape(spec.help), partial(self.run_action, spec.action)
            )
