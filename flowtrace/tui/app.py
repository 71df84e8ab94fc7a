"""``flowtrace tui``: the time-travel debugger, a Textual app over a recorded trace.

This module is the screen: its panes, their layout (wide, or compact below 120×30)
and their painting. The app never runs the engine: it shows
:class:`~flowtrace.replay.Replay` states, as a thin view over a
:class:`~flowtrace.tui.navigator.Navigator` (which owns the cursor and all
navigation). Its other jobs live beside it: loading and following a trace
(:mod:`flowtrace.tui.app_loading`: a worker thread, the screen usable as soon as the
first chunk is in) and the actions the keys run (:mod:`flowtrace.tui.app_actions`,
driven by one key table, :mod:`flowtrace.tui.keys`). Painting is coalesced: at most
one repaint every ``debounce`` seconds, a held-down key costs one.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer

from .against import Comparison
from .app_actions import ActionsMixin
from .app_base import COMPACT_HEIGHT, COMPACT_WIDTH, SIDE_PANES, SPEEDS
from .app_loading import FIRST_PAINT_WAIT, LOADING_PAINT, LoadingMixin
from .follow import LiveRecording
from .keys import bindings
from .loader import Runs
from .navigator import Navigator
from .render import event_details, node_details
from .sidecar import RunMarks, load_sidecar
from .timeline import event_time_text, node_durations, node_time_text
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

__all__ = [
    "ReplayApp",
    "SPEEDS",
    "COMPACT_WIDTH",
    "COMPACT_HEIGHT",
    "SIDE_PANES",
    "LOADING_PAINT",
    "FIRST_PAINT_WAIT",
]


class ReplayApp(ActionsMixin, LoadingMixin):
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
        # a trace read from a file: the loading thread builds the timelines too
        self.runs = runs if runs is not None else Runs(feed_timelines=True)
        #: Set once the first screen with events is painted (the loader waits for it
        #: after the first chunk, so that the first screen is not slowed by the rest).
        self._first_shown = threading.Event()
        #: ``time.perf_counter()`` when that first screen was painted (for the bench).
        self.first_shown_at: float | None = None
        self.path = path
        self.trace_name = name
        self.debounce = debounce
        self.run_index = 0
        self.nav: Navigator | None = None
        self.loading: float | None = 0.0 if path is not None else None
        self.load_error: str | None = None
        self.following = False
        #: Why the followed file stopped being the one shown (truncated, replaced…).
        self.stale: str | None = None
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
        nav = self.nav
        if nav is None:
            self._paint()
            return
        with nav.timeline.lock:  # the loader may be adding to its lanes
            self._paint()

    def _timeline_rows(self, nav: Navigator) -> int | None:
        if self.compact:
            return None
        return min(len(nav.timeline.lanes) + 1, max(3, self.size.height * 35 // 100 - 2))

    def _paint(self) -> None:
        self._last_paint = time.monotonic()
        self.paints += 1
        nav = self.nav
        header = self.query_one(HeaderBar)
        runs = len(self.runs.ids)
        run_id = self.runs.ids[self.run_index] if runs else "-"
        header.show(self.trace_name, run_id, runs, self.run_index, self._status(), self._label())
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
            timeline.show(nav, state, self._timeline_rows(nav))
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

    def _paint_progress(self) -> None:
        """While a trace loads: the header (how much is in), the position bar and the
        timeline (the run so far); the other panes show the cursor, which has not
        moved."""
        nav = self.nav
        if nav is None or not len(nav.replay):
            self.paint_now()
            return
        self._last_paint = time.monotonic()
        self.paints += 1
        runs = len(self.runs.ids)
        header = self.query_one(HeaderBar)
        header.show(
            self.trace_name,
            self.runs.ids[self.run_index],
            runs,
            self.run_index,
            self._status(),
            self._label(),
        )
        self.query_one(PositionBar).show(nav, nav.message)
        timeline = self.query_one(TimelinePane)
        if timeline.display and (self.show_timeline or self.compact):
            with nav.timeline.lock:
                timeline.show(nav, nav.replay.state_at(nav.cursor), self._timeline_rows(nav))

    def _label(self) -> str | None:
        """The header's one word on what the screen shows: ``LIVE`` (a file still
        being written, followed), ``STALE`` (the followed file changed under it),
        ``INCOMPLETE`` (a run that did not finish); nothing for a finished run."""
        if self.stale is not None:
            return "STALE"
        if self.following:
            return "LIVE"
        nav = self.nav
        if self.loading is None and nav is not None and len(nav.replay) and self._unfinished(nav):
            return "INCOMPLETE"
        return None

    @staticmethod
    def _unfinished(nav: Navigator) -> bool:
        from flowtrace.events import FlowFinished

        return not nav.replay.events_of_kind(FlowFinished)

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
        if self.stale is not None:
            parts.append(f"the file {self.stale}: not following it any more")
        if nav is not None and len(nav.replay) and self.loading is None:
            parts.extend(self._ending(nav))
        return "  ".join(parts)

    def _ending(self, nav: Navigator) -> list[str]:
        """What the header says about how the run ended, when it did not (yet)."""
        if not self._unfinished(nav):
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
