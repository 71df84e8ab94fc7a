"""The mapping from flowtrace events to spans, shared by the live and the offline path.

:class:`SpanMapper` is a small state machine fed one event at a time, in ``seq`` order
(from the instrument bus while a flow runs, or from a trace file later). It needs no
OpenTelemetry import: it produces :class:`~flowtrace.otel.model.SpanRecord` values and
hands them to a sink. The rules (documented for users in ``docs/otel.md``):

* one trace per flow run: ``FlowStarted`` opens the root span ``flow.run`` (named
  ``flow.run <name>`` when the flow has a name: ``FlowHDL(name=...)``, else the
  script's, :attr:`MappingOptions.flow_name`), ``FlowFinished`` closes it (outcome
  attribute; status ERROR and an ``exception`` event when the run failed);
* one span per node evaluation, ``NodeStarted`` → ``NodeFinished`` at run level 0,
  named after the node, child of ``flow.run``;
* ``InputsGathered`` adds per-port input attributes and, for every input read from a
  producer, a link to the producer evaluation's span (the data lineage);
* stream items are span events (default) or child spans (``stream_items="spans"``);
* status changes (reported, or implied by the schema 2.0 folds: see
  :mod:`flowtrace.implied`), write barriers with pending readers, stalls, stream ends
  and cancellations become span events on the node's open evaluation span (the changes
  leading up to an evaluation become its ``flowtrace.queue_wait_ns``; others outside any
  evaluation go to ``flow.run``);
* ``NodeErrored`` sets status ERROR and adds the standard ``exception`` event.

Event times are ``perf_counter_ns`` values; spans carry Unix epoch nanoseconds computed
from the run's ``FlowStarted.wall_time_ns`` and its ``t_ns``, so both paths agree.

Span events beyond ``max_events_per_span`` are dropped by the mapping itself (keeping
the first ones, which an SDK would not), counted in ``flowtrace.events.dropped`` and
announced by a final ``flowtrace.events_dropped`` event.

This module builds the spans; :mod:`flowtrace.otel.span_events` holds the state, the
span operations and the handlers that only add span events and attributes;
:mod:`flowtrace.otel.options` the options and the naming rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flowtrace import events as ev
from flowtrace.otel import attributes as A
from flowtrace.otel.model import (
    Attributes,
    RecordingSink,
    SpanEventRecord,
    SpanRecord,
    SpanSink,
)
from flowtrace.otel.options import MappingOptions, flow_name, generation_text, root_span_name
from flowtrace.otel.span_events import MapperBase, _Run

__all__ = [
    "MappingOptions",
    "SpanMapper",
    "MAPPED_EVENT_TYPES",
    "flow_name",
    "generation_text",
    "root_span_name",
    "spans_from_events",
]

#: Run outcomes that make ``flow.run`` an error (a generation limit is a requested stop).
_FAILED_OUTCOMES = frozenset({"error", "deadlock", "interrupted"})
#: How many finished evaluations per node stay addressable for lineage links.
_KEEP_PER_NODE = 32


_START = object()  # marks FlowStarted in the dispatch table


@dataclass(frozen=True, slots=True)
class _InputKeys:
    """The attribute names of one input port, built once per port number."""

    defaulted: str
    stream: str
    producer: str
    producer_output: str
    producer_generation: str
    producer_span_id: str
    value: str


_INPUT_KEYS: dict[int, _InputKeys] = {}


def _input_keys(port: int) -> _InputKeys:
    keys = _INPUT_KEYS[port] = _InputKeys(
        *(
            A.input_attribute(port, f)
            for f in (
                "defaulted",
                "stream",
                "producer",
                "producer_output",
                "producer_generation",
                "producer_span_id",
                "value",
            )
        )
    )
    return keys


#: The event classes the mapping reads (an instrument subscribes to these only).
MAPPED_EVENT_TYPES: tuple[type[ev.Event], ...] = (
    ev.FlowStarted,
    ev.FlowFinished,
    ev.NodeStatusChanged,
    ev.SolutionFound,
    ev.NodeStarted,
    ev.NodeFinished,
    ev.InputsGathered,
    ev.DataEmitted,
    ev.GenerationLimitReached,
    ev.NodeErrored,
    ev.DeadlockDetected,
    ev.StreamItemConsumed,
    ev.StreamStalled,
    ev.StreamResumed,
    ev.StreamEnded,
    ev.StreamCancelRequested,
    ev.StreamCancelled,
    ev.OffloadSubmitted,
    ev.OffloadStarted,
    ev.OffloadFinished,
)


class SpanMapper(MapperBase):
    """Turns the events of any number of flow runs into spans delivered to ``sink``.

    Feed events with :meth:`on_event` (it is an instrument: ``kinds`` lists what it
    reads) and call :meth:`close` at the end of a truncated trace to end whatever is
    still open.
    """

    kinds: tuple[type[ev.Event], ...] = MAPPED_EVENT_TYPES

    def __init__(self, sink: SpanSink, options: MappingOptions | None = None) -> None:
        super().__init__(sink, options)
        self._handlers: dict[type[ev.Event], Callable[[_Run, Any], None]] = {
            ev.FlowFinished: self._flow_finished,
            ev.NodeStatusChanged: self._status_changed,
            ev.SolutionFound: self._solution_found,
            ev.NodeStarted: self._node_started,
            ev.NodeFinished: self._node_finished,
            ev.InputsGathered: self._inputs_gathered,
            ev.DataEmitted: self._data_emitted,
            ev.GenerationLimitReached: self._limit_reached,
            ev.NodeErrored: self._node_errored,
            ev.DeadlockDetected: self._deadlock,
            ev.StreamItemConsumed: self._item_consumed,
            ev.StreamStalled: self._stream_stalled,
            ev.StreamResumed: self._stream_resumed,
            ev.StreamEnded: self._stream_ended,
            ev.StreamCancelRequested: self._cancel_requested,
            ev.StreamCancelled: self._stream_cancelled,
            ev.OffloadSubmitted: self._offload_submitted,
            ev.OffloadStarted: self._offload_started,
            ev.OffloadFinished: self._offload_finished,
        }
        #: Dispatch by event kind (a list index), the hot path of the live instrument.
        self._by_kind: list[Any] = [None] * len(ev.EVENT_TYPES)
        for event_type, handler in self._handlers.items():
            self._by_kind[event_type.kind] = handler
        self._by_kind[ev.FlowStarted.kind] = _START

    # ------------------------------------------------------------------ entry points

    def on_event(self, event: ev.Event) -> None:
        handler = self._by_kind[event.kind]
        if handler is None:
            return
        if handler is _START:
            self._flow_started(event)  # type: ignore[arg-type]
            return
        run = self._runs.get(event.run_id)
        if run is None:
            return  # a loop-only run, or events of a run whose start we never saw
        run.last_ns = run.wall0 + (event.t_ns - run.t0)
        handler(run, event)

    def feed(self, events: Iterable[ev.Event]) -> None:
        for event in events:
            self.on_event(event)

    def close(self) -> None:
        """End every span still open (a trace cut short), at the last time seen."""
        for run in list(self._runs.values()):
            self._finish_run(run, run.last_ns, "unfinished")

    @property
    def open_runs(self) -> int:
        return len(self._runs)

    def offload_span(self, run_id: str, call_id: int) -> SpanRecord | None:
        """The open span of offloaded call ``call_id`` (its ids are the parent the
        worker's own spans get, through the W3C context the instrument sends)."""
        run = self._runs.get(run_id)
        return run.offloads.get(call_id) if run is not None else None

    # ------------------------------------------------------------------ run

    def _flow_started(self, event: ev.FlowStarted) -> None:
        previous = self._runs.get(event.run_id)
        if previous is not None:
            self._finish_run(previous, previous.last_ns, "unfinished")
        nodes = {n.node_id: n for n in event.graph.nodes}
        attrs: Attributes = {
            A.RUN_ID: event.run_id,
            A.FLOW_ID: event.flow_id,
            A.GRAPH_NODES: [n.node_id for n in event.graph.nodes],
            A.GRAPH_NODE_COUNT: len(event.graph.nodes),
            A.GRAPH_EDGE_COUNT: len(event.graph.edges()),
        }
        name = flow_name(event.flow_id, self.options.flow_name)
        if name is not None:
            attrs[A.FLOW_NAME] = name
        root = SpanRecord(root_span_name(name), "flow", event.wall_time_ns, attributes=attrs)
        run = _Run(event.run_id, event.wall_time_ns, event.t_ns, root, nodes, event.wall_time_ns)
        self._runs[event.run_id] = run
        self._start(root)

    def _flow_finished(self, run: _Run, event: ev.FlowFinished) -> None:
        root = run.root
        if event.outcome in _FAILED_OUTCOMES:
            self._error(run, root, event.error, event.t_ns, f"flow run ended: {event.outcome}")
        if event.node_id is not None:
            root.attributes[A.FLOW_ERROR_NODE] = event.node_id
            if event.generation is not None:
                root.attributes[A.FLOW_ERROR_GENERATION] = generation_text(event.generation)
        self._finish_run(run, self._ts(run, event.t_ns), event.outcome)

    def _finish_run(self, run: _Run, end_ns: int, outcome: str) -> None:
        for call_id in list(run.offloads):
            span = run.offloads.pop(call_id)
            span.attributes.setdefault(A.OFFLOAD_OUTCOME, "unfinished")
            self._end(span, end_ns)
        for key in list(run.consuming):
            self._end(run.consuming.pop(key), end_ns)
        for node_id in list(run.open_evals):
            span = run.open_evals.pop(node_id)
            span.attributes.setdefault(A.OUTCOME, "unfinished")
            self._end(span, end_ns)
        run.queued_at.clear()
        run.root.attributes[A.FLOW_OUTCOME] = outcome
        self._end(run.root, end_ns)
        self._runs.pop(run.run_id, None)

    # ------------------------------------------------------------------ evaluations

    def _node_started(self, run: _Run, event: ev.NodeStarted) -> None:
        if event.run_level != 0:
            self._note(
                run,
                event.node_id,
                "status",
                event.t_ns,
                {
                    A.STATUS_NEW: "started",
                    A.GENERATION: generation_text(event.generation),
                    A.RUN_LEVEL: event.run_level,
                },
            )
            return
        self._implied(run, event)  # executing (no span yet: a pre-run status)
        stale = run.open_evals.pop(event.node_id, None)
        if stale is not None:
            stale.attributes.setdefault(A.OUTCOME, "unfinished")
            self._end(stale, self._ts(run, event.t_ns))
        info = run.nodes.get(event.node_id)
        attrs: Attributes = {
            A.RUN_ID: event.run_id,
            A.NODE_ID: event.node_id,
            A.GENERATION: generation_text(event.generation),
            A.RUN_LEVEL: event.run_level,
        }
        if info is not None:
            attrs[A.NODE_LABEL] = info.label
            attrs[A.NODE_KIND] = info.kind
        start = self._ts(run, event.t_ns)
        span = SpanRecord(
            event.node_id,
            "node",
            start,
            parent=run.root,
            attributes=attrs,
            node_id=event.node_id,
        )
        queued = run.queued_at.pop(event.node_id, None)
        if queued is not None:
            span.attributes[A.QUEUE_WAIT_NS] = event.t_ns - queued
        self._start(span)
        run.open_evals[event.node_id] = span
        if event.generation:
            by_gen = run.evals.setdefault(event.node_id, {})
            by_gen[tuple(event.generation[:1])] = span
            if len(by_gen) > _KEEP_PER_NODE:
                del by_gen[next(iter(by_gen))]
        run.last_item_ns[event.node_id] = start

    def _node_finished(self, run: _Run, event: ev.NodeFinished) -> None:
        if event.run_level != 0:
            self._note(
                run,
                event.node_id,
                "status",
                event.t_ns,
                {
                    A.STATUS_NEW: "finished",
                    A.OUTCOME: event.outcome,
                    A.GENERATION: generation_text(event.generation),
                    A.RUN_LEVEL: event.run_level,
                },
            )
            self._implied(run, event)
            return
        span = run.open_evals.pop(event.node_id, None)
        if span is None:
            self._implied(run, event)
            return
        end = self._ts(run, event.t_ns)
        for key in [k for k in run.consuming if k[0] == event.node_id]:
            self._end(run.consuming.pop(key), end)
        span.attributes[A.OUTCOME] = event.outcome
        if event.outcome == "error" and span.status != "error":
            span.status = "error"
            span.status_message = f"{event.node_id} failed"
        self._end(span, end)
        self._implied(run, event)  # completed: waiting (the span's end says it)

    def _inputs_gathered(self, run: _Run, event: ev.InputsGathered) -> None:
        span = run.open_evals.get(event.node_id)
        if span is None:
            return
        attrs = span.attributes
        if event.defaulted_ports:
            attrs[A.INPUTS_DEFAULTED] = list(event.defaulted_ports)
        record_values = self.options.record_values
        for read in event.inputs:
            port = read.port
            keys = _INPUT_KEYS.get(port) or _input_keys(port)
            # Flags only when set, output index only when not 0: the SDK validates every
            # attribute, so each one left out makes every live span cheaper.
            if read.defaulted:
                attrs[keys.defaulted] = True
            if read.stream:
                attrs[keys.stream] = True
            if read.producer is not None:
                attrs[keys.producer] = read.producer
                if read.producer_output:
                    attrs[keys.producer_output] = read.producer_output
            if read.producer_generation is not None:
                attrs[keys.producer_generation] = generation_text(read.producer_generation)
            if record_values and not read.stream:
                attrs[keys.value] = self._value(read.value)
            target = self._eval_of(run, read.producer, read.producer_generation)
            if target is not None:
                attrs[keys.producer_span_id] = f"{target.span_id:016x}"
                self._link(
                    span,
                    target,
                    {
                        A.LINK_KIND: "stream" if read.stream else "input",
                        A.PORT: port,
                        A.PRODUCER: target.node_id or "",
                        A.PRODUCER_GENERATION: generation_text(read.producer_generation),
                    },
                )

    def _data_emitted(self, run: _Run, event: ev.DataEmitted) -> None:
        self._write_barrier(run, event)
        self._emitted(run, event)
        self._implied(run, event)  # parked: the producer waits for its readers

    def _emitted(self, run: _Run, event: ev.DataEmitted) -> None:
        t = self._ts(run, event.t_ns)
        gen = generation_text(event.generation)
        span = run.open_evals.get(event.node_id)
        if event.run_level == 0:
            if span is None:  # data stored outside an evaluation
                self._note(run, event.node_id, "data", event.t_ns, {A.GENERATION: gen})
            elif self.options.record_values:
                for index, value in enumerate(event.values):
                    span.attributes[A.output_attribute(index)] = self._value(value)
            return
        item_attrs: Attributes = {A.GENERATION: gen, A.RUN_LEVEL: event.run_level}
        if self.options.record_values:
            item_attrs[A.VALUE] = self._value(
                event.values[0] if len(event.values) == 1 else list(event.values)
            )
        if self.options.stream_items == "events" or span is None:
            self._note(run, event.node_id, "stream.item", event.t_ns, item_attrs)
            return
        item = SpanRecord(
            f"{event.node_id}.item",
            "item",
            run.last_item_ns.get(event.node_id, span.start_ns),
            parent=span,
            attributes={A.RUN_ID: event.run_id, A.NODE_ID: event.node_id, **item_attrs},
            node_id=event.node_id,
        )
        self._start(item)
        self._end(item, t)
        run.last_item_ns[event.node_id] = t
        if event.generation is not None:
            run.items[(event.node_id, tuple(event.generation))] = item
            if len(run.items) > _KEEP_PER_NODE * max(1, len(run.nodes)):
                del run.items[next(iter(run.items))]

    # ------------------------------------------------------------------ streams

    def _item_consumed(self, run: _Run, event: ev.StreamItemConsumed) -> None:
        attrs: Attributes = {
            A.PORT: event.port,
            A.PRODUCER: event.producer,
            A.PRODUCER_OUTPUT: event.producer_output,
            A.PRODUCER_GENERATION: generation_text(event.generation),
        }
        if self.options.record_values:
            attrs[A.VALUE] = self._value(event.value)
        consumer_span = run.open_evals.get(event.consumer)
        producer_eval = self._eval_of(run, event.producer, event.generation)
        if consumer_span is not None and producer_eval is not None:
            self._link(
                consumer_span,
                producer_eval,
                {
                    A.LINK_KIND: "stream",
                    A.PORT: event.port,
                    A.PRODUCER: event.producer,
                    A.PRODUCER_GENERATION: generation_text(event.generation),
                },
                self._ts(run, event.t_ns),
            )
        if self.options.stream_items == "events" or consumer_span is None:
            self._note(run, event.consumer, "stream.consumed", event.t_ns, attrs)
            return
        self._close_consume(run, event.consumer, event.port, event.t_ns)
        span = SpanRecord(
            f"{event.consumer}.consume",
            "consume",
            self._ts(run, event.t_ns),
            parent=consumer_span,
            attributes={A.RUN_ID: event.run_id, A.NODE_ID: event.consumer, **attrs},
            node_id=event.consumer,
        )
        item = (
            run.items.get((event.producer, tuple(event.generation)))
            if event.generation is not None
            else None
        )
        if item is not None or producer_eval is not None:
            target = item if item is not None else producer_eval
            assert target is not None
            self._link(span, target, {A.LINK_KIND: "stream", A.PORT: event.port})
        self._start(span)
        run.consuming[(event.consumer, event.port)] = span

    # ------------------------------------------------------------------ offloaded calls

    def _offload_submitted(self, run: _Run, event: ev.OffloadSubmitted) -> None:
        """A child span per call, of the node's evaluation (or of ``flow.run``)."""
        parent = run.open_evals.get(event.node_id, run.root) if event.node_id else run.root
        attrs: Attributes = {
            A.OFFLOAD_CALL_ID: event.call_id,
            A.OFFLOAD_EXECUTOR: event.executor,
            A.OFFLOAD_EXECUTOR_KIND: event.executor_kind,
            A.OFFLOAD_FUNCTION: event.function,
            A.OFFLOAD_BODY: event.body,
            A.OFFLOAD_PAYLOAD_BYTES: event.payload_bytes,
        }
        if event.node_id is not None:
            attrs[A.NODE_ID] = event.node_id
            attrs[A.GENERATION] = generation_text(event.generation)
        span = SpanRecord(
            f"{A.OFFLOAD_SPAN_PREFIX} {event.function}",
            "offload",
            self._ts(run, event.t_ns),
            parent=parent,
            attributes=attrs,
            node_id=event.node_id,
        )
        self._start(span)
        run.offloads[event.call_id] = span

    def _offload_started(self, run: _Run, event: ev.OffloadStarted) -> None:
        span = run.offloads.get(event.call_id)
        if span is None:
            return
        attrs = span.attributes
        attrs[A.WORKER_ADDRESS] = event.worker
        attrs[A.WORKER_HOST] = event.host
        attrs[A.WORKER_PID] = event.pid
        attrs[A.OFFLOAD_QUEUE_NS] = event.queue_ns
        self._add_event(
            span,
            SpanEventRecord(
                "offload.started",
                self._ts(run, event.started_t_ns),
                {A.WORKER_ADDRESS: event.worker, A.WORKER_PID: event.pid},
            ),
        )

    def _offload_finished(self, run: _Run, event: ev.OffloadFinished) -> None:
        span = run.offloads.pop(event.call_id, None)
        if span is None:
            return
        span.attributes[A.OFFLOAD_OUTCOME] = event.outcome
        if event.run_ns is not None:
            span.attributes[A.OFFLOAD_RUN_NS] = event.run_ns
        if event.result_bytes is not None:
            span.attributes[A.OFFLOAD_RESULT_BYTES] = event.result_bytes
        if event.outcome in ("raised", "lost", "refused"):
            self._error(
                run,
                span,
                event.error,
                event.t_ns,
                f"offloaded call {event.call_id} {event.outcome}",
            )
        self._end(span, self._ts(run, event.t_ns))


def spans_from_events(
    events: Iterable[ev.Event],
    options: MappingOptions | None = None,
    *,
    seed: int | None = None,
    salt: str = "",
) -> list[SpanRecord]:
    """Map a whole event sequence to finished span records (in the order they ended).

    ``seed`` / ``salt``: reproducible ids (see :class:`~flowtrace.otel.model.RecordingSink`).
    """
    sink = RecordingSink(seed, salt=salt)
    mapper = SpanMapper(sink, options)
    mapper.feed(events)
    mapper.close()
    return sink.spans
