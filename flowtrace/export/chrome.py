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
from typing import Any

from flowtrace.otel.model import Attributes, SpanRecord

__all__ = ["to_chrome", "write_chrome"]


def _args(attributes: Attributes) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in attributes.items()}


def to_chrome(spans: Iterable[SpanRecord]) -> dict[str, Any]:
    """The trace-event document for ``spans`` (from any number of runs)."""
    spans = list(spans)
    if not spans:
        return {"traceEvents": [], "displayTimeUnit": "ms"}
    origin = min(s.start_ns for s in spans)

    def ts(ns: int) -> float:
        return round((ns - origin) / 1000.0, 3)

    roots = sorted((s for s in spans if s.parent is None), key=lambda s: s.start_ns)
    pid_of: dict[int, int] = {root.trace_id: i + 1 for i, root in enumerate(roots)}
    out: list[dict[str, Any]] = []
    tids: dict[tuple[int, str], int] = {}
    for root in roots:
        pid = pid_of[root.trace_id]
        run_id = root.attributes.get("flowtrace.run.id", f"run {pid}")
        out.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
                    "args": {"name": f"flow {run_id}"}})
        out.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": 0,
                    "args": {"name": "flow.run"}})
        nodes = root.attributes.get("flowtrace.graph.nodes", ())
        for node_id in nodes if isinstance(nodes, (list, tuple)) else ():
            _tid(tids, out, pid, str(node_id))

    def place(span: SpanRecord) -> tuple[int, int]:
        pid = pid_of.get(span.trace_id, 0)
        if span.node_id is None:
            return pid, 0
        return pid, _tid(tids, out, pid, span.node_id)

    flow_id = 0
    for span in sorted(spans, key=lambda s: (s.start_ns, s.parent is not None)):
        pid, tid = place(span)
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
            tpid, ttid = place(target)
            flow_id += 1
            out.append({"name": "lineage", "cat": "lineage", "ph": "s", "id": flow_id,
                        "ts": ts(target.start_ns), "pid": tpid, "tid": ttid})
            out.append({"name": "lineage", "cat": "lineage", "ph": "f", "bp": "e",
                        "id": flow_id, "ts": ts(span.start_ns), "pid": pid, "tid": tid,
                        "args": _args(link.attributes)})
    return {
        "traceEvents": out,
        "displayTimeUnit": "ms",
        "otherData": {"origin_unix_ns": origin, "generator": "flowtrace"},
    }


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
