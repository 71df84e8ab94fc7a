"""The lane model: one run's events turned into per-node intervals over wall time.

The trace records ``t_ns`` on every event; :class:`Timeline` turns a run into per-lane
lists of intervals *once* (incrementally, as a trace loads or grows), so that any
window of time is answered by bisection and a repaint's cost depends on the pane's
size, never on the run's length:

* a :class:`Spans` list keeps starts (sorted), ends and a running maximum of the ends:
  "does any interval meet this cell" is one bisection, whatever the intervals'
  number or overlap, which is how a million evaluations aggregate into 150 cells;
* :class:`Points` are instants (a stream item, an error, a cycle break);
* :class:`Timeline` also keeps the time of every event (a compact array), to answer
  "which event happened at this moment" (``:1.5s``, a click on the timeline);
* :class:`TimeWindow` is the window of time shown (zoomed and panned by keys).

Times are nanoseconds relative to the run's first event. A clock that steps back
(it should not: the recorder uses a monotonic clock) is flattened to its running
maximum, so lookups by time stay well defined.

A timeline can be built on the loading thread while the UI reads it: the builder
holds :attr:`Timeline.lock` while it changes the lanes, and a reader that must see
them whole (a repaint) holds it too. A timeline so *fed* (:attr:`Timeline.fed`) is
never updated by its readers. Drawing is :mod:`flowtrace.tui.timeline`'s job; this
module needs neither Rich nor Textual.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
import threading
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    "Lane",
    "Timeline",
    "TimeWindow",
    "format_duration",
    "format_offset",
    "parse_time",
    "SPAN_KINDS",
    "POINT_KINDS",
    "STATUS_TYPES",
]

#: The kinds of interval a lane holds, in drawing priority (first wins a cell).
SPAN_KINDS = ("stall", "wait", "eval", "queued")
#: The kinds of instant a lane holds, in drawing priority.
POINT_KINDS = ("error", "cycle", "item")
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
        starts = self.starts
        if starts:
            if start < starts[-1]:
                start = starts[-1]  # keep starts sorted (a clock step back)
            maxend = self.maxend[-1]
            cum = self.cum[-1]
        else:
            maxend = cum = 0
        if end < start:
            end = start
        # the running values first, the starts last: a reader bounded by len(starts)
        # never meets a half-added interval
        self.maxend.append(end if end > maxend else maxend)
        self.cum.append(cum + end - start)
        self.ends.append(end)
        self.seqs.append(seq)
        self.end_seqs.append(end_seq)
        starts.append(start)

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

    Built on another thread (the loader's), :meth:`update` holds :attr:`lock` while it
    changes the lanes; a reader that needs them whole holds it too (it is re-entrant).
    """

    def __init__(self) -> None:
        #: Held while the lanes change; a reader on another thread holds it to read.
        self.lock = threading.RLock()
        #: Built by whoever adds the events (the loader): readers never update it.
        self.fed = False
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
        if self._pos >= len(replay):
            return False
        with self.lock:
            self._update(replay)
        return True

    def feed(self, replay: Replay, events: Sequence[Event]) -> None:
        """Read ``events``, the events just appended to ``replay`` (the same, in
        order): the loader's way, in the pass that indexes them, without decoding
        them again from the replay's store."""
        with self.lock:
            if self._pos + len(events) != len(replay):  # not those: read the replay
                self._update(replay)
                return
            if not events:
                return
            times = self.times
            t_ns = list(map(_T_NS, events))
            if self.t0 is None:
                self.t0 = t_ns[0]
            t0 = self.t0
            first = len(times)
            last = times[-1] + t0 if times else t0
            # relative times, flattened to their running maximum; in C, not per event
            # (a clock that never steps back, as the recorder's, needs no flattening)
            if last <= t_ns[0] and all(map(operator.le, t_ns, itertools.islice(t_ns, 1, None))):
                times.extend(map(operator.sub, t_ns, itertools.repeat(t0)))
            else:
                flat = itertools.accumulate(t_ns, max, initial=last)
                next(flat)
                times.extend(map(operator.sub, flat, itertools.repeat(t0)))
            plans = _PLANS
            for i, e in enumerate(events, first):
                plan = plans.get(type(e))
                if plan is not None:
                    if plan[0]:
                        self._queue_time(e, times[i])
                    handler = plan[1]
                    if handler is not None:
                        handler(self, replay, e, times[i])
            self._pos += len(events)

    def _update(self, replay: Replay) -> None:
        n = len(replay)
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

    def _open_span(self, key: tuple[str, object], kind: str, t: int, seq: int) -> None:
        self._open[key] = (t, seq, kind)

    def _close_span(self, node: str, key: tuple[str, object], t: int, seq: int) -> None:
        opened = self._open.pop(key, None)
        if opened is not None:
            start, start_seq, kind = opened
            self.lane(node).spans[kind].add(start, t, start_seq, seq)

    def _apply(self, replay: Replay, e: Event, t: int) -> None:
        if type(e) in STATUS_TYPES:
            self._queue_time(e, t)
        handler = _APPLY.get(type(e))
        if handler is not None:
            handler(self, replay, e, t)

    def _queue_time(self, e: Event, t: int) -> None:
        """Time in the queue: from a change to queued to a change to any other."""
        change = status_change(e)
        if change is None:
            return
        who = change.node_id
        lanes = self.lanes
        if who not in lanes:
            self.lane(who)
        old = change.old
        was = self._status.get(who, "waiting") if old is None else old
        new = change.new
        if new == "queued":
            if was != "queued":
                self._open[(who, "queued")] = (t, e.seq, "queued")
        elif was == "queued":
            opened = self._open.pop((who, "queued"), None)
            if opened is not None:
                lanes[who].spans["queued"].add(opened[0], t, opened[1], e.seq)
        self._status[who] = new

    def _started(self, replay: Replay, e: NodeStarted, t: int) -> None:
        node = e.node_id
        if node not in self.lanes:
            self.lane(node)
        self._open[(node, "eval")] = (t, e.seq, "eval")

    def _finished(self, replay: Replay, e: NodeFinished, t: int) -> None:
        node = e.node_id
        opened = self._open.pop((node, "eval"), None)
        if opened is not None:
            self.lane(node).spans["eval"].add(opened[0], t, opened[1], e.seq)

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
STATUS_TYPES: frozenset[type[Event]] = frozenset(STATUS_KINDS)
#: The kinds of the events a timeline reads (the others only give it their time).
_RELEVANT_KINDS: frozenset[int] = frozenset(c.kind for c in (*_APPLY, *STATUS_KINDS))
_T_NS = operator.attrgetter("t_ns")
#: Per event class a timeline reads: (is or implies a status change, its handler).
_PLANS: dict[type[Event], tuple[bool, Callable[[Timeline, Replay, Any, int], None] | None]] = {
    c: (c in STATUS_TYPES, _APPLY.get(c)) for c in (*_APPLY, *STATUS_KINDS)
}


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
