"""Spans as Chrome trace-event JSON, which Perfetto UI (ui.perfetto.dev) and
``chrome://tracing`` open.

Layout: one *process* per flow run (named after the run), one *thread* per node in graph
order plus thread 0 for the run itself, so each node is a track and its evaluations are
slices on it. Spans are complete events (``ph: "X"``, ``ts``/``dur`` in microseconds,
as floats with nanosecond precision, relative to the earliest span so the numbers stay
exact); span events (stream items, status changes, barrier waits, exceptions) are
thread-scoped instant events (``ph: "i"``); lineage links are flow events (``ph: "s"``
inside the producer's slice → ``ph: "f"``, ``bp: "e"`` at the consumer's start), drawn
as arrows between slices.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flowtrace.otel.model import Attributes, SpanRecord

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["to_chrome", "write_chrome", "ChromeWriter"]


def _args(attributes: Attributes) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in attributes.items()}


class _Layout:
    """Where spans go in the trace-event document: a process per run (numbered in the
    order runs are registered), a thread per node, times relative to ``origin``."""

    def __init__(self, origin: int | None = None) -> None:
        self.origin = origin
        self.pid_of: dict[int, int] = {}
        self.tids: dict[tuple[int, str], int] = {}
        self.flow_id = 0

    def register(self, root: SpanRecord) -> None:
        """A run's root span: its process number (and the origin, if none yet)."""
        if root.trace_id not in self.pid_of:
            self.pid_of[root.trace_id] = len(self.pid_of) + 1
        if self.origin is None:
            self.origin = root.start_ns

    def ts(self, ns: int) -> float:
        return round((ns - (self.origin or 0)) / 1000.0, 3)

    def tid(self, out: list[dict[str, Any]], pid: int, node_id: str) -> int:
        return _tid(self.tids, out, pid, node_id)

    def place(self, out: list[dict[str, Any]], span: SpanRecord) -> tuple[int, int]:
        pid = self.pid_of.get(span.trace_id, 0)
        if span.node_id is None:
            return pid, 0
        return pid, self.tid(out, pid, span.node_id)

    def run_metadata(self, root: SpanRecord) -> list[dict[str, Any]]:
        """Process and thread names of a run: the run, then its nodes in graph order."""
        out: list[dict[str, Any]] = []
        self.register(root)
        pid = self.pid_of[root.trace_id]
        run_id = root.attributes.get("flowtrace.run.id", f"run {pid}")
        out.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
                    "args": {"name": f"flow {run_id}"}})
        out.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": 0,
                    "args": {"name": "flow.run"}})
        nodes = root.attributes.get("flowtrace.graph.nodes", ())
        for node_id in nodes if isinstance(nodes, (list, tuple)) else ():
            self.tid(out, pid, str(node_id))
        return out

    def span_events(self, spans: Iterable[SpanRecord]) -> list[dict[str, Any]]:
        """The slices, instants and lineage arrows of ``spans``, in start order."""
        out: list[dict[str, Any]] = []
        ts = self.ts
        for span in sorted(spans, key=lambda s: (s.start_ns, s.parent is not None)):
            pid, tid = self.place(out, span)
            end = span.end_ns if span.end_ns is not None else span.start_ns
            args = _args(span.attributes)
            if span.status == "error":
                args["status"] = "ERROR"
                if span.status_message:
                    args["status_message"] = span.status_message
            out.append({
                "name": span.name, "cat": span.kind, "ph": "X", "ts": ts(span.start_ns),
                "dur": round((end - span.start_ns) / 1000.0, 3), "pid": pid, "tid": tid,
                "args": args,
            })
            for event in span.events:
                out.append({
                    "name": event.name, "cat": "error" if event.name == "exception" else "event",
                    "ph": "i", "s": "t", "ts": ts(event.time_ns), "pid": pid, "tid": tid,
                    "args": _args(event.attributes),
                })
            for link in span.links:
                target = link.target
                tpid, ttid = self.place(out, target)
                self.flow_id += 1
                out.append({"name": "lineage", "cat": "lineage", "ph": "s", "id": self.flow_id,
                            "ts": ts(target.start_ns), "pid": tpid, "tid": ttid})
                out.append({"name": "lineage", "cat": "lineage", "ph": "f", "bp": "e",
                            "id": self.flow_id, "ts": ts(span.start_ns), "pid": pid,
                            "tid": tid, "args": _args(link.attributes)})
        return out


def to_chrome(spans: Iterable[SpanRecord]) -> dict[str, Any]:
    """The trace-event document for ``spans`` (from any number of runs)."""
    spans = list(spans)
    if not spans:
        return {"traceEvents": [], "displayTimeUnit": "ms"}
    origin = min(s.start_ns for s in spans)
    layout = _Layout(origin)
    out: list[dict[str, Any]] = []
    for root in sorted((s for s in spans if s.parent is None), key=lambda s: s.start_ns):
        out.extend(layout.run_metadata(root))
    out.extend(layout.span_events(spans))
    return {
        "traceEvents": out,
        "displayTimeUnit": "ms",
        "otherData": {"origin_unix_ns": origin, "generator": "flowtrace"},
    }


class ChromeWriter:
    """Writes the trace-event document run by run, holding one run's spans at a time
    (``flowtrace export --to chrome``). Call :meth:`start_run` with each run's root
    span as it starts (that numbers the runs' processes in start order and makes the
    first run's start the time origin), :meth:`write_run` with a run's spans once it
    has ended, and :meth:`close` at the end. Events of a run are in start order; runs
    follow each other in the order they ended."""

    def __init__(self, out: SupportsWrite[str]) -> None:
        self._out = out
        self._layout = _Layout()
        self.events = 0
        out.write('{"traceEvents":[')

    def start_run(self, root: SpanRecord) -> None:
        self._layout.register(root)

    def write_run(self, spans: list[SpanRecord]) -> None:
        roots = [s for s in spans if s.parent is None]
        items: list[dict[str, Any]] = []
        for root in roots:
            items.extend(self._layout.run_metadata(root))
        items.extend(self._layout.span_events(spans))
        dumps = json.dumps
        text = ",".join(dumps(item, separators=(",", ":")) for item in items)
        if text:
            self._out.write(("," if self.events else "") + text)
        self.events += len(items)

    def close(self) -> int:
        """Finish the document; returns the number of trace events written."""
        tail = '],"displayTimeUnit":"ms"'
        if self._layout.origin is not None:
            tail += (f',"otherData":{{"origin_unix_ns":{self._layout.origin},'
                     '"generator":"flowtrace"}')
        self._out.write(tail + "}")
        return self.events


def _tid(tids: dict[tuple[int, str], int], out: list[dict[str, Any]], pid: int,
         node_id: str) -> int:
    key = (pid, node_id)
    tid = tids.get(key)
    if tid is None:
        tid = tids[key] = 1 + sum(1 for p, _ in tids if p == pid)  # new tids only
        out.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                    "args": {"name": node_id}})
        out.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid,
                    "args": {"sort_index": tid}})
    return tid


def write_chrome(spans: Iterable[SpanRecord], path: str) -> int:
    """Write :func:`to_chrome` to ``path``; returns the number of trace events."""
    document = to_chrome(spans)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, separators=(",", ":"))
    return len(document["traceEvents"])
