"""One line per event: what the event log shows, as pure functions of events.

The summary of each kind of event (:func:`event_summary`), the facts a schema 2.0
event implies (:func:`implied_text`), the coarse category that colours a row
(:func:`event_category`) and the row itself (:func:`event_row`,
:func:`event_row_text`); with the node statuses' colours and the rule that a run
ended by a generation limit ended normally, which every pane shares. Free of
Textual; only Rich's ``Text`` is used, for colour.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text

from flowtrace.codec import describe
from flowtrace.events import (
    BarrierCountdown,
    DataEmitted,
    DeadlockDetected,
    ErrorInfo,
    Event,
    FlowFinished,
    FlowStarted,
    GenerationLimitReached,
    InputsGathered,
    LoopExited,
    LoopStarted,
    NodeErrored,
    NodeFinished,
    NodeStarted,
    NodeStatusChanged,
    NodeVisited,
    OffloadFinished,
    OffloadStarted,
    OffloadSubmitted,
    ResolutionQueuePut,
    SleepBegan,
    SleepEnded,
    SolutionFound,
    StreamCancelled,
    StreamCancelRequested,
    StreamEnded,
    StreamItemConsumed,
    StreamResumed,
    StreamStalled,
    TaskCancelRequested,
    TaskFinished,
    TaskSpawned,
    WaitBegan,
    WaitEnded,
)
from flowtrace.implied import queue_get, queue_put, status_change
from flowtrace.replay import NORMAL_OUTCOMES, NodeView, event_nodes
from flowtrace.replay import format_generation as fg
from flowtrace.replay import format_values as values_text
from flowtrace.safetext import safe_text

__all__ = [
    "STATUS_STYLE",
    "NORMAL_END_ERRORS",
    "normal_end",
    "shown_status",
    "event_category",
    "event_summary",
    "implied_text",
    "duration_ns",
    "event_row",
    "event_row_text",
]
#: Colour of each node status, shared by the node table, the graph and the log.
STATUS_STYLE: dict[str, str] = {
    "waiting": "dim",
    "queued": "cyan",
    "executing": "bold green",
    "stalled": "yellow",
    "stopped": "blue",
    "error": "bold red",
    "cancelled": "magenta",
}

_CATEGORY_STYLE = {
    "error": "bold red",
    "cycle": "bold magenta",
    "stall": "yellow",
    "cancel": "dark_orange",
    "data": "green",
    "eval": "bold",
    "flow": "bold blue",
    "": "",
}


#: Exceptions the engine raises to *end* a run normally (a generation limit): the loop
#: and the root task record them as errors, a user must not be shown one.
NORMAL_END_ERRORS = frozenset({"TerminateLimitReached"})


def normal_end(error: ErrorInfo | None) -> bool:
    """Whether ``error`` is the engine's way of stopping a run at its limit."""
    return error is not None and error.type.rsplit(".", 1)[-1] in NORMAL_END_ERRORS


def shown_status(view: NodeView) -> str:
    """A node's status as the debugger shows it: a node whose evaluation a generation
    limit ended is ``stopped``, not ``executing`` (the engine leaves it so)."""
    if view.status == "executing" and view.evaluating is None and view.finished == "limit":
        return "stopped"
    return view.status


def event_category(event: Event) -> str:
    """A coarse class used for colour and the timeline: error, cycle, stall, cancel…"""
    if isinstance(event, (NodeErrored, DeadlockDetected)):
        return "error"
    if isinstance(event, (FlowFinished, LoopExited)) and event.error is not None:
        if normal_end(event.error):
            return "flow"
        return "" if event.outcome in NORMAL_OUTCOMES else "error"
    if isinstance(event, TaskFinished) and event.error is not None:
        return "" if normal_end(event.error) else "error"
    if isinstance(event, OffloadFinished) and event.outcome in ("raised", "lost", "refused"):
        return "error"
    if isinstance(event, SolutionFound) and event.cycle_breaks:
        return "cycle"
    if isinstance(event, (StreamStalled, StreamResumed)):
        return "stall"
    if isinstance(event, (StreamCancelRequested, StreamCancelled)):
        return "cancel"
    if isinstance(event, DataEmitted):
        return "data"
    if isinstance(event, (NodeStarted, NodeFinished)):
        return "eval"
    if isinstance(event, (FlowStarted, FlowFinished)):
        return "flow"
    return ""


def _status_summary(e: NodeStatusChanged) -> str:
    extra = ""
    if e.new == "stalled" and e.port is not None:
        extra = f" (port {e.port})"
    elif e.run_level is not None and e.new == "waiting":
        extra = f" (rl {e.run_level})"
    return f"{e.old} → {e.new}{extra}"


def _started_summary(e: NodeStarted) -> str:
    return f"g{fg(e.generation)}"


def _finished_summary(e: NodeFinished) -> str:
    return f"g{fg(e.generation)} {e.outcome}"


def _inputs_summary(e: InputsGathered) -> str:
    parts = []
    for r in e.inputs:
        if r.defaulted:
            parts.append(f"{r.port}=default {describe(r.value, 12)}")
        elif r.stream:
            parts.append(f"{r.port}=stream<{r.producer}>")
        else:
            parts.append(
                f"{r.port}={describe(r.value, 12)}@{r.producer}:{fg(r.producer_generation)}"
            )
    return f"g{fg(e.generation)} " + (" ".join(parts) if parts else "(no inputs)")


def _emitted_summary(e: DataEmitted) -> str:
    text = f"g{fg(e.generation)} rl{e.run_level} = {values_text(e.values, 30)}"
    if e.pending_readers:
        text += f" ({e.pending_readers} reader(s) had not read the last)"
    return text + (", parks" if e.parked else "")


def _queued_summary(e: ResolutionQueuePut) -> str:
    by = f" by {e.by}" if e.by else ""
    return f"{e.reason}{by}" + ("" if e.added else " (already queued)")


def _solution_summary(e: SolutionFound) -> str:
    text = "leaves " + ",".join(e.leaves)
    for cb in e.cycle_breaks:
        text += f" ⟲ BREAK {cb.node_id} ports {list(cb.defaulted_ports)}"
    return text


def _countdown_summary(e: BarrierCountdown) -> str:
    return f"{e.reader} read g{fg(e.generation)}, {e.remaining} left"


#: The summaries of the kinds a run is mostly made of, found by class in one look-up
#: (a free-text search makes a summary per event; the chain of ``isinstance`` below
#: takes the other kinds).
_BY_CLASS: dict[type[Event], Callable[[Any], str]] = {
    NodeStatusChanged: _status_summary,
    NodeStarted: _started_summary,
    NodeFinished: _finished_summary,
    InputsGathered: _inputs_summary,
    DataEmitted: _emitted_summary,
    ResolutionQueuePut: _queued_summary,
    SolutionFound: _solution_summary,
    BarrierCountdown: _countdown_summary,
}


def event_summary(event: Event) -> str:
    """What happened, in a few words (the log's last column)."""
    e = event
    summary = _BY_CLASS.get(type(e))
    if summary is None:  # a subclass of one of them, or another kind
        summary = next((_BY_CLASS[c] for c in type(e).__mro__ if c in _BY_CLASS), None)
    if summary is not None:
        return summary(e)
    if isinstance(e, NodeVisited):
        return e.action
    if isinstance(e, NodeErrored):
        return f"g{fg(e.generation)} {e.error.type}: {e.error.message}"
    if isinstance(e, StreamItemConsumed):
        left = f", {e.remaining} left" if e.remaining is not None else ""
        return f"port {e.port} ← {e.producer} g{fg(e.generation)} = {describe(e.value, 20)}{left}"
    if isinstance(e, StreamStalled):
        tail = ""
        if e.producer_queued is not None:
            tail = f", {e.producer} {'queued' if e.producer_queued else 'already queued'}"
        return f"port {e.port} waits for {e.producer} after g{fg(e.last_generation)}{tail}"
    if isinstance(e, StreamResumed):
        return f"port {e.port} ← {e.producer}"
    if isinstance(e, StreamEnded):
        return f"port {e.port} ← {e.producer} g{fg(e.generation)}" + (
            " (cancelled)" if e.cancelled else ""
        )
    if isinstance(e, StreamCancelRequested):
        how = " (propagated)" if e.propagated else ""
        return f"cancel {e.producer} g{fg(e.generation)}{how}"
    if isinstance(e, StreamCancelled):
        return f"g{fg(e.generation)} by {','.join(e.requested_by)}" + (
            " handled" if e.handled else ""
        )
    if isinstance(e, FlowStarted):
        return f"{len(e.graph.nodes)} nodes"
    if isinstance(e, FlowFinished):
        err = (
            f" {e.error.type}: {e.error.message}"
            if e.error and not normal_end(e.error)
            else f" ({e.error.message})"
            if e.error
            else ""
        )
        return f"{e.outcome}{err}"
    if isinstance(e, LoopExited):
        if normal_end(e.error):
            return "stopped: generation limit reached"
        return e.outcome + (f" {e.error.type}" if e.error else "")
    if isinstance(e, LoopStarted):
        return "virtual time" if e.virtual_time else ""
    if isinstance(e, TaskSpawned):
        return f"task {e.task_id} {e.name}"
    if isinstance(e, TaskFinished):
        if normal_end(e.error):
            return f"task {e.task_id} stopped by the generation limit"
        return f"task {e.task_id} {e.outcome}"
    if isinstance(e, DeadlockDetected):
        return "DEADLOCK " + "; ".join(
            f"{w.node_id} waits for {', '.join(w.waits_for) or 'nothing it can name'}"
            for w in e.waiting
        )
    if isinstance(e, GenerationLimitReached):
        return f"g{fg(e.generation)} reached the limit {fg(e.limit)}"
    if isinstance(e, SleepBegan):
        if e.duration is None:
            return f"task {e.task_id} sleeps without end"
        return f"task {e.task_id} sleeps {e.duration:g}s"
    if isinstance(e, SleepEnded):
        return f"task {e.task_id} woke after {e.slept:g}s" + (" (cancelled)" if e.cancelled else "")
    if isinstance(e, WaitBegan):
        return f"task {e.task_id} waits on {e.primitive} #{e.primitive_id} {e.reason}"
    if isinstance(e, WaitEnded):
        return f"task {e.task_id} {e.outcome} ({e.primitive} #{e.primitive_id})"
    if isinstance(e, TaskCancelRequested):
        return f"task {e.task_id} cancel requested by task {e.by_task_id}"
    if isinstance(e, OffloadSubmitted):
        what = "body" if e.body else f"{e.function}()"
        return f"call {e.call_id} {what} → {e.executor} ({e.executor_kind}), {e.payload_bytes} B"
    if isinstance(e, OffloadStarted):
        return f"call {e.call_id} on {e.worker} @ {e.host}, queued {duration_ns(e.queue_ns)}"
    if isinstance(e, OffloadFinished):
        ran = f" after {duration_ns(e.run_ns)}" if e.run_ns is not None else ""
        err = f" {e.error.type}: {e.error.message}" if e.error else ""
        return f"call {e.call_id} {e.outcome}{ran}{err}"
    parts = []
    for name in type(e).__struct_fields__:
        if name in ("seq", "t_ns", "run_id"):
            continue
        parts.append(f"{name}={getattr(e, name)}")
    return " ".join(parts)


def implied_text(event: Event) -> str:
    """What an event implies beyond its fields, in words (schema 2.0 folds a node's
    status change, a queue put or get into the event that causes it:
    :mod:`flowtrace.implied`)."""
    lines: list[str] = []
    change = status_change(event)
    if change is not None and not isinstance(event, NodeStatusChanged):
        where = ""
        if change.new == "waiting" and change.run_level is not None:
            where = f" (parked at run level {change.run_level})"
        elif change.new == "stalled" and change.port is not None:
            where = f" on port {change.port}"
        lines.append(f"  so {change.node_id} is now {change.new}{where}\n")
    put = queue_put(event)
    if put is not None and not isinstance(event, ResolutionQueuePut):
        how = "put on" if put.added else "already on"
        lines.append(f"  and {put.node_id} is {how} the resolution queue ({put.reason})\n")
    head = queue_get(event)
    if head is not None:
        lines.append(f"  {head} was taken off the resolution queue\n")
    if isinstance(event, DataEmitted) and event.pending_readers:
        lines.append(
            f"  {event.pending_readers} reader(s) had not read the previous output "
            "(the write never waits for them)\n"
        )
    return "".join(lines)


def duration_ns(ns: int) -> str:
    """A short duration: ``850µs``, ``12.3ms``, ``1.50s``."""
    if ns < 1_000_000:
        return f"{ns / 1_000:.0f}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.1f}ms"
    return f"{ns / 1_000_000_000:.2f}s"


def event_row(event: Event, node: str | None = None) -> str:
    """One plain line for the log (also what filter and search match against).
    ``node`` overrides the node column (the owner of a loop event's task)."""
    if node is None:
        nodes = event_nodes(event)
        node = nodes[0] if nodes else ""
    return f"{event.seq:>7} {type(event).__name__:<21} {node:<10} {event_summary(event)}"


def event_row_text(
    event: Event,
    width: int,
    *,
    cursor: bool = False,
    marked: bool = False,
    breakpoint_hit: bool = False,
    node: str | None = None,
    cursor_after: bool = False,
    moment: str | None = None,
) -> Text:
    """The log line with colour and a two-cell margin: ``▶`` the cursor (``▷`` the
    cursor is on a hidden event just after this row, ``m`` the mark), ``●`` a
    breakpoint hit — visible without colour too. ``moment`` (the time since the
    run's start) goes after the seq."""
    margin = "▶" if cursor else "▷" if cursor_after else "m" if marked else " "
    text = Text(margin, style="bold")
    text.append("●" if breakpoint_hit else " ", style="bold red")
    line = event_row(event, node)
    if moment is not None:
        line = f"{line[:7]} {moment:>8}{line[7:]}"
    text.append(line[: max(0, width - 2)], style=_CATEGORY_STYLE[event_category(event)])
    return safe_text(text, multiline=False)
