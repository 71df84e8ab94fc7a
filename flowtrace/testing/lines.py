"""One event, one line: the text of each event kind in a canonical rendering.

Each line keeps what the program decided and drops what the environment decided:
no times, run ids, thread names, socket addresses or tracebacks; memory addresses in
``repr`` texts become ``0x…``; line breaks are escaped so one event stays one line.
Generations are written as tuples ``(0,)``; values are shortened with
:func:`flowtrace.codec.describe`. An event kind added after this module was written
is rendered generically (class name and plain fields) until it gets its own line.

Schema 2.0 folds facts into neighbouring events (see :mod:`flowtrace.events`); the
line of such an event spells them out after a ``; `` so a rendering shows every fact
schema 1.x showed as lines of their own, derived through :mod:`flowtrace.implied`:

* a status change an event implies: ``a started (0,); now executing``, ``a finished
  (0,): completed; now waiting (run level 0)``, ``s yielded (0, 1): 'x'; now waiting
  (run level 1)``, ``c stalled on s (port 0) after (0, 1); now stalled on port 0``,
  ``c resumed on s (port 0); now executing`` (the status it changed from is the one
  the node's previous change gave it);
* a resolution-queue put a stall implies: ``…; queue put s by c (stall)``;
* the write barrier: ``a emitted (1,): 7; 2 readers pending`` when readers of the
  previous output had not read it (nothing is written when none was pending);
* the graph as registered, on the ``flow started`` line: ``flow started: [a, b]; a:
  mono A() -> 1 output; b: mono B(x <- a.0) -> 1 output``.

A change to ``queued`` from ``waiting`` or ``stalled`` is a resume (schema 1.x also
wrote a ``visit …: resumed`` for it): ``a: waiting -> queued (resumed)``. A
:class:`~flowtrace.events.SolutionFound` is the resolution queue's get: ``queue get
d; solution: run [a]``. A stream read's barrier count ends its line: ``c consumed
s.0 (0, 1) on port 0: 'x'; 0 left``. These two and the resume are part of the event
itself and always written; the others only with ``implied=True`` (the default; the
``evaluations`` detail level leaves them out, as it left out status changes, queue
moves, barriers and registrations before).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from flowtrace import events as ev
from flowtrace.codec import JsonValue, describe
from flowtrace.implied import StatusChange, queue_put, status_change

__all__ = ["render_event", "scrub", "VALUE_LIMIT"]

#: Characters of a value kept in a line.
VALUE_LIMIT = 60
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")


# ----------------------------------------------------------------------------- pieces


def _one_line(text: str) -> str:
    """Escape line breaks, so that one event stays one line."""
    if "\n" in text or "\r" in text:
        text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text


def scrub(text: str) -> str:
    """Replace memory addresses (``0x7f3a…``), which differ on every run, and escape
    line breaks, so that one event stays one line."""
    return _one_line(_ADDRESS.sub("0x…", text))


def _value(value: JsonValue) -> str:
    return scrub(describe(value, VALUE_LIMIT))


def _gen(generation: Iterable[int] | None) -> str:
    """``(0,)``, ``(1, 2)`` or ``None``; accepts lists (events read back from JSON)."""
    if generation is None:
        return "None"
    parts = [str(int(g)) for g in generation]
    if len(parts) == 1:
        return f"({parts[0]},)"
    return "(" + ", ".join(parts) + ")"


def _error(error: ev.ErrorInfo | None) -> str:
    """Type and message; never the traceback (it holds file paths and line numbers)."""
    if error is None:
        return "no error"
    message = scrub(error.message)
    return f"{error.type}: {message}" if message else error.type


def _ids(items: Iterable[Any]) -> str:
    return "[" + ", ".join(str(i) for i in items) + "]"


def _level(run_level: int) -> str:
    return "" if run_level == 0 else f" at run level {run_level}"


def _output(producer: str | None, output: int | None) -> str:
    """``producer.output`` (output 0 when the event does not say)."""
    return f"{producer}.{output or 0}"


# ----------------------------------------------------------------------------- loop


def _loop_started(e: ev.LoopStarted) -> str:
    mode = (", virtual time" if e.virtual_time else "") + (", asyncio" if e.asyncio_mode else "")
    return f"loop started: root task {e.root_task_id}{mode}"


def _loop_exited(e: ev.LoopExited) -> str:
    error = f" ({_error(e.error)})" if e.error is not None else ""
    return f"loop exited: {e.outcome}{error}, {e.tasks_left} tasks left"


def _task_spawned(e: ev.TaskSpawned) -> str:
    parent = "" if e.parent_id is None else f" by task {e.parent_id}"
    node = "" if e.node_id is None else f" for node {e.node_id}"
    return f"task {e.task_id} spawned: {scrub(e.name)!r}{parent}{node}"


def _task_finished(e: ev.TaskFinished) -> str:
    if e.outcome == "returned":
        return f"task {e.task_id} returned {_value(e.result)}"
    if e.outcome == "failed":
        return f"task {e.task_id} failed: {_error(e.error)}"
    return f"task {e.task_id} {e.outcome}"


def _task_cancel_requested(e: ev.TaskCancelRequested) -> str:
    by = "" if e.by_task_id is None else f" by task {e.by_task_id}"
    again = "" if e.first_request else " (again)"
    return f"task {e.task_id} cancel requested{by}{again}"


def _task_from_thread(e: ev.TaskCreatedFromThread) -> str:
    return f"task {e.task_id} created from another thread"


def _sleep_began(e: ev.SleepBegan) -> str:
    if e.duration is None:
        return f"task {e.task_id} sleeps without end"
    return f"task {e.task_id} sleeps {e.duration!r}s"


def _sleep_ended(e: ev.SleepEnded) -> str:
    return f"task {e.task_id} sleep {'cancelled' if e.cancelled else 'ended'}"


def _io_began(e: ev.IOWaitBegan) -> str:
    return f"task {e.task_id} waits for I/O ({e.operation})"


def _io_ended(e: ev.IOWaitEnded) -> str:
    return f"task {e.task_id} I/O ({e.operation}) {e.outcome}"


def _socket_began(e: ev.SocketOpBegan) -> str:
    return f"task {e.task_id} socket#{e.socket_id} {e.operation}"


def _socket_ended(e: ev.SocketOpEnded) -> str:
    # Byte counts and whether it waited depend on the network's timing: not rendered.
    return f"task {e.task_id} socket#{e.socket_id} {e.operation} {e.outcome}"


def _socket_closed(e: ev.SocketClosed) -> str:
    who = "" if e.task_id is None else f"task {e.task_id} "
    return f"{who}closes socket#{e.socket_id}"


def _tls_done(e: ev.TLSHandshakeCompleted) -> str:
    return f"task {e.task_id} socket#{e.socket_id} TLS handshake done ({e.server_hostname})"


def _wait_began(e: ev.WaitBegan) -> str:
    reason = f": {scrub(e.reason)}" if e.reason else ""
    return f"task {e.task_id} waits on {e.primitive}#{e.primitive_id}{reason}"


def _wait_ended(e: ev.WaitEnded) -> str:
    return f"task {e.task_id} wait on {e.primitive}#{e.primitive_id} ended: {e.outcome}"


def _lock_acquired(e: ev.LockAcquired) -> str:
    waited = " after waiting" if e.waited else ""
    return f"task {e.task_id} acquired lock#{e.lock_id}{waited}"


def _lock_released(e: ev.LockReleased) -> str:
    to = "" if e.handed_to is None else f", handed to task {e.handed_to}"
    return f"task {e.task_id} released lock#{e.lock_id}{to}"


def _event_set(e: ev.EventSet) -> str:
    return f"task {e.task_id} set event#{e.event_id}, woke tasks {_ids(e.woken)}"


def _condition_notified(e: ev.ConditionNotified) -> str:
    return f"task {e.task_id} notified condition#{e.condition_id}, woke tasks {_ids(e.woken)}"


def _latch(e: ev.LatchCountedDown) -> str:
    return f"task {e.task_id} counted down latch#{e.latch_id}: {e.remaining} left"


def _queue_put(e: ev.AsyncQueuePut) -> str:
    return f"task {e.task_id} put {_value(e.item)} on queue#{e.queue_id} (size {e.size})"


def _queue_got(e: ev.AsyncQueueGot) -> str:
    return f"task {e.task_id} got {_value(e.item)} from queue#{e.queue_id} (size {e.size})"


def _queue_closed(e: ev.AsyncQueueClosed) -> str:
    return f"task {e.task_id} closed queue#{e.queue_id}, woke tasks {_ids(e.woken)}"


# ----------------------------------------------------------------------------- flow


def _flow_started(e: ev.FlowStarted) -> str:
    return f"flow started: {_ids(n.node_id for n in e.graph.nodes)}"


def _flow_started_graph(e: ev.FlowStarted) -> str:
    return "".join(f"; {_node_info(n)}" for n in e.graph.nodes)


def _flow_finished(e: ev.FlowFinished) -> str:
    where = ""
    if e.node_id is not None:
        where = f" in {e.node_id} {_gen(e.generation)}"
    error = f": {_error(e.error)}" if e.error is not None else ""
    return f"flow finished: {e.outcome}{where}{error}"


def _port(p: ev.PortInfo) -> str:
    text = p.name
    if p.producer is not None:
        text += f" <- {_output(p.producer, p.producer_output)}"
    if p.min_run_level > 0:
        text += " (stream)"
    if p.has_default:
        text += f" = {_value(p.default)}"
    return text


def _node_info(n: ev.NodeInfo) -> str:
    """A node as registered: ``b: mono B(x <- a.0) -> 1 output``."""
    flags = "".join(
        f", {flag}" for flag, on in (("stateful", n.stateful), ("constant", n.constant)) if on
    )
    inputs = ", ".join(_port(p) for p in n.inputs)
    outputs = "1 output" if n.outputs == 1 else f"{n.outputs} outputs"
    return f"{n.node_id}: {n.kind} {scrub(n.label)}({inputs}) -> {outputs}{flags}"


def _status_text(new: ev.NodeStatus, run_level: int | None, port: int | None) -> str:
    """``executing``, ``waiting (run level 1)``, ``stalled on port 0``."""
    if new == "stalled" and port is not None:
        return f"{new} on port {port}"
    if new == "waiting" and run_level is not None:
        return f"{new} (run level {run_level})"
    return new


def _status(e: ev.NodeStatusChanged) -> str:
    resumed = " (resumed)" if e.new == "queued" and e.old in ("waiting", "stalled") else ""
    return f"{e.node_id}: {e.old} -> {_status_text(e.new, e.run_level, e.port)}{resumed}"


def _implied_status(change: StatusChange) -> str:
    return f"; now {_status_text(change.new, change.run_level, change.port)}"


def _put_text(node_id: str, by: str | None, reason: str, added: bool) -> str:
    by_text = "" if by is None else f" by {by}"
    dup = "" if added else ", already queued"
    return f"queue put {node_id}{by_text} ({reason}{dup})"


def _rq_put(e: ev.ResolutionQueuePut) -> str:
    return _put_text(e.node_id, e.by, e.reason, e.added)


def _solution(e: ev.SolutionFound) -> str:
    # The solution is the resolution queue's get (schema 1.x: ResolutionQueueGet).
    text = f"queue get {e.head}; solution: run {_ids(e.leaves)}"
    if e.sccs:
        text += "; cycles " + ", ".join(_ids(scc) for scc in e.sccs)
    for b in e.cycle_breaks:
        ports = _ids(b.defaulted_ports)
        text += f"; break {_ids(b.members)} at {b.node_id} defaulting ports {ports}"
    return text


def _visited(e: ev.NodeVisited) -> str:
    return f"visit {e.node_id}: {e.action.replace('_', ' ')}"


def _node_started(e: ev.NodeStarted) -> str:
    return f"{e.node_id} started {_gen(e.generation)}{_level(e.run_level)}"


def _node_finished(e: ev.NodeFinished) -> str:
    return f"{e.node_id} finished {_gen(e.generation)}{_level(e.run_level)}: {e.outcome}"


def _input(i: ev.InputRead) -> str:
    if i.stream:
        return f"{i.port}=stream of {_output(i.producer, i.producer_output)}"
    if i.defaulted:
        return f"{i.port}={_value(i.value)} (default)"
    if i.producer is None:
        return f"{i.port}={_value(i.value)}"
    source = f"{_output(i.producer, i.producer_output)} {_gen(i.producer_generation)}"
    return f"{i.port}={_value(i.value)} from {source}"


def _inputs(e: ev.InputsGathered) -> str:
    listed = ", ".join(_input(i) for i in e.inputs) or "no inputs"
    return f"{e.node_id} inputs {_gen(e.generation)}: {listed}"


def _emitted(e: ev.DataEmitted) -> str:
    verb = "emitted" if e.run_level == 0 else "yielded"
    values = ", ".join(_value(v) for v in e.values)
    return f"{e.node_id} {verb} {_gen(e.generation)}: {values}"


def _limit(e: ev.GenerationLimitReached) -> str:
    limit = "" if e.limit is None else f" (limit {_gen(e.limit)})"
    return f"{e.node_id} reached its generation limit at {_gen(e.generation)}{limit}"


def _errored(e: ev.NodeErrored) -> str:
    return f"{e.node_id} errored {_gen(e.generation)} in {e.phase}: {_error(e.error)}"


def _offload_submitted(e: ev.OffloadSubmitted) -> str:
    who = e.node_id if e.node_id is not None else "a task"
    what = "its body" if e.body else f"{e.function}()"
    return f"{who} offloads {what} as call {e.call_id} to {e.executor} {_gen(e.generation)}"


def _offload_started(e: ev.OffloadStarted) -> str:
    # Worker, pid and times are the environment's: never rendered.
    who = f" ({e.node_id})" if e.node_id is not None else ""
    return f"offloaded call {e.call_id}{who} started on a worker"


def _offload_finished(e: ev.OffloadFinished) -> str:
    who = f" ({e.node_id})" if e.node_id is not None else ""
    error = f": {_error(e.error)}" if e.error is not None else ""
    return f"offloaded call {e.call_id}{who} {e.outcome}{error}"


def _deadlock(e: ev.DeadlockDetected) -> str:
    parts = []
    for w in e.waiting:
        text = f"{w.node_id} ({w.status})"
        if w.waits_for:
            text += f" waits for {_ids(w.waits_for)}"
        if w.detail:
            text += f": {scrub(w.detail)}"
        parts.append(text)
    return "deadlock: " + ("; ".join(parts) or "nothing waiting")


def _countdown(e: ev.BarrierCountdown) -> str:
    return (
        f"{e.reader} read {e.node_id} {_gen(e.generation)}{_level(e.run_level)}: {e.remaining} left"
    )


def _consumed(e: ev.StreamItemConsumed) -> str:
    left = "" if e.remaining is None else f"; {e.remaining} left"
    return (
        f"{e.consumer} consumed {e.producer}.{e.producer_output} {_gen(e.generation)} "
        f"on port {e.port}: {_value(e.value)}{left}"
    )


def _stalled(e: ev.StreamStalled) -> str:
    return f"{e.consumer} stalled on {e.producer} (port {e.port}) after {_gen(e.last_generation)}"


def _resumed(e: ev.StreamResumed) -> str:
    return f"{e.consumer} resumed on {e.producer} (port {e.port})"


def _stream_ended(e: ev.StreamEnded) -> str:
    cancelled = ", cancelled" if e.cancelled else ""
    return (
        f"{e.consumer} reached the end of {e.producer} {_gen(e.generation)} "
        f"(port {e.port}{cancelled})"
    )


def _cancel_requested(e: ev.StreamCancelRequested) -> str:
    propagated = ", propagated" if e.propagated else ""
    return f"{e.consumer} cancels {e.producer} {_gen(e.generation)} (port {e.port}{propagated})"


def _stream_cancelled(e: ev.StreamCancelled) -> str:
    how = "handled" if e.handled else "ended"
    return f"{e.producer} stream cancelled {_gen(e.generation)} by {_ids(e.requested_by)}: {how}"


_RENDERERS: dict[type[ev.Event], Callable[[Any], str]] = {
    ev.LoopStarted: _loop_started,
    ev.LoopExited: _loop_exited,
    ev.TaskSpawned: _task_spawned,
    ev.TaskFinished: _task_finished,
    ev.TaskCancelRequested: _task_cancel_requested,
    ev.TaskCreatedFromThread: _task_from_thread,
    ev.SleepBegan: _sleep_began,
    ev.SleepEnded: _sleep_ended,
    ev.IOWaitBegan: _io_began,
    ev.IOWaitEnded: _io_ended,
    ev.WaitBegan: _wait_began,
    ev.WaitEnded: _wait_ended,
    ev.LockAcquired: _lock_acquired,
    ev.LockReleased: _lock_released,
    ev.EventSet: _event_set,
    ev.ConditionNotified: _condition_notified,
    ev.LatchCountedDown: _latch,
    ev.AsyncQueuePut: _queue_put,
    ev.AsyncQueueGot: _queue_got,
    ev.AsyncQueueClosed: _queue_closed,
    ev.SocketOpBegan: _socket_began,
    ev.SocketOpEnded: _socket_ended,
    ev.SocketClosed: _socket_closed,
    ev.TLSHandshakeCompleted: _tls_done,
    ev.FlowStarted: _flow_started,
    ev.FlowFinished: _flow_finished,
    ev.NodeStatusChanged: _status,
    ev.ResolutionQueuePut: _rq_put,
    ev.SolutionFound: _solution,
    ev.NodeVisited: _visited,
    ev.NodeStarted: _node_started,
    ev.NodeFinished: _node_finished,
    ev.InputsGathered: _inputs,
    ev.DataEmitted: _emitted,
    ev.GenerationLimitReached: _limit,
    ev.NodeErrored: _errored,
    ev.DeadlockDetected: _deadlock,
    ev.BarrierCountdown: _countdown,
    ev.StreamItemConsumed: _consumed,
    ev.StreamStalled: _stalled,
    ev.StreamResumed: _resumed,
    ev.StreamEnded: _stream_ended,
    ev.StreamCancelRequested: _cancel_requested,
    ev.StreamCancelled: _stream_cancelled,
    ev.OffloadSubmitted: _offload_submitted,
    ev.OffloadStarted: _offload_started,
    ev.OffloadFinished: _offload_finished,
}

#: Fields never rendered by the generic fallback: the header, and anything the
#: environment decides (times, tracebacks, thread names, I/O targets).
_ENVIRONMENT_FIELDS = frozenset(
    {"seq", "t_ns", "run_id", "wall_time_ns", "traceback", "thread_name", "target"}
)


def _generic(event: ev.Event) -> str:
    """Line for an event kind added after this renderer: its class and plain fields."""
    parts = []
    for name in type(event).__struct_fields__:
        if name in _ENVIRONMENT_FIELDS:
            continue
        value = getattr(event, name)
        if isinstance(value, ev.ErrorInfo):
            text = _error(value)
        elif isinstance(value, (str, int, float, bool)) or value is None:
            text = scrub(str(value))
        else:
            text = scrub(describe(repr(value), VALUE_LIMIT))
        parts.append(f"{name}={text}")
    return f"{type(event).__name__} " + " ".join(parts)


def _implied(event: ev.Event) -> str:
    """What ``event`` implies beyond its own line (see the module docstring)."""
    text = ""
    if isinstance(event, ev.FlowStarted):
        return _flow_started_graph(event)
    if isinstance(event, ev.DataEmitted) and event.pending_readers:
        text += f"; {event.pending_readers} readers pending"
    change = status_change(event)
    if change is not None and not isinstance(event, ev.NodeStatusChanged):
        text += _implied_status(change)
    put = queue_put(event)
    if put is not None and not isinstance(event, ev.ResolutionQueuePut):
        text += "; " + _put_text(put.node_id, put.by, put.reason, put.added)
    return text


def render_event(event: ev.Event, *, implied: bool = True) -> str:
    """The canonical one-line text of ``event`` (without its sequence number).

    With ``implied`` (the default) the line also spells out the facts the event implies
    in schema 2.0 (status changes, a stall's queue put, pending readers, the graph of a
    flow start); the ``evaluations`` detail level renders without them.
    """
    renderer = _RENDERERS.get(type(event))
    text = _generic(event) if renderer is None else renderer(event)
    if implied:
        text += _implied(event)
    return _one_line(text)
