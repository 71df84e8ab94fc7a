"""Spans as Chrome trace-event JSON, which Perfetto UI (ui.perfetto.dev),
``chrome://tracing`` (Catapult) and speedscope open.

Layout: one *process* per flow run (named after its root span and run id); *threads*
are tracks: one for the run itself (``flow.run``), then, in graph order, one per node
for its evaluations (with their ``<node>.item`` child slices), and one per consumer
port for ``<node>.consume`` slices (option ``stream_items="spans"``) — a node that
reads and produces a stream has consume and item slices that overlap without nesting,
and viewers of this format need every track to nest. Should anything else still
overlap partially, it moves to an extra track (``name (2)``), so every track nests
properly whatever the input.

Spans are complete events (``ph: "X"``, ``ts``/``dur`` in microseconds, as floats with
nanosecond precision, relative to the earliest span so the numbers stay exact), written
by start time with parents before their children. A slice that ends exactly where the
next slice of its track starts (consecutive stream items, reads) or where its parent
ends is drawn 1 ns shorter: viewers that compute ``ts + dur`` in floating point after
shifting times (speedscope) cannot tell such a tie from an overlap, and pair the end
with the wrong start.

Span events (stream items, status changes, barrier waits, exceptions) are
thread-scoped instant events (``ph: "i"``); lineage links are flow events drawn as
arrows between slices: ``ph: "s"`` inside the producer's slice when the data left it —
its end (1 ns before, so the arrow binds to that slice), or the moment a stream item
was read if the producer was still running — to ``ph: "f"``, ``bp: "e"`` where the
consumer took it (its start, or the read). speedscope shows the slices only; instants
and arrows are for Perfetto and Catapult.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowtrace.otel import attributes as A
from flowtrace.otel.model import Attributes, SpanRecord, parents_first

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["to_chrome", "write_chrome", "ChromeWriter"]

#: Track kinds, in display order under a node.
_EVALUATIONS = 0
_CONSUME = 1


def _args(attributes: Attributes) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in attributes.items()}


def _end(span: SpanRecord) -> int:
    return span.end_ns if span.end_ns is not None else span.start_ns


@dataclass(frozen=True, slots=True)
class _Track:
    """Where a slice goes: (run, node, kind, port) and the lane of that base track."""

    pid: int
    node_id: str | None
    kind: int
    port: int
    lane: int

    def name(self) -> str:
        if self.node_id is None:
            base = A.ROOT_SPAN_NAME
        elif self.kind == _CONSUME:
            base = f"{self.node_id}.consume port {self.port}"
        else:
            base = self.node_id
        return base if self.lane == 0 else f"{base} ({self.lane + 1})"


@dataclass(slots=True)
class _Layout:
    """Assigns every span a track on which all slices nest.

    Spans arrive parents first, by start time. Each base track has lanes; a lane keeps
    the slices still open at the current start (a stack, innermost last). A span goes
    to the first lane where it fits inside the innermost open slice (or where none is
    open) — lane 0 unless something overlaps without nesting.
    """

    lanes: dict[tuple[int, str | None, int, int], list[list[SpanRecord]]] = field(
        default_factory=dict
    )
    placed: dict[int, _Track] = field(default_factory=dict)
    #: span -> the innermost slice of its track it is drawn inside (None at top level).
    enclosing: dict[int, SpanRecord | None] = field(default_factory=dict)
    #: track -> every time a slice of it starts.
    starts: dict[_Track, set[int]] = field(default_factory=dict)

    def place(self, span: SpanRecord, pid: int) -> _Track:
        if span.node_id is None or span.kind == "flow":
            base: tuple[int, str | None, int, int] = (pid, None, _EVALUATIONS, 0)
        elif span.kind == "consume":
            port = span.attributes.get(A.PORT, 0)
            base = (pid, span.node_id, _CONSUME, port if isinstance(port, int) else 0)
        else:
            base = (pid, span.node_id, _EVALUATIONS, 0)
        start, end = span.start_ns, _end(span)
        lanes = self.lanes.setdefault(base, [])
        lane = next((i for i, stack in enumerate(lanes) if _fits(stack, start, end)), None)
        if lane is None:
            lane = len(lanes)
            lanes.append([])
        stack = lanes[lane]
        self.enclosing[id(span)] = stack[-1] if stack else None
        stack.append(span)
        track = self.placed[id(span)] = _Track(*base, lane)
        self.starts.setdefault(track, set()).add(start)
        return track

    def drawn_ends(self, ordered: list[SpanRecord]) -> dict[int, int]:
        """Each span's end as drawn: 1 ns early where it would tie with the start of a
        slice of its track or with the (drawn) end of the slice it is inside."""
        drawn: dict[int, int] = {}
        for span in ordered:  # parents first: an enclosing slice is settled before
            start, end = span.start_ns, _end(span)
            outer = self.enclosing[id(span)]
            if end > start and end in self.starts[self.placed[id(span)]]:
                end -= 1
            if outer is not None and end >= drawn[id(outer)]:
                end = drawn[id(outer)] - 1
            drawn[id(span)] = max(start, end)
        return drawn


def _fits(stack: list[SpanRecord], start: int, end: int) -> bool:
    """Whether a slice ``[start, end]`` nests in the lane whose open slices are
    ``stack`` (innermost last), once those that ended by ``start`` are closed."""
    while stack and _end(stack[-1]) <= start:
        stack.pop()
    return not stack or end <= _end(stack[-1])


def to_chrome(spans: Iterable[SpanRecord]) -> dict[str, Any]:
    """The trace-event document for ``spans`` (from any number of runs)."""
    ordered = parents_first(spans)
    if not ordered:
        return {"traceEvents": [], "displayTimeUnit": "ms"}
    origin = min(s.start_ns for s in ordered)
    pid_of: dict[int, int] = {}
    for root in ordered:
        if root.parent is None:
            pid_of.setdefault(root.trace_id, len(pid_of) + 1)
    out, _flows = _trace_events(ordered, origin, pid_of, 0)
    return {
        "traceEvents": out,
        "displayTimeUnit": "ms",
        "otherData": {"origin_unix_ns": origin, "generator": "flowtrace"},
    }


def _trace_events(
    ordered: list[SpanRecord], origin: int, pid_of: dict[int, int], flow_id: int
) -> tuple[list[dict[str, Any]], int]:
    """The trace events of ``ordered`` (spans parents first, of the runs whose roots
    ``pid_of`` numbers), times from ``origin``, lineage arrows numbered after
    ``flow_id``; returns them and the last arrow number."""

    def ts(ns: int) -> float:
        return round((ns - origin) / 1000.0, 3)

    roots = [s for s in ordered if s.parent is None]
    layout = _Layout()
    items: dict[int, list[SpanRecord]] = {}  # evaluation -> its item spans, by start
    for span in ordered:
        layout.place(span, pid_of.get(span.trace_id, 0))
        if span.kind == "item" and span.parent is not None:
            items.setdefault(id(span.parent), []).append(span)
    tids = _thread_ids(roots, pid_of, layout)
    drawn = layout.drawn_ends(ordered)

    out: list[dict[str, Any]] = []
    for root in roots:
        pid = pid_of[root.trace_id]
        run_id = root.attributes.get(A.RUN_ID, f"run {pid}")
        out.append(
            {
                "name": "process_name",
                "ph": "M",
                "pid": pid,
                "tid": 0,
                "args": {"name": f"{root.name} ({run_id})"},
            }
        )
        out.append(
            {
                "name": "process_sort_index",
                "ph": "M",
                "pid": pid,
                "tid": 0,
                "args": {"sort_index": pid},
            }
        )
    for track, tid in tids.items():
        out.append(
            {
                "name": "thread_name",
                "ph": "M",
                "pid": track.pid,
                "tid": tid,
                "args": {"name": track.name()},
            }
        )
        out.append(
            {
                "name": "thread_sort_index",
                "ph": "M",
                "pid": track.pid,
                "tid": tid,
                "args": {"sort_index": tid},
            }
        )

    for span in ordered:
        track = layout.placed[id(span)]
        pid, tid = track.pid, tids[track]
        end = _end(span)
        args = _args(span.attributes)
        if span.status == "error":
            args["status"] = "ERROR"
            if span.status_message:
                args["status_message"] = span.status_message
        out.append(
            {
                "name": span.name,
                "cat": span.kind,
                "ph": "X",
                "ts": ts(span.start_ns),
                "dur": round((drawn[id(span)] - span.start_ns) / 1000.0, 3),
                "pid": pid,
                "tid": tid,
                "args": args,
            }
        )
        for event in span.events:
            out.append(
                {
                    "name": event.name,
                    "cat": "error" if event.name == "exception" else "event",
                    "ph": "i",
                    "s": "t",
                    "ts": ts(event.time_ns),
                    "pid": pid,
                    "tid": tid,
                    "args": _args(event.attributes),
                }
            )
        for link in span.links:
            target = link.target
            target_track = layout.placed.get(id(target))
            if target_track is None:
                continue  # the producer is not in this document
            taken = min(max(link.time_ns or span.start_ns, span.start_ns), end)
            left = _departure(target, taken, items.get(id(target), []), drawn)
            flow_id += 1
            out.append(
                {
                    "name": "lineage",
                    "cat": "lineage",
                    "ph": "s",
                    "id": flow_id,
                    "ts": ts(left),
                    "pid": target_track.pid,
                    "tid": tids[target_track],
                }
            )
            out.append(
                {
                    "name": "lineage",
                    "cat": "lineage",
                    "ph": "f",
                    "bp": "e",
                    "id": flow_id,
                    "ts": ts(taken),
                    "pid": pid,
                    "tid": tid,
                    "args": _args(link.attributes),
                }
            )
    return out, flow_id


def _departure(
    producer: SpanRecord, taken: int, items: list[SpanRecord], drawn: dict[int, int]
) -> int:
    """When data leaves ``producer`` for a consumer that took it at ``taken``: the
    producer's end (1 ns inside its drawn end, so the arrow binds to its slice), or
    ``taken`` when the producer was still running then (a stream item: it existed when
    it was read) — but not inside one of its ``items`` slices still being produced
    then: the arrow leaves the last item emitted before it, at that item's end."""
    start, end = producer.start_ns, drawn[id(producer)]
    left = max(start, min(end - 1 if end > start else end, taken))
    for index in range(len(items) - 1, 0, -1):  # by start; items follow each other
        item, previous = items[index], items[index - 1]
        if item.start_ns <= left < _end(item):
            last = drawn[id(previous)]
            left = last - 1 if last > previous.start_ns else last
    return max(start, left)


def _thread_ids(
    roots: list[SpanRecord], pid_of: dict[int, int], layout: _Layout
) -> dict[_Track, int]:
    """Thread ids per run: ``flow.run`` first, then nodes in graph order (nodes the
    graph does not list after them, by name), each node's tracks together."""
    graph_order: dict[tuple[int, str], int] = {}
    for root in roots:
        pid = pid_of[root.trace_id]
        nodes = root.attributes.get(A.GRAPH_NODES, ())
        for index, node_id in enumerate(nodes if isinstance(nodes, (list, tuple)) else ()):
            graph_order.setdefault((pid, str(node_id)), index)

    def key(track: _Track) -> tuple[int, int, str, int, int, int]:
        if track.node_id is None:
            return (track.pid, -1, "", 0, 0, track.lane)
        index = graph_order.get((track.pid, track.node_id), len(graph_order))
        return (track.pid, index, track.node_id, track.kind, track.port, track.lane)

    tracks = set(layout.placed.values())
    for pid, node_id in graph_order:
        tracks.add(_Track(pid, node_id, _EVALUATIONS, 0, 0))  # a track even if idle
    tids: dict[_Track, int] = {}
    counters: dict[int, int] = {}
    for track in sorted(tracks, key=key):
        tid = counters.get(track.pid, 0)
        counters[track.pid] = tid + 1
        tids[track] = tid
    return tids


def write_chrome(spans: Iterable[SpanRecord], path: str) -> int:
    """Write :func:`to_chrome` to ``path``; returns the number of trace events."""
    document = to_chrome(spans)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, separators=(",", ":"))
    return len(document["traceEvents"])


class ChromeWriter:
    """Writes the trace-event document run by run, holding one run's spans at a time
    (``flowtrace export --to chrome``). Call :meth:`start_run` with each run's root
    span as it starts (that numbers the runs' processes in start order and makes the
    first run's start the time origin), :meth:`write_run` with a run's spans once it
    has ended, and :meth:`close` at the end. Within a run the events are those
    :func:`to_chrome` gives for it; runs follow each other in the order they ended."""

    def __init__(self, out: SupportsWrite[str]) -> None:
        self._out = out
        self._origin: int | None = None
        self._pid_of: dict[int, int] = {}
        self._flow_id = 0
        self.events = 0
        out.write('{"traceEvents":[')

    def start_run(self, root: SpanRecord) -> None:
        self._pid_of.setdefault(root.trace_id, len(self._pid_of) + 1)
        if self._origin is None:
            self._origin = root.start_ns

    def write_run(self, spans: list[SpanRecord]) -> None:
        ordered = parents_first(spans)
        for root in ordered:
            if root.parent is None:
                self.start_run(root)
        if not ordered:
            return
        assert self._origin is not None
        items, self._flow_id = _trace_events(ordered, self._origin, self._pid_of, self._flow_id)
        dumps = json.dumps
        text = ",".join(dumps(item, separators=(",", ":")) for item in items)
        if text:
            self._out.write(("," if self.events else "") + text)
        self.events += len(items)

    def close(self) -> int:
        """Finish the document; returns the number of trace events written."""
        tail = '],"displayTimeUnit":"ms"'
        if self._origin is not None:
            tail += f',"otherData":{{"origin_unix_ns":{self._origin},"generator":"flowtrace"}}'
        self._out.write(tail + "}")
        return self.events
