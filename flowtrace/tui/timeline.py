"""Wall time: one lane per node, its evaluations, waits, stalls and items as spans.

The trace records ``t_ns`` on every event; this module turns a run into per-lane
lists of intervals *once* (incrementally, as a trace loads or grows) and draws any
window of time by bisection, so the cost of a repaint depends on the pane's size,
never on the run's length:

* a :class:`Spans` list keeps starts (sorted), ends and a running maximum of the ends:
  "does any interval meet this cell" is one bisection, whatever the intervals'
  number or overlap, which is how a million evaluations aggregate into 150 cells;
* :class:`Points` are instants (a stream item, an error, a cycle break);
* :class:`Timeline` also keeps the time of every event (a compact array), to answer
  "which event happened at this moment" (``:1.5s``, a click on the timeline).

Times are nanoseconds relative to the run's first event. A clock that steps back
(it should not: the recorder uses a monotonic clock) is flattened to its running
maximum, so lookups by time stay well defined.
"""

from __future__ import annotations

import bisect
import re
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from flowtrace.events import (
    DataEmitted,
    DeadlockDetected,
    Event,
    IOWaitBegan,
    IOWaitEnded,
    NodeErrored,
    NodeFinished,
    NodeStarted,
    SleepBegan,
    SleepEnded,
    SolutionFound,
    StreamCancelled,
    StreamEnded,
    StreamItemConsumed,
    StreamResumed,
    StreamStalled,
    WaitBegan,
    WaitEnded,
)
from flowtrace.implied import STATUS_KINDS, status_change
from flowtrace.replay import Replay

__all__ = [
    "Spans",
    "Points",
    "Layout",
    "Lane",
    "Timeline",
    "TimeWindow",
    "format_duration",
    "format_offset",
    "parse_time",
    "timeline_lines",
    "SPAN_KINDS",
    "GLYPHS",
]

#: The kinds of interval a lane holds, in drawing priority (first wins a cell).
SPAN_KINDS = ("stall", "wait", "eval", "queued")
#: The kinds of instant a lane holds, in drawing priority.
POINT_KINDS = ("error", "cycle", "item")

#: One glyph per kind (readable without colour, and in plain-text snapshots).
GLYPHS: dict[str, str] = {
    "error": "E",
    "cycle": "c",
    "stall": "░",
    "item": "•",
    "wait": "▒",
    "eval": "█",
    "queued": "·",
    "idle": " ",
}
STYLES: dict[str, str] = {
    "error": "bold red",
    "cycle": "bold magenta",
    "stall": "yellow",
    "item": "bold green",
    "wait": "blue",
    "eval": "green",
    "queued": "cyan",
    "idle": "",
}
#: Cell priority: what a cell shows when several things happened in it.
_PRIORITY = ("error", "cycle", "stall", "item", "wait", "eval", "queued")


def format_duration(ns: int) -> str:
    """``1.25s``, ``250ms``, ``12.5µs``, ``800ns``: three significant digits at most."""
    a = abs(ns)
    sign = "-" if ns < 0 else ""
    for unit, scale in (("s", 1_000_000_000), ("ms", 1_000_000), ("µs", 1_000)):
        if a >= scale:
            v = a / scale
            text = f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"
            text = text.rstrip("0").rstrip(".") if "." in text else text
            return f"{sign}{text}{unit}"
    return f"{sign}{a}ns"


def format_offset(ns: int) -> str:
    """A moment relative to the run's start: ``+250ms`` (the start itself: ``0``)."""
    if ns == 0:
        return "0"
    return ("+" if ns >= 0 else "") + format_duration(ns)


_TIME = re.compile(r"^\+?(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m)$")
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
}


def parse_time(text: str) -> int | None:
    """``+250ms``, ``1.5s``, ``40us`` → nanoseconds from the run's start; ``None`` when
    the text is not a time (a bare number is a seq, not a time)."""
    m = _TIME.match(text.strip().lower())
    if m is None:
        return None
    return round(float(m.group(1)) * _UNITS[m.group(2)])


class Spans:
    """Intervals ``[start, end]`` of one kind in one lane, appended in start order.

    ``maxend[i]`` is the largest end among the first ``i + 1`` intervals: the first
    index whose running maximum reaches ``t`` is the earliest-starting interval that
    is still going at ``t``, so "does any interval meet ``[a, b)``" is one bisection.
    """

    __slots__ = ("cum", "end_seqs", "ends", "maxend", "seqs", "starts")

    def __init__(self) -> None:
        self.cum = array("q")  # running total of the durations
        self.starts = array("q")
        self.ends = array("q")
        self.maxend = array("q")
        self.seqs = array("q")
        self.end_seqs = array("q")

    def __len__(self) -> int:
        return len(self.starts)

    def add(self, start: int, end: int, seq: int, end_seq: int) -> None:
        if self.starts and start < self.starts[-1]:
            start = self.starts[-1]  # keep starts sorted (a clock step back)
        end = max(end, start)
        self.starts.append(start)
        self.ends.append(end)
        self.maxend.append(max(end, self.maxend[-1]) if self.maxend else end)
        self.seqs.append(seq)
        self.end_seqs.append(end_seq)
        self.cum.append(end - start + (self.cum[-1] if self.cum else 0))

    def first_meeting(self, a: int, b: int) -> int:
        """Index of the earliest interval meeting ``[a, b)``, or -1."""
        i = bisect.bisect_left(self.maxend, a)
        if i < len(self.starts) and self.starts[i] < b:
            return i
        return -1

    def total(self, a: int, b: int) -> int:
        """Time covered within ``[a, b]`` (intervals of one lane rarely overlap; when
        they do, the overlap counts twice). Linear in the intervals met."""
        out = 0
        i = bisect.bisect_left(self.maxend, a)
        j = bisect.bisect_left(self.starts, b)
        for k in range(i, j):
            out += max(0, min(self.ends[k], b) - max(self.starts[k], a))
        return out


class Points:
    """Instants of one kind in one lane (times sorted, with the seq of each)."""

    __slots__ = ("seqs", "times")

    def __init__(self) -> None:
        self.times = array("q")
        self.seqs = array("q")

    def __len__(self) -> int:
        return len(self.times)

    def add(self, t: int, seq: int) -> None:
        self.times.append(t)
        self.seqs.append(seq)

    def first_in(self, a: int, b: int) -> int:
        i = bisect.bisect_left(self.times, a)
        return i if i < len(self.times) and self.times[i] < b else -1


@dataclass
class Lane:
    """One node's row: its spans by kind and its instants by kind."""

    node_id: str
    spans: dict[str, Spans] = field(default_factory=lambda: {k: Spans() for k in SPAN_KINDS})
    points: dict[str, Points] = field(default_factory=lambda: {k: Points() for k in POINT_KINDS})

    def cell(self, a: int, b: int) -> str:
        """What the cell ``[a, b)`` shows: the highest-priority kind met, or idle."""
        for kind in _PRIORITY:
            if kind in self.points:
                p = self.points[kind]
                if p.times and p.first_in(a, b) >= 0:
                    return kind
            else:
                s = self.spans[kind]
                if s.starts and s.first_meeting(a, b) >= 0:
                    return kind
        return "idle"


class Timeline:
    """The lanes of one run, built incrementally from a :class:`Replay`.

    :meth:`update` reads the events published since the last call (a trace still
    loading, or followed while it is written) and closes or opens intervals. An
    interval still open (a node executing when the trace ends) is drawn up to the
    last event's time and reported by :meth:`open_nodes`.
    """

    def __init__(self) -> None:
        self.lanes: dict[str, Lane] = {}
        self.t0: int | None = None
        self.times = array("q")  # per event position, relative, running maximum
        self._pos = 0
        self._open: dict[tuple[str, object], tuple[int, int, str]] = {}
        self._status: dict[str, str] = {}  # each node's status (explicit or implied)

    def __len__(self) -> int:
        return self._pos

    @property
    def end(self) -> int:
        """Time of the last event read (relative)."""
        return self.times[-1] if self.times else 0

    def lane(self, node_id: str) -> Lane:
        lane = self.lanes.get(node_id)
        if lane is None:
            lane = self.lanes[node_id] = Lane(node_id)
        return lane

    def update(self, replay: Replay) -> bool:
        """Read the events published since the last call; whether there were any."""
        n = len(replay)
        if self._pos >= n:
            return False
        times = self.times
        last = times[-1] if times else 0
        relevant = _RELEVANT_KINDS
        if self.t0 is None:
            self.t0 = replay.t_ns_at(0)
        t0 = self.t0
        for first in range(self._pos, n, 4096):
            stop = min(n, first + 4096)
            kinds = replay.kinds_between(first, stop)
            wanted: list[int] = []  # positions whose event must be read (decoded)
            for i, t_ns in enumerate(replay.t_ns_between(first, stop)):
                t = t_ns - t0
                if t < last:
                    t = last
                last = t
                times.append(t)
                if kinds[i] in relevant:
                    wanted.append(first + i)
            if wanted:  # decoded block by block, in order
                start = wanted[0]
                events = replay.iter_events(start, wanted[-1] + 1)
                j = 0
                for pos, e in enumerate(events, start):
                    if pos == wanted[j]:
                        self._apply(replay, e, times[pos])
                        j += 1
            self._pos = stop
        return True

    def _open_span(self, key: tuple[str, object], kind: str, t: int, seq: int) -> None:
        self._open[key] = (t, seq, kind)

    def _close_span(self, node: str, key: tuple[str, object], t: int, seq: int) -> None:
        opened = self._open.pop(key, None)
        if opened is not None:
            start, start_seq, kind = opened
            self.lane(node).spans[kind].add(start, t, start_seq, seq)

    def _apply(self, replay: Replay, e: Event, t: int) -> None:
        seq = e.seq
        if type(e) in _STATUS_TYPES:  # time in the queue: from queued to any other
            change = status_change(e)
            if change is not None:
                who = change.node_id
                was = self._status.get(who, "waiting") if change.old is None else change.old
                self.lane(who)
                if change.new == "queued" and was != "queued":
                    self._open_span((who, "queued"), "queued", t, seq)
                elif change.new != "queued" and was == "queued":
                    self._close_span(who, (who, "queued"), t, seq)
                self._status[who] = change.new
        handler = _APPLY.get(type(e))
        if handler is not None:
            handler(self, replay, e, t)

    def _started(self, replay: Replay, e: NodeStarted, t: int) -> None:
        self.lane(e.node_id)
        self._open_span((e.node_id, "eval"), "eval", t, e.seq)

    def _finished(self, replay: Replay, e: NodeFinished, t: int) -> None:
        self._close_span(e.node_id, (e.node_id, "eval"), t, e.seq)

    def _errored(self, replay: Replay, e: NodeErrored, t: int) -> None:
        self.lane(e.node_id).points["error"].add(t, e.seq)

    def _stalled(self, replay: Replay, e: StreamStalled, t: int) -> None:
        self._open_span((e.consumer, ("stall", e.port)), "stall", t, e.seq)

    def _unstalled(self, replay: Replay, e: StreamResumed | StreamEnded, t: int) -> None:
        self._close_span(e.consumer, (e.consumer, ("stall", e.port)), t, e.seq)

    def _task_waits(self, replay: Replay, e: SleepBegan | WaitBegan | IOWaitBegan, t: int) -> None:
        node = replay.node_of(e)
        if node is not None:
            self._open_span((node, ("task", e.task_id)), "wait", t, e.seq)

    def _task_woke(self, replay: Replay, e: SleepEnded | WaitEnded | IOWaitEnded, t: int) -> None:
        node = replay.node_of(e)
        if node is not None:
            self._close_span(node, (node, ("task", e.task_id)), t, e.seq)

    def _emitted(self, replay: Replay, e: DataEmitted, t: int) -> None:
        if e.run_level == 1:
            self.lane(e.node_id).points["item"].add(t, e.seq)

    def _item(self, replay: Replay, e: StreamItemConsumed, t: int) -> None:
        self.lane(e.consumer).points["item"].add(t, e.seq)

    def _solution(self, replay: Replay, e: SolutionFound, t: int) -> None:
        for cb in e.cycle_breaks:
            self.lane(cb.node_id).points["cycle"].add(t, e.seq)

    def _deadlock(self, replay: Replay, e: DeadlockDetected, t: int) -> None:
        for w in e.waiting:
            self.lane(w.node_id).points["error"].add(t, e.seq)

    # ------------------------------------------------------------ questions

    def time_of(self, replay: Replay, seq: int) -> int:
        """When event ``seq`` happened (relative); events not read yet: the end."""
        try:
            pos = replay.pos_of(seq)
        except KeyError:
            return self.end
        return self.times[pos] if pos < len(self.times) else self.end

    def seq_at_time(self, replay: Replay, t: int) -> int | None:
        """The first event at or after ``t`` (the last event when ``t`` is past it)."""
        if not self.times:
            return None
        pos = min(bisect.bisect_left(self.times, t), len(self.times) - 1)
        return replay.seq_at(pos)

    def open_nodes(self) -> list[str]:
        """Nodes whose evaluation started and has not finished (at the last event)."""
        return [k[0] for k, (_t, _s, kind) in self._open.items() if kind == "eval"]

    def _opened(self, node: str, kind: str) -> tuple[int, int] | None:
        """(start time, start seq) of ``node``'s open interval of ``kind``."""
        for (n, _key), (t, seq, k) in self._open.items():
            if n == node and k == kind:
                return t, seq
        return None

    def last_span(self, node: str, kind: str, seq: int) -> tuple[int, int, int, int] | None:
        """(start, end, start seq, end seq) of the last interval of ``kind`` of ``node``
        that started at or before event ``seq``. An interval still open when the trace
        ends has end seq -1 and ends at the last event's time."""
        lane = self.lanes.get(node)
        if lane is None:
            return None
        spans = lane.spans[kind]
        i = bisect.bisect_right(spans.seqs, seq) - 1
        opened = self._opened(node, kind)
        if opened is not None and opened[1] <= seq and (i < 0 or spans.seqs[i] < opened[1]):
            return opened[0], self.end, opened[1], -1
        if i < 0:
            return None
        return spans.starts[i], spans.ends[i], spans.seqs[i], spans.end_seqs[i]

    def total_before(self, node: str, kind: str, seq: int, t: int) -> int:
        """Time ``node`` spent in ``kind`` up to the moment ``t`` of event ``seq``
        (an interval still going is counted up to ``t``). O(log n): running totals."""
        lane = self.lanes.get(node)
        if lane is None:
            return 0
        spans = lane.spans[kind]
        j = bisect.bisect_right(spans.seqs, seq)
        total = spans.cum[j - 1] if j else 0
        if j and spans.ends[j - 1] > t:
            total -= spans.ends[j - 1] - max(t, spans.starts[j - 1])
        opened = self._opened(node, kind)
        if opened is not None and opened[1] <= seq:
            total += max(0, t - opened[0])
        return total


_APPLY: dict[type[Event], Callable[[Timeline, Replay, Any, int], None]] = {
    NodeStarted: Timeline._started,
    NodeFinished: Timeline._finished,
    NodeErrored: Timeline._errored,
    StreamStalled: Timeline._stalled,
    StreamResumed: Timeline._unstalled,
    StreamEnded: Timeline._unstalled,
    SleepBegan: Timeline._task_waits,
    WaitBegan: Timeline._task_waits,
    IOWaitBegan: Timeline._task_waits,
    SleepEnded: Timeline._task_woke,
    WaitEnded: Timeline._task_woke,
    IOWaitEnded: Timeline._task_woke,
    DataEmitted: Timeline._emitted,
    StreamItemConsumed: Timeline._item,
    SolutionFound: Timeline._solution,
    DeadlockDetected: Timeline._deadlock,
}
_STATUS_TYPES: frozenset[type[Event]] = frozenset(STATUS_KINDS)
#: The kinds of the events a timeline reads (the others only give it their time).
_RELEVANT_KINDS: frozenset[int] = frozenset(c.kind for c in (*_APPLY, *STATUS_KINDS))


@dataclass
class TimeWindow:
    """The visible window of time ``[start, end)`` (relative ns), zoomed and panned by
    keys. ``None`` bounds mean "the whole run" (it follows a trace that grows)."""

    start: int | None = None
    end: int | None = None

    def bounds(self, total: int) -> tuple[int, int]:
        if self.start is None or self.end is None:
            return 0, max(1, total)
        return self.start, max(self.start + 1, self.end)

    def fit(self) -> None:
        self.start = self.end = None

    @property
    def fitted(self) -> bool:
        return self.start is None

    def zoom(self, factor: float, around: int, total: int) -> None:
        """Scale the window by ``factor`` (< 1 zooms in) keeping ``around`` in place."""
        a, b = self.bounds(total)
        width = max(1, round((b - a) * factor))
        if width >= max(1, total) and factor > 1:
            self.fit()
            return
        width = max(width, 1_000)  # 1 µs across the pane is as close as it goes
        frac = (around - a) / max(1, b - a) if a <= around <= b else 0.5
        start = round(around - frac * width)
        start = min(max(0, start), max(0, total - width))
        self.start, self.end = start, start + width

    def pan(self, fraction: float, total: int) -> None:
        a, b = self.bounds(total)
        if self.fitted:
            return
        width = b - a
        start = min(max(0, a + round(width * fraction)), max(0, total - width))
        self.start, self.end = start, start + width

    def show(self, t: int, total: int) -> None:
        """Pan (keeping the zoom) so that the moment ``t`` is visible."""
        if self.fitted:
            return
        a, b = self.bounds(total)
        if a <= t < b:
            return
        width = b - a
        start = min(max(0, t - width // 2), max(0, total - width))
        self.start, self.end = start, start + width


@dataclass
class Layout:
    """Where :func:`timeline_lines` put things: the lanes drawn (top to bottom), the
    name column's width, the number of cells and the window they cover."""

    lanes: list[str] = field(default_factory=list)
    name_width: int = 0
    cells: int = 1
    start: int = 0
    end: int = 1

    def moment_at(self, x: int) -> int:
        """The moment under column ``x`` of a drawn line."""
        c = min(max(0, x - self.name_width), self.cells - 1)
        return self.start + (self.end - self.start) * c // self.cells


def _axis(edges: list[int], cells: int, name_width: int, cursor_cell: int | None) -> Text:
    """The time axis: a few labels (relative to the run's start) and the cursor ``▼``
    (a label that would cover it is left out)."""
    line = [" "] * cells
    step = max(12, cells // 5)
    for c in range(0, cells, step):
        label = "|" + format_offset(edges[c])
        if c + len(label) <= cells and not (
            cursor_cell is not None and c <= cursor_cell < c + len(label)
        ):
            line[c : c + len(label)] = list(label)
    text = Text(" " * name_width, style="dim")
    for i, ch in enumerate(line):
        if i == cursor_cell:
            text.append("▼", style="bold reverse")
        else:
            text.append(ch, style="dim")
    return text


def timeline_lines(
    timeline: Timeline,
    window: TimeWindow,
    width: int,
    rows: int,
    *,
    cursor_t: int | None = None,
    selected: str | None = None,
    order: list[str] | None = None,
    executing: frozenset[str] = frozenset(),
    layout: Layout | None = None,
) -> list[Text]:
    """The timeline drawn as text: an axis, then one lane per node (at most ``rows -
    1``, a window keeping ``selected`` in view). Cost: lanes × cells × log(spans).
    ``layout``, when given, receives the lanes drawn and the name column's width
    (to map a click back to a node and a moment)."""
    total = timeline.end
    a, b = window.bounds(total)
    ids = [n for n in (order or []) if n in timeline.lanes]
    ids += [n for n in timeline.lanes if n not in ids]
    name_width = min(14, max([len(n) for n in ids] + [4]) + 2)
    cells = max(1, width - name_width)
    span = max(1, b - a)

    def edge(c: int) -> int:
        return a + span * c // cells

    edges = [edge(c) for c in range(cells + 1)]
    cursor_cell = None
    if cursor_t is not None and a <= cursor_t <= b:  # the cell whose span holds it
        cursor_cell = min(cells - 1, max(0, bisect.bisect_right(edges, cursor_t) - 1))
    out = [_axis(edges, cells, name_width, cursor_cell)]
    lanes_room = max(0, rows - 1)
    if len(ids) > lanes_room:
        at = ids.index(selected) if selected in ids else 0
        first = min(max(0, at - lanes_room // 2), len(ids) - lanes_room)
        ids = ids[first : first + lanes_room]
    if layout is not None:
        layout.lanes, layout.name_width, layout.cells = list(ids), name_width, cells
        layout.start, layout.end = a, b
    for node in ids:
        lane = timeline.lanes[node]
        marker = "▶" if node == selected else "⚙" if node in executing else " "
        name = (marker + node)[: name_width - 1].ljust(name_width)
        text = Text(name, style="bold" if node == selected else "")
        run_kind, run = "", list[str]()
        for c in range(cells):
            kind = lane.cell(edges[c], max(edges[c + 1], edges[c] + 1))
            glyph = GLYPHS[kind]
            if c == cursor_cell:
                if run:
                    text.append("".join(run), style=STYLES[run_kind])
                    run = []
                text.append("│" if kind == "idle" else glyph, style="bold reverse")
                run_kind = ""
                continue
            if kind != run_kind and run:
                text.append("".join(run), style=STYLES[run_kind])
                run = []
            run_kind = kind
            run.append(glyph)
        if run:
            text.append("".join(run), style=STYLES[run_kind])
        out.append(text)
    return out


# ---------------------------------------------------------------- time as text


def span_at(
    timeline: Timeline, replay: Replay, node: str, kind: str, seq: int
) -> tuple[int, int, bool] | None:
    """(start, duration so far, still going) at event ``seq`` of ``node``'s last
    interval of ``kind`` that began at or before it."""
    span = timeline.last_span(node, kind, seq)
    if span is None:
        return None
    start, end, _start_seq, end_seq = span
    if end_seq == -1 or end_seq > seq:
        return start, max(0, timeline.time_of(replay, seq) - start), True
    return start, end - start, False


def event_time_text(timeline: Timeline, replay: Replay, event: Event) -> Text:
    """When an event happened, and the duration it ends (an evaluation, a stall, a
    time in the queue)."""
    seq = event.seq
    t = timeline.time_of(replay, seq)
    text = Text("  at ", style="dim")
    text.append(format_offset(t))
    pos = replay.pos_of(seq)
    if pos > 0 and pos < len(timeline.times):
        text.append(
            f"  ({format_offset(t - timeline.times[pos - 1])} after the previous event)",
            style="dim",
        )
    text.append("\n")
    ended: tuple[str, str, str] | None = None
    if isinstance(event, NodeFinished):
        ended = (event.node_id, "eval", "the evaluation took")
    elif isinstance(event, NodeErrored):
        ended = (event.node_id, "eval", "it had run for")
    elif isinstance(event, (StreamResumed, StreamEnded, StreamCancelled)):
        consumer = getattr(event, "consumer", None)
        if consumer is not None:
            ended = (consumer, "stall", f"{consumer} had stalled for")
    if type(event) in _STATUS_TYPES:
        # the event that took the node out of the queue (a NodeStarted, mostly)
        change = status_change(event)
        if change is not None and change.new != "queued":
            queued = timeline.last_span(change.node_id, "queued", seq)
            if queued is not None and queued[3] == seq:
                text.append(
                    f"  it had been queued for {format_duration(queued[1] - queued[0])}\n",
                    style="cyan",
                )
    if ended is not None:
        node, kind, words = ended
        span = span_at(timeline, replay, node, kind, seq)
        if span is not None and (kind == "eval" or span[0] < t or not span[2]):
            text.append(f"  {words} {format_duration(span[1])}\n", style="cyan")
    return text


def node_time_text(timeline: Timeline, replay: Replay, node: str, seq: int) -> Text:
    """The selected node's time at event ``seq``: its last (or current) evaluation,
    the queue wait before it, and its totals so far."""
    text = Text()
    t = timeline.time_of(replay, seq)
    run = span_at(timeline, replay, node, "eval", seq)
    if run is None:
        text.append("  time: has not run yet\n", style="dim")
        return text
    start, took, going = run
    if going:
        text.append(f"  time: running for {format_duration(took)} (since {format_offset(start)})")
    else:
        text.append(
            f"  time: last evaluation took {format_duration(took)} "
            f"({format_offset(start)} … {format_offset(start + took)})"
        )
    queued = span_at(timeline, replay, node, "queued", seq)
    if queued is not None and queued[0] <= start and not queued[2]:
        text.append(f", queued {format_duration(queued[1])} before")
    text.append("\n")
    busy = timeline.total_before(node, "eval", seq, t)
    stalled = timeline.total_before(node, "stall", seq, t)
    waited = timeline.total_before(node, "wait", seq, t)
    parts = [f"running {format_duration(busy)}"]
    if stalled:
        parts.append(f"stalled {format_duration(stalled)}")
    if waited:
        parts.append(f"waiting {format_duration(waited)}")
    text.append(f"  so far: {', '.join(parts)} (of {format_offset(t)})\n", style="dim")
    return text


def node_durations(
    timeline: Timeline, replay: Replay, seq: int, nodes: list[str]
) -> dict[str, str]:
    """node → its last evaluation's duration at ``seq`` (``…`` marks one still running),
    for the node table's time column."""
    out: dict[str, str] = {}
    for node in nodes:
        span = span_at(timeline, replay, node, "eval", seq)
        if span is not None:
            out[node] = format_duration(span[1]) + ("…" if span[2] else "")
    return out
