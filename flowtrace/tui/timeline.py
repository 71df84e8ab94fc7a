"""Wall time drawn and told: the timeline pane's text, and time in the inspector.

:mod:`flowtrace.tui.lanes` builds each run's lanes (the intervals of every node);
this module draws any window of them as text (:func:`timeline_lines`: an axis and
one line per lane, each cell one bisection per kind, so the cost depends on the
pane's size, never on the run's length), and words the durations the inspector and
the node table show (:func:`event_time_text`, :func:`node_time_text`,
:func:`node_durations`). The lane model's names are importable from here too.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from rich.text import Text

from flowtrace.events import (
    Event,
    NodeErrored,
    NodeFinished,
    StreamCancelled,
    StreamEnded,
    StreamResumed,
)
from flowtrace.implied import status_change
from flowtrace.replay import Replay

from .lanes import (
    POINT_KINDS,
    SPAN_KINDS,
    STATUS_TYPES,
    Lane,
    Points,
    Spans,
    Timeline,
    TimeWindow,
    format_duration,
    format_offset,
    parse_time,
)

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
    "event_time_text",
    "node_time_text",
    "node_durations",
    "span_at",
    "SPAN_KINDS",
    "POINT_KINDS",
    "GLYPHS",
    "STYLES",
]

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
    if type(event) in STATUS_TYPES:
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
