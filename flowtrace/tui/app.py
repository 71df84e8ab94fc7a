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
import threading
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
from .follow import POLL, LiveRecording, Tail
from .keys import KEYMAP, bindings
from .loader import CHUNK, FIRST_CHUNK, Runs, load_into
from .navigator import LARGE_SCAN, Navigator, Query, parse_query
from .render import diff_text, event_details, node_details
from .screens import HelpScreen, PickScreen, TextScreen
from .sidecar import RunMarks, load_sidecar, save_sidecar
from .timeline import Timeline, event_time_text, node_durations, node_time_text
from .timeline_pane import TimelinePane
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

__all__ = ["ReplayApp", "SPEEDS", "COMPACT_WIDTH", "COMPACT_HEIGHT", "SIDE_PANES"]

#: Seconds between two repaints while a trace is still loading (keys repaint at once).
LOADING_PAINT = 0.5

#: Below this many columns or rows the screen shows the log and one other pane.
COMPACT_WIDTH = 120
COMPACT_HEIGHT = 30
#: The panes ``v`` cycles through (in the compact layout: the one shown under the log).
SIDE_PANES = ("inspector", "nodes", "graph-box", "timeline")

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
    #header { height: auto; background: $panel; }
    #main { height: 1fr; }
    #left { width: 58%; }
    #right { width: 42%; }
    #log { height: 1fr; border: round $primary; scrollbar-size-vertical: 1; }
    #inspector { height: 13; border: round $secondary; scrollbar-size-vertical: 1; }
    #nodes { height: auto; max-height: 45%; border: round $secondary; }
    #graph-box { height: 1fr; border: round $secondary; scrollbar-size-vertical: 1; }
    #timeline { height: auto; max-height: 35%; border: round $secondary; }
    #inspector:focus, #nodes:focus, #graph-box:focus, #timeline:focus {
        border: round $accent;
    }
    .no-timeline #timeline { display: none; }
    #log.-maximized, #inspector.-maximized, #nodes.-maximized, #graph-box.-maximized,
    #timeline.-maximized {
        height: 1fr !important; max-height: 100% !important; width: 100%;
    }
    .compact #main { layout: vertical; }
    .compact #left, .compact #right { width: 100%; }
    .compact #left { height: 1fr; }
    .compact #inspector, .compact #right, .compact #nodes, .compact #graph-box,
    .compact #timeline { display: none; }
    .compact.side-inspector #inspector { display: block; height: 50%; }
    .compact.side-nodes #right, .compact.side-graph-box #right { display: block; height: 50%; }
    .compact.side-nodes #nodes { display: block; height: 1fr; max-height: 100%; }
    .compact.side-graph-box #graph-box { display: block; }
    .compact.side-timeline #timeline { display: block; height: 50%; max-height: 50%; }
    #bar { height: auto; }
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
        follow: bool = False,
        live: LiveRecording | None = None,
        keep_marks: bool = True,
    ) -> None:
        super().__init__()
        #: Per run: the mark, breakpoints, filter and search kept beside the trace.
        self.keep_marks = keep_marks and path is not None
        self.kept: dict[str, RunMarks] = load_sidecar(path) if self.keep_marks and path else {}
        self._restored: set[str] = set()
        self.against = against
        self.comparison: Comparison | None = None
        self.follow = follow or live is not None
        self.live = live
        self._stop_follow = threading.Event()
        self._seen_last: int | None = None
        self.runs = runs if runs is not None else Runs()
        self.path = path
        self.trace_name = name
        self.debounce = debounce
        self.run_index = 0
        self.nav: Navigator | None = None
        self.loading: float | None = 0.0 if path is not None else None
        self.load_error: str | None = None
        self.following = False
        self.copied: str | None = None
        self.paints = 0
        self.playing = False
        self.speed = SPEEDS.index(10)
        self.last_diff: Text | None = None
        self.scanning = False
        self.side = "inspector"
        #: Play stops at every error (a node raised, a deadlock, the run failed).
        self.stop_at_errors = True
        self._errors_cache: tuple[int, frozenset[int]] = (-1, frozenset())
        self._timelines: dict[str, Timeline] = {}
        self.compact = False
        self.show_timeline = True
        self._painted_cursor: int | None = None
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
                with VerticalScroll(id="graph-box", can_focus=True):
                    yield GraphView(id="graph")
        yield TimelinePane(id="timeline")
        yield PositionBar(id="bar")
        yield KeyBar(id="keys")
        yield PromptLine(id="prompt")

    def on_mount(self) -> None:
        self.query_one("#log").border_title = "events"
        self.query_one("#inspector").border_title = "inspector"
        self.query_one("#nodes").border_title = "nodes at cursor"
        self.query_one("#graph-box").border_title = "graph"
        self.query_one("#timeline").border_title = "timeline"
        self._layout_for(self.size.width, self.size.height)
        if self.path is not None and self.follow:
            self.following = True
            self.run_worker(
                self._follow_loop, thread=True, exclusive=True, name="follow", group="load"
            )
        elif self.path is not None:
            self.run_worker(self._load, thread=True, exclusive=True, name="load", group="load")
        elif self.runs.ids:
            self.open_run(0)
        self.paint_now()

    # ------------------------------------------------------------------ loading

    def _load(self) -> None:
        assert self.path is not None
        try:
            load_into(
                self.runs,
                self.path,
                on_chunk=lambda f: self.call_from_thread(self._loaded_chunk, f),
            )
        except Exception as exc:  # a bad file is shown, not raised into the UI loop
            self.call_from_thread(self._load_failed, f"{type(exc).__name__}: {exc}")
            return
        if self.against is not None:
            try:
                other = Runs()
                load_into(other, self.against)
                report = compare_files(self.path, self.against)
            except Exception as exc:
                self.call_from_thread(
                    self._load_failed, f"comparing with {self.against}: {type(exc).__name__}: {exc}"
                )
                return
            self.call_from_thread(self._compared, other, report)

    def _compared(self, other: Runs, report: DiffReport) -> None:
        """Both traces are in: open run A at the first divergence."""
        self.open_run(report.a.run_number - 1)
        assert self.nav is not None
        b_nav = Navigator(other.replays[other.ids[report.b.run_number - 1]])
        self.comparison = Comparison(report, self.nav, b_nav, os.path.basename(self.against or "B"))
        self.comparison.first()
        self.paint_now()

    def _follow_loop(self) -> None:
        """Read the file as it grows: a backlog in chunks, then a look every POLL s."""
        assert self.path is not None
        tail = Tail(self.path)
        limit = FIRST_CHUNK
        while not self._stop_follow.is_set():
            events = tail.poll(limit)
            if events:
                limit = CHUNK
                self.runs.add(events)
                self.call_from_thread(self._grew, tail.at_end())
                continue
            if self.loading is not None:
                self.call_from_thread(self._grew, True)
            live = self.live
            if live is not None and live.finished() and tail.at_end():
                self.call_from_thread(self._live_ended, live.process.returncode)
                return
            self._stop_follow.wait(POLL)

    def _grew(self, caught_up: bool) -> None:
        """New events arrived: the cursor follows them only if it was at the end."""
        if caught_up:
            self.loading = None
        if self.nav is None and self.runs.ids:
            self.open_run(0)
        self._restore()
        nav = self.nav
        if nav is not None and len(nav.replay):
            if self._seen_last is not None and nav.cursor == self._seen_last:
                nav.go(nav.replay.last_seq, jump=False)
            self._seen_last = nav.replay.last_seq
        self.request_paint()

    def _live_ended(self, code: int | None) -> None:
        self.following = False
        self.loading = None
        if self.nav is not None:
            self.nav.message = f"the script ended (exit status {code})"
        self.paint_now()

    def on_unmount(self) -> None:
        self._stop_follow.set()
        if self.keep_marks and self.path is not None:
            self._keep(self.nav)
            save_sidecar(self.path, self.kept)

    def _keep(self, nav: Navigator | None) -> None:
        """Remember what ``nav``'s run keeps between sessions."""
        if nav is None or nav.replay.run_id is None or not self.keep_marks:
            return
        if self.comparison is not None and nav is self.comparison.b:
            return  # the other trace's run: not this trace's to keep
        if nav.replay.run_id not in self._restored:
            return  # never shown whole: what was kept stays as it was
        self.kept[nav.replay.run_id] = RunMarks(
            nav.mark,
            sorted(nav.breakpoint_kinds),
            sorted(nav.breakpoint_nodes),
            nav.filter.source if nav.filter else None,
            nav.search.source if nav.search else None,
        )

    def _restore(self) -> None:
        """Once the trace is in: give the run shown what it kept last time."""
        nav = self.nav
        if nav is None or self.loading is not None or nav.replay.run_id is None:
            return
        run_id = nav.replay.run_id
        if run_id in self._restored:
            return
        self._restored.add(run_id)
        kept = self.kept.get(run_id)
        if kept is None or kept.empty():
            return
        nav.breakpoint_kinds.update(kept.breakpoint_kinds)
        nav.breakpoint_nodes.update(kept.breakpoint_nodes)
        if (
            kept.mark is not None
            and len(nav.replay)
            and (nav.replay.first_seq <= kept.mark <= nav.replay.last_seq)
        ):
            nav.mark = nav.replay.clamp(kept.mark)
        if kept.search:
            nav.search = parse_query(kept.search)
        if kept.filter:
            query = parse_query(kept.filter)
            self._scan(query, lambda m: self._with_nav(lambda n: n.set_filter(query, m)))
        nav.message = "restored the mark, breakpoints and filter of the last session"

    def _loaded_chunk(self, fraction: float) -> None:
        self.loading = None if fraction >= 1.0 else fraction
        first = self.nav is None
        if first and self.runs.ids:
            self.open_run(0)
        self._restore()
        if first or self.loading is None or self.debounce > LOADING_PAINT:
            self.request_paint()
        elif time.monotonic() - self._last_paint >= LOADING_PAINT:
            # while a big trace loads, a repaint (the timeline catching up, the
            # panes) every chunk would take the worker's time: a few per second do
            self.paint_now()

    def _load_failed(self, message: str) -> None:
        self.loading = None
        self.load_error = message
        self.notify(message, title="cannot read the trace", severity="error", timeout=30)
        self.paint_now()

    def open_run(self, index: int) -> None:
        """Show run number ``index`` of the trace (breakpoints carry over)."""
        old = self.nav
        self.run_index = index
        run_id = self.runs.ids[index]
        timeline = self._timelines.get(run_id)
        if timeline is None:  # built once per run: switching back costs nothing
            timeline = self._timelines[run_id] = Timeline()
        nav = Navigator(self.runs.replays[run_id], timeline=timeline)
        if old is not None:
            nav.breakpoint_kinds = old.breakpoint_kinds
            nav.breakpoint_nodes = old.breakpoint_nodes
        self._keep(old)
        self.nav = nav
        self.query_one(EventLog).nav = nav
        self._restore()
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
            message = self.load_error or (
                "loading…" if self.loading is not None else "no events: this trace holds no events"
            )
            self.query_one(EventLog).placeholder = message
            self.query_one(EventLog).refresh()
            self.query_one(Inspector).show(Text(message))
            return
        state = nav.replay.state_at(nav.cursor)
        nav.sync_time()
        tl = nav.timeline
        self.query_one(EventLog).sync()
        self.query_one(NodeTable).show(
            state, nav.selected, node_durations(tl, nav.replay, nav.cursor, list(state.order))
        )
        self.query_one(GraphView).show(state, nav.selected)
        timeline = self.query_one(TimelinePane)
        if timeline.display and (self.show_timeline or self.compact):
            timeline.show(
                nav,
                state,
                None
                if self.compact
                else min(len(tl.lanes) + 1, max(3, self.size.height * 35 // 100 - 2)),
            )
        event = nav.replay.event(nav.cursor)
        details = event_details(nav.replay, event)
        first = details.plain.find("\n") + 1  # when: right under the event's name
        body = details[:first]
        body.append_text(event_time_text(tl, nav.replay, event))
        body.append_text(details[first:])
        divergence = self.comparison.at_cursor() if self.comparison is not None else None
        if divergence is not None and self.comparison is not None:
            body = self.comparison.details(divergence).append_text(body)
        if nav.selected is not None:
            body.append("\n")
            body.append_text(node_details(nav.replay, state, nav.selected))
            body.append_text(node_time_text(tl, nav.replay, nav.selected, nav.cursor))
        inspector = self.query_one(Inspector)
        inspector.show(body)
        if self._painted_cursor != nav.cursor:
            inspector.scroll_home(animate=False, immediate=True)
            self._painted_cursor = nav.cursor
        self.query_one(PositionBar).show(nav, nav.message)

    def _status(self) -> str:
        parts: list[str] = []
        if self.loading is not None:
            parts.append(f"loading {self.loading:.0%}")
        if self.runs.damage:
            parts.append(f"damaged: {self.runs.damage}")
        if self.loading is None and not self.runs.ids and self.load_error is None:
            parts.append("no events")
        nav = self.nav
        if nav is not None:
            if self.playing:
                parts.append(f"▶ playing {SPEEDS[self.speed]}/s")
            if nav.filter is not None:
                parts.append(f"filter {nav.filter.source!r}")
            if nav.breakpoint_kinds or nav.breakpoint_nodes:
                parts.append(
                    "breakpoints: "
                    + ", ".join(
                        sorted(nav.breakpoint_kinds)
                        + [f"node {n}" for n in sorted(nav.breakpoint_nodes)]
                    )
                )
            if nav.mark is not None:
                parts.append(f"mark #{nav.mark}")
        if self.comparison is not None:
            parts.append(self.comparison.status())
        elif self.against is not None and self.loading is None and not self.load_error:
            parts.append("comparing…")
        if self.scanning:
            parts.append("scanning…")
        if self.following:
            parts.append("FOLLOWING (new events appear as they are written)")
        if nav is not None and len(nav.replay) and self.loading is None:
            parts.extend(self._ending(nav))
        return "  ".join(parts)

    def _ending(self, nav: Navigator) -> list[str]:
        """What the header says about how the run ended, when it did not (yet)."""
        from flowtrace.events import FlowFinished

        if nav.replay.events_of_kind(FlowFinished):
            return []
        nav.sync_time()
        running = nav.timeline.open_nodes()
        out = [
            "INCOMPLETE: no FlowFinished ("
            + ("still being written" if self.following else "killed, or still running")
            + ")"
        ]
        if running:
            out.append("executing at the end: " + ", ".join(running))
        return out

    # ------------------------------------------------------------------ layout

    def on_resize(self, event: Any) -> None:
        self._layout_for(event.size.width, event.size.height)
        self.call_after_refresh(self.paint_now)

    def _layout_for(self, width: int, height: int) -> None:
        """The wide layout (every pane) or, below 120×30, the log and one pane."""
        self.compact = width < COMPACT_WIDTH or height < COMPACT_HEIGHT
        screen = self.screen
        screen.set_class(self.compact, "compact")
        for name in SIDE_PANES:
            screen.set_class(name == self.side, f"side-{name}")
        screen.set_class(not self.show_timeline and not self.compact, "no-timeline")
        for name in SIDE_PANES:
            pane = self.query_one(f"#{name}")
            pane.border_subtitle = (
                "i: next pane  M: maximise" if self.compact and name == self.side else ""
            )

    def action_next_pane(self, delta: int) -> None:
        """Focus the next pane (compact: show it under the log); past the last, the log."""
        order = [*SIDE_PANES, None]
        focused = self.focused.id if self.focused is not None else None
        current = focused if focused in SIDE_PANES else None
        if self.compact and current is None and delta > 0 and self.side in SIDE_PANES:
            target: str | None = self.side  # first v focuses the pane on screen
        else:
            target = order[(order.index(current) + delta) % len(order)]
        if target is None:
            self.set_focus(None)
            message = "focus: the event log (arrows step)"
        else:
            if self.compact:
                self.side = target
                self._layout_for(self.size.width, self.size.height)
            if target == "timeline" and not self.show_timeline:
                self.show_timeline = True
                self._layout_for(self.size.width, self.size.height)
            self.set_focus(self.query_one(f"#{target}"))
            message = (
                f"focus: {target.removesuffix('-box')} (arrows scroll, i: next pane, M: maximise)"
            )
        if self.nav is not None:
            self.nav.message = message
        self.call_after_refresh(self.paint_now)

    def action_maximise(self) -> None:
        """Maximise the focused pane (the log when none is), or restore the layout."""
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
        else:
            widget = self.focused or self.query_one(EventLog)
            screen.maximize(widget, container=False)
        self.call_after_refresh(self.paint_now)

    def action_toggle_timeline(self) -> None:
        if self.compact:
            self.side = "inspector" if self.side == "timeline" else "timeline"
        else:
            self.show_timeline = not self.show_timeline
        self._layout_for(self.size.width, self.size.height)
        self.call_after_refresh(self.paint_now)

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
