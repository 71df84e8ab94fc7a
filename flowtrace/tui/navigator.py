"""The debugger's position and how it moves: a model without any widget.

Everything the keys do — step, jump, breakpoints, filter, search, marks, the jump
history — is a method here that changes ``cursor`` (a seq) and returns whether it
moved. The Textual app only maps keys to these methods and repaints, so navigation is
tested directly and behaves the same in the command palette, on keys and in tests.

The navigator holds indexes and small sets; the filtered view is a list of seqs owned
here (never by a widget), and widgets ask for the rows they show.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flowtrace.events import EVENT_TYPES_BY_NAME, Event
from flowtrace.replay import Replay, event_nodes

from .lanes import Timeline, TimeWindow, format_offset, parse_time
from .query import Query, parse_query, scan_events
from .render import event_row

__all__ = ["Navigator", "Query", "parse_query"]

#: Above this many events, a free-text filter is computed off the UI thread.
LARGE_SCAN = 50_000


@dataclass
class Navigator:
    """Cursor and navigation state over one run's :class:`Replay`."""

    replay: Replay
    cursor: int = 0
    selected: str | None = None
    pinned: bool = False
    breakpoint_kinds: set[str] = field(default_factory=set)
    breakpoint_nodes: set[str] = field(default_factory=set)
    filter: Query | None = None
    filtered: list[int] | None = None
    search: Query | None = None
    mark: int | None = None
    history: list[int] = field(default_factory=list)
    forward_history: list[int] = field(default_factory=list)
    message: str = ""
    timeline: Timeline = field(default_factory=Timeline)
    window: TimeWindow = field(default_factory=TimeWindow)

    def __post_init__(self) -> None:
        if len(self.replay):
            self.cursor = self.replay.first_seq
            self._follow()

    # ------------------------------------------------------------ rows (the log)

    def row_count(self) -> int:
        return len(self.filtered) if self.filtered is not None else len(self.replay)

    def seq_of_row(self, row: int) -> int:
        if self.filtered is not None:
            return self.filtered[row]
        return self.replay.seq_at(row)

    def row_of_cursor(self) -> int:
        """The log row holding the cursor (with a filter: the nearest row at or before)."""
        if self.filtered is not None:
            i = bisect.bisect_right(self.filtered, self.cursor) - 1
            return max(0, i)
        return self.replay.pos_of(self.cursor) if len(self.replay) else 0

    # ------------------------------------------------------------ moving

    def _follow(self) -> None:
        if self.pinned or not len(self.replay):
            return
        node = self.replay.node_of(self.replay.event(self.cursor))
        if node is not None:
            self.selected = node
        elif self.selected is None:
            ids = self.replay.node_ids()
            self.selected = ids[0] if ids else None

    def go(self, seq: int | None, *, jump: bool = True, why: str = "") -> bool:
        """Move to ``seq`` (clamped). A *jump* is remembered in the history."""
        if seq is None or not len(self.replay):
            if why:
                self.message = f"no {why}"
            return False
        seq = self.replay.clamp(seq)
        if seq == self.cursor:
            if why:
                self.message = f"no {why}"
            return False
        if jump:
            self.history.append(self.cursor)
            del self.history[:-200]
            self.forward_history.clear()
        self.cursor = seq
        self.message = why and f"at {why}"
        self._follow()
        return True

    def step(self, delta: int) -> bool:
        """±N rows of the log (respecting the filter)."""
        if not len(self.replay):
            return False
        if self.filtered is not None:
            if not self.filtered:
                return False
            row = self.row_of_cursor()
            if delta < 0 and self.filtered[row] != self.cursor:
                delta += 1  # cursor sits between rows: the row at or before counts as one
            row = min(max(row + delta, 0), len(self.filtered) - 1)
            return self.go(self.filtered[row], jump=False)
        pos = self.replay.pos_of(self.cursor) + delta
        pos = min(max(pos, 0), len(self.replay) - 1)
        return self.go(self.replay.seq_at(pos), jump=False)

    def start(self) -> bool:
        return self.go(self.filtered[0] if self.filtered else self.replay.first_seq)

    def end(self) -> bool:
        return self.go(self.filtered[-1] if self.filtered else self.replay.last_seq)

    def _next(self, seqs: Sequence[int], forward: bool, why: str, jump: bool = True) -> bool:
        target = (Replay.next_in if forward else Replay.prev_in)(seqs, self.cursor)
        return self.go(target, jump=jump, why=why)

    def node_event(self, forward: bool) -> bool:
        """Previous / next event of the selected node."""
        if self.selected is None:
            return False
        return self._next(
            self.replay.events_of_node(self.selected),
            forward,
            f"{'next' if forward else 'previous'} event of {self.selected}",
            jump=False,
        )

    def generation(self, forward: bool) -> bool:
        """Previous / next evaluation (generation start) of the selected node."""
        if self.selected is None:
            return False
        return self._next(
            self.replay.evaluations_of(self.selected),
            forward,
            f"{'next' if forward else 'previous'} generation of {self.selected}",
            jump=False,
        )

    def error(self, forward: bool) -> bool:
        return self._next(
            self.replay.error_seqs, forward, f"{'next' if forward else 'previous'} error"
        )

    def cycle_break(self, forward: bool) -> bool:
        return self._next(
            self.replay.cycle_break_seqs,
            forward,
            f"{'next' if forward else 'previous'} cycle break",
        )

    def stall(self, forward: bool) -> bool:
        return self._next(
            self.replay.stall_seqs, forward, f"{'next' if forward else 'previous'} stall"
        )

    def cancellation(self, forward: bool) -> bool:
        return self._next(
            self.replay.cancel_seqs, forward, f"{'next' if forward else 'previous'} cancellation"
        )

    def select_node(self, delta: int) -> None:
        """Select the next / previous node (pins the selection until an explicit
        unpin, so stepping keeps following that node)."""
        ids = list(self.replay.node_ids())
        if not ids:
            return
        i = (ids.index(self.selected) + delta) % len(ids) if self.selected in ids else 0
        self.selected = ids[i]
        self.pinned = True
        self.message = f"selected {self.selected} (pinned; esc follows the cursor again)"

    def unpin(self) -> None:
        self.pinned = False
        self._follow()

    # ------------------------------------------------------------ breakpoints

    def toggle_kind_breakpoint(self) -> str:
        kind = type(self.replay.event(self.cursor)).__name__
        if kind in self.breakpoint_kinds:
            self.breakpoint_kinds.discard(kind)
            self.message = f"breakpoint on {kind} removed"
        else:
            self.breakpoint_kinds.add(kind)
            self.message = f"breakpoint on every {kind}"
        return kind

    def toggle_node_breakpoint(self) -> str | None:
        node = self.selected
        if node is None:
            return None
        if node in self.breakpoint_nodes:
            self.breakpoint_nodes.discard(node)
            self.message = f"breakpoint on node {node} removed"
        else:
            self.breakpoint_nodes.add(node)
            self.message = f"breakpoint on every event of node {node}"
        return node

    def is_breakpoint(self, event: Event) -> bool:
        if type(event).__name__ in self.breakpoint_kinds:
            return True
        if not self.breakpoint_nodes:
            return False
        owner = self.replay.node_of(event)
        return owner in self.breakpoint_nodes or bool(
            set(event_nodes(event)) & self.breakpoint_nodes
        )

    def breakpoint_target(self, forward: bool) -> int | None:
        """Seq of the next (previous) breakpoint hit, found through the indexes."""
        pick = Replay.next_in if forward else Replay.prev_in
        candidates: list[int] = []
        for name in self.breakpoint_kinds:
            cls = EVENT_TYPES_BY_NAME.get(name)
            if cls is not None:
                s = pick(self.replay.events_of_kind(cls), self.cursor)
                if s is not None:
                    candidates.append(s)
        for node in self.breakpoint_nodes:
            s = pick(self.replay.events_of_node(node), self.cursor)
            if s is not None:
                candidates.append(s)
        if not candidates:
            return None
        return min(candidates) if forward else max(candidates)

    def continue_(self, forward: bool) -> bool:
        if not (self.breakpoint_kinds or self.breakpoint_nodes):
            self.message = "no breakpoints set (b: on this event's kind, B: on the node)"
            return False
        target = self.breakpoint_target(forward)
        if target is None:
            self.message = "no breakpoint hit " + ("ahead" if forward else "behind")
            return False
        moved = self.go(target)
        self.message = f"breakpoint: {type(self.replay.event(target)).__name__}"
        return moved

    # ------------------------------------------------------------ filter / search

    def indexed_matches(self, query: Query) -> list[int] | None:
        """Matches computed from indexes alone (kind/node terms), else ``None``."""
        if not query.indexed_only():
            return None
        sets: list[set[int]] = []
        if query.kinds:
            s: set[int] = set()
            for name in query.kinds:
                cls = EVENT_TYPES_BY_NAME.get(name)
                if cls is not None:
                    s.update(self.replay.events_of_kind(cls))
            sets.append(s)
        if query.nodes:
            s = set()
            for node in query.nodes:
                s.update(self.replay.events_of_node(node))
            sets.append(s)
        if not sets:
            return None
        return sorted(set.intersection(*sets))

    def query_problem(self, query: Query) -> str | None:
        """Why ``query`` cannot match anything: a ``kind:`` no event has, a ``node:``
        this run does not name (``None`` when it is fine)."""
        if query.unknown_kinds:
            kinds = ", ".join(sorted(query.unknown_kinds))
            return (
                f"unknown kind: {kinds} (kinds are event names such as NodeErrored; "
                "a prefix works: kind:stream)"
            )
        ids = self.replay.node_ids()
        missing = sorted(n for n in query.nodes if n not in ids)
        if missing:
            shown = ", ".join(ids[:8]) + (", …" if len(ids) > 8 else "")
            return f"unknown node: {', '.join(missing)} (this run's nodes: {shown})"
        return None

    def scan(self, query: Query, progress: Callable[[float], None] | None = None) -> list[int]:
        """All matching seqs, by looking at every event (for free-text queries; see
        :func:`~flowtrace.tui.query.scan_events`)."""
        n = len(self.replay)
        return scan_events(self.replay.iter_events(0, n), query, n, progress)

    def set_filter(self, query: Query | None, matches: list[int] | None = None) -> None:
        """Show only matching events (``None`` clears). ``matches`` may be precomputed
        (off the UI thread); otherwise it is computed here."""
        if query is None or not query.source.strip():
            self.filter = None
            self.filtered = None
            self.message = "filter cleared"
            return
        if matches is None:
            matches = self.indexed_matches(query)
            if matches is None:
                matches = self.scan(query)
        self.filter = query
        self.filtered = matches
        self.message = f"filter {query.source!r}: {len(matches)} event(s)"
        if matches:
            i = bisect.bisect_left(matches, self.cursor)
            if i == len(matches) or matches[i] != self.cursor:
                self.go(matches[min(i, len(matches) - 1)], jump=False)

    def find(self, forward: bool = True, query: Query | None = None) -> bool:
        """Move to the next (previous) event matching the search, wrapping around."""
        if query is not None:
            self.search = query
        q = self.search
        if q is None:
            self.message = "no search yet (press /)"
            return False
        matches = self.indexed_matches(q)
        if matches is None:
            matches = self.scan(q)
        return self.go_to_match(matches, forward, q.source)

    def go_to_match(self, matches: Sequence[int], forward: bool, source: str) -> bool:
        """Move to the match after (before) the cursor, wrapping around the run."""
        if not matches:
            self.message = f"no match for {source!r}"
            return False
        target = (Replay.next_in if forward else Replay.prev_in)(matches, self.cursor)
        if target is None:
            target = matches[0] if forward else matches[-1]
        if target == self.cursor:
            self.message = f"only match for {source!r}"
            return False
        moved = self.go(target)
        self.message = f"match for {source!r} ({len(matches)} in the run)"
        return moved

    # ------------------------------------------------------------ marks, history, lineage

    def set_mark(self) -> None:
        self.mark = self.cursor
        self.message = f"marked #{self.cursor} (d: diff with the cursor)"

    def back(self) -> bool:
        """Return to where the last jump left from."""
        if not self.history:
            self.message = "jump history is empty"
            return False
        self.forward_history.append(self.cursor)
        self.cursor = self.history.pop()
        self.message = "back"
        self._follow()
        return True

    def forward(self) -> bool:
        """Redo a jump undone by :meth:`back`."""
        if not self.forward_history:
            self.message = "nothing to go forward to"
            return False
        self.history.append(self.cursor)
        self.cursor = self.forward_history.pop()
        self.message = "forward"
        self._follow()
        return True

    def producer_targets(self) -> list[tuple[str, int]]:
        """(label, seq) of the events the values at the cursor came from."""
        return [(s.label, s.seq) for s in self.replay.sources(self.cursor) if s.seq is not None]

    def jump_to_producer(self, index: int = 0) -> bool:
        targets = self.producer_targets()
        if not targets:
            self.message = "this event's values came from no earlier event"
            return False
        label, seq = targets[min(index, len(targets) - 1)]
        moved = self.go(seq)
        self.message = f"producer of {label} (backspace: back)"
        return moved

    def goto(self, text: str) -> bool:
        """Jump to a seq typed by the user (``123``, ``+10``, ``-10``, ``50%``), or to
        a moment of the run (``+250ms``, ``1.5s``: the first event at or after it)."""
        text = text.strip().replace(",", "").replace("_", "")
        moment = parse_time(text)
        if moment is not None:
            return self.go_to_time(moment)
        try:
            if text.endswith("%"):
                frac = float(text[:-1]) / 100
                pos = int(frac * (len(self.replay) - 1))
                return self.go(self.replay.seq_at(max(0, min(pos, len(self.replay) - 1))))
            if re.fullmatch(r"[+-]\d+", text):
                return self.go(self.cursor + int(text))
            return self.go(int(text))
        except ValueError:
            self.message = f"not a position: {text!r} (try 120, +10, -10, 50%, +250ms or 1.5s)"
            return False

    # ------------------------------------------------------------ time

    def sync_time(self) -> None:
        """Bring the timeline up to the events published so far (cheap when none; a
        timeline the loader feeds is left to the loader)."""
        if not self.timeline.fed:
            self.timeline.update(self.replay)

    def time_of(self, seq: int) -> int:
        """When event ``seq`` happened, relative to the run's first event (ns)."""
        self.sync_time()
        return self.timeline.time_of(self.replay, seq)

    def go_to_time(self, moment: int) -> bool:
        """Move to the first event at or after ``moment`` (ns from the run's start)."""
        self.sync_time()
        seq = self.timeline.seq_at_time(self.replay, moment)
        if seq is None:
            self.message = "no events yet"
            return False
        moved = self.go(seq)
        self.window.show(self.timeline.time_of(self.replay, seq), self.timeline.end)
        self.message = f"at {format_offset(moment)}: #{seq} ({format_offset(self.time_of(seq))})"
        return moved

    def go_to_node_time(self, node: str, moment: int) -> bool:
        """Move to ``node``'s first event at or after ``moment`` (a click on its lane)."""
        self.sync_time()
        seqs = self.replay.events_of_node(node)
        times = self.timeline.times
        pos_of = self.replay.pos_of
        i = bisect.bisect_left(seqs, moment, key=lambda s: times[pos_of(s)])
        if i >= len(seqs):
            return False
        moved = self.go(seqs[i])
        self.message = f"{node} at {format_offset(self.time_of(seqs[i]))}"
        return moved

    def zoom(self, factor: float) -> None:
        """Zoom the timeline in (``factor`` < 1) or out around the cursor's moment."""
        self.sync_time()
        self.window.zoom(factor, self.time_of(self.cursor), self.timeline.end)
        self.message = self.window_text()

    def pan(self, fraction: float) -> None:
        """Move the timeline's window by ``fraction`` of its width."""
        self.sync_time()
        if self.window.fitted:
            self.message = "the whole run is shown (z zooms in)"
            return
        self.window.pan(fraction, self.timeline.end)
        self.message = self.window_text()

    def fit(self) -> None:
        """Show the whole run on the timeline."""
        self.window.fit()
        self.message = self.window_text()

    def time_step(self, cells: int, width: int) -> bool:
        """Move the cursor to the first event ``cells`` timeline cells later (earlier:
        the last event before that moment) — stepping through time, not events."""
        self.sync_time()
        a, b = self.window.bounds(self.timeline.end)
        dt = max(1, (b - a) // max(1, width))
        now = self.time_of(self.cursor)
        target: int | None
        if cells > 0:
            target = self.timeline.seq_at_time(self.replay, now + dt * cells)
            if target is not None and target <= self.cursor:
                target = None
        else:
            pos = self.replay.pos_of(self.cursor)
            times = self.timeline.times
            target = None
            if pos:
                i = bisect.bisect_left(times, now + dt * cells, 0, pos)
                if i >= pos:  # nothing in that span: the previous moment anything happened
                    i = bisect.bisect_left(times, times[pos - 1], 0, pos)
                target = self.replay.seq_at(i)
        moved = self.go(target, jump=False, why="later moment" if cells > 0 else "earlier moment")
        if moved:
            self.window.show(self.time_of(self.cursor), self.timeline.end)
            self.message = f"at {format_offset(self.time_of(self.cursor))}"
        return moved

    def window_text(self) -> str:
        """The timeline's window in words (the pane's subtitle, the messages)."""
        a, b = self.window.bounds(self.timeline.end)
        if self.window.fitted:
            return f"timeline: the whole run ({format_offset(b)})"
        return f"timeline: {format_offset(a)} … {format_offset(b)}"

    # ------------------------------------------------------------ export

    def view_seqs(self) -> Sequence[int]:
        """The seqs the log shows: the filter's matches, else every event."""
        if self.filtered is not None:
            return self.filtered
        return [self.replay.seq_at(i) for i in range(len(self.replay))]

    def export(self, path: str) -> int:
        """Write the events of the view to ``path`` (JSON lines for ``.json``/
        ``.jsonl``, else one log line each, with its time); return how many."""
        import msgspec

        seqs = self.view_seqs()
        as_json = path.endswith((".json", ".jsonl"))
        with open(path, "w", encoding="utf-8") as out:
            for seq in seqs:
                e = self.replay.event(seq)
                if as_json:
                    out.write(msgspec.json.encode(e).decode() + "\n")
                else:
                    row = event_row(e, self.replay.node_of(e))
                    out.write(f"{row[:7]} {format_offset(self.time_of(seq)):>8}{row[7:]}\n")
        return len(seqs)
