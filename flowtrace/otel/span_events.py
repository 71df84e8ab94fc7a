"""The span events and attributes of the mapping, and the state they are kept in.

:class:`MapperBase` holds what :class:`~flowtrace.otel.mapping.SpanMapper` (which builds
the spans: runs, evaluations, stream items, offloaded calls) needs to annotate them: the
per-run state, the low-level span operations (start, end, add a bounded event, link),
and the handlers of the events that become span events or attributes rather than spans
— status changes (reported, or implied by schema 2.0's folds through
:mod:`flowtrace.implied`), write barriers, stalls, stream ends and cancellations,
generation limits, errors, deadlocks and cycle breaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flowtrace import events as ev
from flowtrace.codec import JsonValue, describe
from flowtrace.implied import status_change
from flowtrace.otel import attributes as A
from flowtrace.otel.model import Attributes, LinkRecord, SpanEventRecord, SpanRecord, SpanSink
from flowtrace.otel.options import MappingOptions, generation_text

__all__ = ["MapperBase"]

#: Statuses that say "this node is about to run": summarised on its next evaluation.
_PRE_RUN_STATUSES = frozenset({"queued", "executing"})


@dataclass(slots=True)
class _Run:
    """Per-run state of the mapping."""

    run_id: str
    wall0: int
    t0: int
    root: SpanRecord
    nodes: dict[str, ev.NodeInfo]
    last_ns: int
    open_evals: dict[str, SpanRecord] = field(default_factory=dict)
    #: node -> {level-0 generation -> evaluation span}, the most recent few.
    evals: dict[str, dict[tuple[int, ...], SpanRecord]] = field(default_factory=dict)
    #: node -> its status, reported or implied (a node starts ``waiting``).
    status: dict[str, str] = field(default_factory=dict)
    #: node -> when it was queued, until its next evaluation starts.
    queued_at: dict[str, int] = field(default_factory=dict)
    #: spans mode: producer -> time of its last item (or evaluation start).
    last_item_ns: dict[str, int] = field(default_factory=dict)
    #: spans mode: (producer, item generation) -> item span, the most recent few.
    items: dict[tuple[str, tuple[int, ...]], SpanRecord] = field(default_factory=dict)
    #: spans mode: (consumer, port) -> open "consume" span.
    consuming: dict[tuple[str, int], SpanRecord] = field(default_factory=dict)
    #: call id -> open span of an offloaded call.
    offloads: dict[int, SpanRecord] = field(default_factory=dict)


class MapperBase:
    """Per-run state, span operations and the span-event handlers of the mapping."""

    def __init__(self, sink: SpanSink, options: MappingOptions | None = None) -> None:
        self.sink = sink
        self.options = options or MappingOptions()
        self._runs: dict[str, _Run] = {}
        self.spans_started = 0
        self.spans_ended = 0

    # ------------------------------------------------------------------ span operations

    @staticmethod
    def _ts(run: _Run, t_ns: int) -> int:
        return run.wall0 + (t_ns - run.t0)

    def _value(self, value: JsonValue) -> str:
        return describe(value, self.options.value_limit)

    def _start(self, span: SpanRecord) -> SpanRecord:
        self.sink.start(span)
        self.spans_started += 1
        return span

    def _end(self, span: SpanRecord, end_ns: int) -> None:
        span.end_ns = max(end_ns, span.start_ns)
        if span.dropped_events:
            span.attributes[A.EVENTS_DROPPED] = span.dropped_events
            span.events.append(
                SpanEventRecord(
                    "flowtrace.events_dropped",
                    span.end_ns,
                    {A.EVENTS_DROPPED: span.dropped_events},
                )
            )
        self.sink.end(span)
        self.spans_ended += 1

    def _add_event(self, span: SpanRecord, event: SpanEventRecord) -> None:
        if self._full(span):
            span.dropped_events += 1
        else:
            span.events.append(event)

    def _full(self, span: SpanRecord) -> bool:
        """Whether ``span`` has no room for another event (one slot is kept for the
        report of the dropped ones): callers test it before building an event."""
        limit = self.options.max_events_per_span
        return limit is not None and len(span.events) >= limit - 1

    def _target(self, run: _Run, node_id: str) -> SpanRecord:
        """The span events about ``node_id`` go to: its open evaluation, else the root."""
        return run.open_evals.get(node_id, run.root)

    def _note(self, run: _Run, node_id: str, name: str, t_ns: int, attributes: Attributes) -> None:
        span = self._target(run, node_id)
        if self._full(span):
            span.dropped_events += 1
            return
        if span is run.root:
            attributes = {A.NODE_ID: node_id, **attributes}
        span.events.append(SpanEventRecord(name, self._ts(run, t_ns), attributes))

    def _eval_of(
        self, run: _Run, node_id: str | None, generation: ev.Generation
    ) -> SpanRecord | None:
        if node_id is None or not generation:
            return None
        return run.evals.get(node_id, {}).get(tuple(generation[:1]))

    def _link(
        self,
        span: SpanRecord,
        target: SpanRecord,
        attributes: Attributes,
        time_ns: int | None = None,
    ) -> None:
        if target is span:
            return
        for link in span.links:
            if link.target is target:
                if link.time_ns is None:  # when the data was first taken
                    link.time_ns = time_ns
                return
        span.links.append(LinkRecord(target, attributes, time_ns))

    def _error(
        self,
        run: _Run,
        span: SpanRecord,
        error: ev.ErrorInfo | None,
        t_ns: int,
        fallback: str,
        extra: Attributes | None = None,
    ) -> None:
        span.status = "error"
        if error is None:
            span.status_message = span.status_message or fallback
            return
        span.status_message = f"{error.type}: {error.message}"
        attrs: Attributes = {
            A.EXCEPTION_TYPE: error.type,
            A.EXCEPTION_MESSAGE: error.message,
            A.EXCEPTION_STACKTRACE: error.traceback,
        }
        if extra:
            attrs.update(extra)
        self._add_event(span, SpanEventRecord("exception", self._ts(run, t_ns), attrs))

    def _close_consume(self, run: _Run, consumer: str, port: int, t_ns: int) -> None:
        span = run.consuming.pop((consumer, port), None)
        if span is not None:
            self._end(span, self._ts(run, t_ns))

    # ------------------------------------------------------------------ run-wide events

    def _solution_found(self, run: _Run, event: ev.SolutionFound) -> None:
        for brk in event.cycle_breaks:
            self._add_event(
                run.root,
                SpanEventRecord(
                    "cycle_break",
                    self._ts(run, event.t_ns),
                    {
                        A.CYCLE_NODE: brk.node_id,
                        A.CYCLE_MEMBERS: list(brk.members),
                        A.CYCLE_DEFAULTED_PORTS: list(brk.defaulted_ports),
                    },
                ),
            )

    def _deadlock(self, run: _Run, event: ev.DeadlockDetected) -> None:
        waiting = [
            f"{w.node_id}: {w.status}"
            + (f" waits for {', '.join(w.waits_for)}" if w.waits_for else "")
            + (f" ({w.detail})" if w.detail else "")
            for w in event.waiting
        ]
        run.root.attributes[A.DEADLOCK_WAITING] = waiting
        self._add_event(
            run.root,
            SpanEventRecord("deadlock", self._ts(run, event.t_ns), {A.DEADLOCK_WAITING: waiting}),
        )

    # ------------------------------------------------------------------ node statuses

    def _implied(self, run: _Run, event: ev.Event) -> None:
        """The status change ``event`` implies (schema 2.0 folds; see
        :mod:`flowtrace.implied`), mapped like a reported one."""
        change = status_change(event)
        if change is not None:
            self._status(run, event.t_ns, *change)

    def _status_changed(self, run: _Run, event: ev.NodeStatusChanged) -> None:
        self._status(
            run, event.t_ns, event.node_id, event.old, event.new, event.run_level, event.port
        )

    def _status(
        self,
        run: _Run,
        t_ns: int,
        node_id: str,
        old: str | None,
        new: str,
        run_level: int | None,
        port: int | None,
    ) -> None:
        """A status change, reported (``old`` given) or implied (``old`` is the status
        the mapping last saw). A change to the status a node already has is no change."""
        current = run.status.get(node_id, "waiting")
        if new == current:
            return
        run.status[node_id] = new
        if old is None:
            old = current
        span = run.open_evals.get(node_id)
        if span is None:
            if new in _PRE_RUN_STATUSES:
                # Leading up to an evaluation: summarised as its queue wait (an
                # attribute), which costs far less than two span events per evaluation.
                if new == "queued" and node_id not in run.queued_at:
                    run.queued_at[node_id] = t_ns
                return
            if old == "executing" and new == "waiting":
                return  # the evaluation span's end already says it
            span = run.root
        if self._full(span):
            span.dropped_events += 1
            return
        attrs: Attributes = {A.STATUS_OLD: old, A.STATUS_NEW: new}
        if run_level is not None:
            attrs[A.RUN_LEVEL] = run_level
        if port is not None:
            attrs[A.PORT] = port
        if span is run.root:
            attrs = {A.NODE_ID: node_id, **attrs}
        span.events.append(SpanEventRecord("status", self._ts(run, t_ns), attrs))

    # ------------------------------------------------------------------ evaluations

    def _limit_reached(self, run: _Run, event: ev.GenerationLimitReached) -> None:
        attrs: Attributes = {A.GENERATION: generation_text(event.generation)}
        if event.limit is not None:
            attrs[A.LIMIT] = generation_text(event.limit)
        self._note(run, event.node_id, "generation_limit", event.t_ns, attrs)

    def _node_errored(self, run: _Run, event: ev.NodeErrored) -> None:
        span = self._target(run, event.node_id)
        span.attributes[A.ERROR_PHASE] = event.phase
        self._error(
            run,
            span,
            event.error,
            event.t_ns,
            f"{event.node_id} failed",
            {A.ERROR_PHASE: event.phase, A.GENERATION: generation_text(event.generation)},
        )

    def _write_barrier(self, run: _Run, event: ev.DataEmitted) -> None:
        """The write barrier of ``event`` (schema 2.0: ``DataEmitted.pending_readers``;
        it never blocks here) as the two span events 1.x traces had: the wait, and its
        release, which did not block and took no time."""
        if event.pending_readers <= 0:
            return  # nobody to wait for: the engine passes straight through
        generation = generation_text(event.generation[:1] if event.generation else None)
        self._note(
            run,
            event.node_id,
            "barrier.wait",
            event.t_ns,
            {
                A.GENERATION: generation,
                A.RUN_LEVEL: event.run_level,
                A.PENDING_READERS: event.pending_readers,
            },
        )
        self._note(
            run,
            event.node_id,
            "barrier.released",
            event.t_ns,
            {
                A.GENERATION: generation,
                A.RUN_LEVEL: event.run_level,
                A.BLOCKED: False,
                A.WAITED_NS: 0,
            },
        )

    # ------------------------------------------------------------------ streams

    def _stream_stalled(self, run: _Run, event: ev.StreamStalled) -> None:
        self._implied(run, event)  # stalled on the port
        self._close_consume(run, event.consumer, event.port, event.t_ns)
        self._note(
            run,
            event.consumer,
            "stream.stalled",
            event.t_ns,
            {
                A.PORT: event.port,
                A.PRODUCER: event.producer,
                A.PRODUCER_GENERATION: generation_text(event.last_generation),
            },
        )

    def _stream_resumed(self, run: _Run, event: ev.StreamResumed) -> None:
        self._implied(run, event)  # executing again
        self._note(
            run,
            event.consumer,
            "stream.resumed",
            event.t_ns,
            {A.PORT: event.port, A.PRODUCER: event.producer},
        )

    def _stream_ended(self, run: _Run, event: ev.StreamEnded) -> None:
        self._close_consume(run, event.consumer, event.port, event.t_ns)
        self._note(
            run,
            event.consumer,
            "stream.ended",
            event.t_ns,
            {
                A.PORT: event.port,
                A.PRODUCER: event.producer,
                A.PRODUCER_GENERATION: generation_text(event.generation),
                A.CANCELLED: event.cancelled,
            },
        )

    def _cancel_requested(self, run: _Run, event: ev.StreamCancelRequested) -> None:
        self._note(
            run,
            event.consumer,
            "stream.cancel_requested",
            event.t_ns,
            {
                A.PORT: event.port,
                A.PRODUCER: event.producer,
                A.PRODUCER_GENERATION: generation_text(event.generation),
                A.PROPAGATED: event.propagated,
            },
        )

    def _stream_cancelled(self, run: _Run, event: ev.StreamCancelled) -> None:
        self._note(
            run,
            event.producer,
            "stream.cancelled",
            event.t_ns,
            {
                A.GENERATION: generation_text(event.generation),
                A.REQUESTED_BY: list(event.requested_by),
                A.HANDLED: event.handled,
            },
        )
