"""Loading and following a trace: the worker threads, and what the UI does as the
events arrive.

A trace file loads in a worker thread (:func:`~flowtrace.tui.loader.load_into`),
which also builds each run's timeline; the UI hears of the first chunk (and the
loader waits until that first screen is painted), then at most every
:data:`LOADING_PAINT` seconds, and of the end. A followed file (``--follow``, a
script recorded while shown) is polled by :class:`~flowtrace.tui.follow.Tail`; a
file truncated, replaced or removed under it stops the following and is said.
What a run kept between sessions (marks, breakpoints, filter) is restored here once
its events are in.
"""

from __future__ import annotations

import os
import time

from flowtrace.diff import DiffReport
from flowtrace.replay import Replay

from .against import Comparison, compare_files
from .app_base import AppBase
from .follow import POLL, Tail
from .loader import CHUNK, FIRST_CHUNK, Runs, load_into
from .navigator import Navigator, parse_query
from .sidecar import RunMarks, save_sidecar
from .widgets import EventLog

__all__ = ["LoadingMixin", "LOADING_PAINT", "FIRST_PAINT_WAIT"]

#: Seconds between two repaints while a trace is still loading (keys repaint at once).
LOADING_PAINT = 0.5
#: At most this long the loader waits for the first screen to be painted.
FIRST_PAINT_WAIT = 2.0


class LoadingMixin(AppBase):
    """Getting the events in: loading, following, comparing, restoring."""

    def _load(self) -> None:
        assert self.path is not None
        told = [0.0]

        def on_chunk(fraction: float) -> None:
            # the UI hears of the first chunk (and waits to paint it before the
            # loader goes on), then at most every LOADING_PAINT s, and of the end
            now = time.monotonic()
            first = not told[0]
            if first or fraction >= 1.0 or now - told[0] >= LOADING_PAINT:
                told[0] = now
                self.call_from_thread(self._loaded_chunk, fraction)
                if first:
                    self._first_shown.wait(FIRST_PAINT_WAIT)

        try:
            load_into(self.runs, self.path, on_chunk=on_chunk)
        except Exception as exc:  # a bad file is shown, not raised into the UI loop
            self.call_from_thread(self._load_failed, f"{type(exc).__name__}: {exc}")
            return
        if self.against is not None:
            try:
                other = Runs(feed_timelines=True)  # B's lanes built here too
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
        b_id = other.ids[report.b.run_number - 1]
        b_nav = Navigator(other.replays[b_id], timeline=other.timeline(b_id))
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
            if tail.problem is not None:
                self.call_from_thread(self._follow_broken, tail.problem)
                return
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

    def _follow_broken(self, why: str) -> None:
        """The followed file is no longer the one read: stop, and say the events shown
        are what it held before (never pass them off as what it holds now)."""
        self.following = False
        self.loading = None
        self.stale = why
        name = os.path.basename(self.path or self.trace_name)
        message = (
            f"stopped following: {name} {why}; the events shown are what it held "
            "before, not what it holds now (open it again to see that)"
        )
        if self.nav is not None:
            self.nav.message = message
        self.notify(message, title="the followed file changed", severity="warning", timeout=30)
        self.paint_now()

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
        if first:
            self.paint_now()
            self.call_after_refresh(self._shown_first)
        elif self.loading is None or self.debounce > LOADING_PAINT:
            self.request_paint()
        elif time.monotonic() - self._last_paint >= LOADING_PAINT:
            # the loader tells the UI a few times per second; the panes the user did
            # not change (the cursor stays) are not painted again, only the progress
            self._paint_progress()

    def _shown_first(self) -> None:
        """The first screen with events is on the terminal: the loader goes on."""
        self.first_shown_at = time.perf_counter()
        self._first_shown.set()

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
        nav = Navigator(self.runs.replays[run_id], timeline=self.runs.timeline(run_id))
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
