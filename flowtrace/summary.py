"""What a trace says at a glance: runs, nodes, errors, deadlocks, cycles, cancellations.

This is the data behind ``flowtrace show``, kept apart from any terminal code so other
tools (``make demo``, tests, notebooks) can use it. It is computed in one streaming pass
(:class:`SummaryBuilder`), so summarising a huge trace never holds its events in memory.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flowtrace.events import (
    DataEmitted,
    DeadlockDetected,
    ErrorInfo,
    Event,
    FlowFinished,
    FlowStarted,
    Generation,
    LoopExited,
    LoopStarted,
    NodeErrored,
    NodeFinished,
    NodeStarted,
    OffloadFinished,
    OffloadStarted,
    OffloadSubmitted,
    SolutionFound,
    StreamCancelled,
    StreamCancelRequested,
    TaskFinished,
    TaskSpawned,
    WaitInfo,
)
from flowtrace.replay import NORMAL_OUTCOMES
from flowtrace.tracefile import TraceDamage, TraceHeader, TraceReader

__all__ = [
    "NodeStats",
    "ErrorRecord",
    "DeadlockRecord",
    "CycleBreakRecord",
    "StreamCancelRecord",
    "OffloadStats",
    "OffloadProblem",
    "RunSummary",
    "TraceSummary",
    "SummaryBuilder",
    "summarize_events",
    "summarize_file",
    "generation_text",
    "duration_text",
]


def generation_text(generation: Generation) -> str:
    """``(3,)`` -> ``3``, ``(3, 1)`` -> ``3.1``, ``None`` -> ``-``."""
    if generation is None:
        return "-"
    return ".".join(str(g) for g in generation) if generation else "()"


def duration_text(ns: int | float) -> str:
    """A duration in the unit that reads best (``812 ns``, ``1.25 ms``, ``3.0 s``)."""
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.1f} µs"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.2f} ms"
    return f"{ns / 1_000_000_000:.2f} s"


@dataclass
class NodeStats:
    """One node over one run. Times are wall time between ``NodeStarted`` and
    ``NodeFinished`` of each evaluation (they include the time it spent suspended)."""

    node_id: str
    label: str = ""
    kind: str = ""
    evaluations: int = 0
    completed: int = 0
    errors: int = 0
    items: int = 0
    generation: Generation = None
    total_ns: int = 0
    timed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def mean_ns(self) -> float:
        """Mean wall time of the timed evaluations (0 when none was timed)."""
        return self.total_ns / self.timed if self.timed else 0.0


@dataclass(frozen=True)
class ErrorRecord:
    """An error seen in a run: raised by a node, a task, or ending the run itself."""

    run_id: str
    source: str  # "node", "task", "flow" or "loop"
    node_id: str | None
    generation: Generation
    phase: str | None
    error: ErrorInfo


@dataclass(frozen=True)
class DeadlockRecord:
    """A deadlock a run detected, with what each stuck node was waiting for."""

    run_id: str
    waiting: tuple[WaitInfo, ...]


@dataclass
class CycleBreakRecord:
    """A cycle broken by running ``node_id`` with defaults; ``count`` times in the run."""

    run_id: str
    node_id: str
    members: tuple[str, ...]
    defaulted_ports: tuple[int, ...]
    count: int = 0


@dataclass(frozen=True)
class StreamCancelRecord:
    """A producer's stream cancelled at ``generation`` by the consumers that asked."""

    run_id: str
    producer: str
    generation: Generation
    requested_by: tuple[str, ...]
    handled: bool


@dataclass
class OffloadStats:
    """The offloaded calls of one node (or of tasks outside nodes: ``node_id`` "")
    in one run: how many, how they ended, which workers ran them, and time spent
    queued (submit to start on the worker) and running there."""

    node_id: str
    executors: list[str] = field(default_factory=list)
    calls: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    workers: list[str] = field(default_factory=list)
    queue_ns: int = 0
    run_ns: int = 0


@dataclass(frozen=True)
class OffloadProblem:
    """An offloaded call that did not return: raised, lost, refused, cancelled or
    abandoned — which one, of which node, on which executor, and why."""

    run_id: str
    call_id: int
    node_id: str | None
    function: str
    executor: str
    outcome: str
    error: ErrorInfo | None


@dataclass
class RunSummary:
    """One run: how it ended, how long it took, and its nodes in registration order."""

    run_id: str
    flow_id: str | None = None
    outcome: str = "incomplete"
    events: int = 0
    first_t_ns: int = 0
    last_t_ns: int = 0
    wall_time_ns: int | None = None
    tasks: int = 0
    error: ErrorInfo | None = None
    nodes: dict[str, NodeStats] = field(default_factory=dict)
    offloads: dict[str, OffloadStats] = field(default_factory=dict)
    offload_problems: list[OffloadProblem] = field(default_factory=list)

    @property
    def duration_ns(self) -> int:
        """Time from the run's first event to its last."""
        return self.last_t_ns - self.first_t_ns

    @property
    def evaluations(self) -> int:
        """Node evaluations started in the run, all nodes together."""
        return sum(n.evaluations for n in self.nodes.values())


@dataclass
class TraceSummary:
    """The whole trace: its runs and what went wrong in them, plus any damage found in
    the file and the event kinds the reader did not know (``skipped_kinds``)."""

    path: str | None
    header: TraceHeader | None
    runs: list[RunSummary]
    errors: list[ErrorRecord]
    deadlocks: list[DeadlockRecord]
    cycle_breaks: list[CycleBreakRecord]
    stream_cancels: list[StreamCancelRecord]
    stream_cancel_requests: int
    events: int
    damage: TraceDamage | None = None
    skipped_kinds: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class SummaryBuilder:
    """Feed events in file order with :meth:`add`; :meth:`finish` gives the summary."""

    def __init__(self) -> None:
        self._runs: dict[str, RunSummary] = {}
        self._open: dict[tuple[str, str, Generation], int] = {}
        self._errors: list[ErrorRecord] = []
        self._error_keys: set[tuple[str, str, str]] = set()
        self._deadlocks: list[DeadlockRecord] = []
        self._cycles: dict[tuple[str, str, tuple[str, ...], tuple[int, ...]], CycleBreakRecord] = {}
        self._cancels: list[StreamCancelRecord] = []
        self._cancel_requests = 0
        self._node_tasks: set[tuple[str, int]] = set()
        self._echoes: dict[str, list[tuple[str, ErrorInfo]]] = {}
        self._handlers: dict[type[Event], Callable[[RunSummary, Any], None]] = {
            FlowStarted: self._flow_started,
            FlowFinished: self._flow_finished,
            LoopStarted: self._loop_started,
            LoopExited: self._loop_exited,
            NodeStarted: self._node_started,
            NodeFinished: self._node_finished,
            NodeErrored: self._node_errored,
            DataEmitted: self._data_emitted,
            DeadlockDetected: self._deadlock,
            SolutionFound: self._solution,
            StreamCancelled: self._stream_cancelled,
            StreamCancelRequested: self._cancel_requested,
            TaskSpawned: self._task_spawned,
            TaskFinished: self._task_finished,
            OffloadSubmitted: self._offload_submitted,
            OffloadStarted: self._offload_started,
            OffloadFinished: self._offload_finished,
        }
        #: (run, call id) -> (node, function, executor) of calls not finished yet.
        self._offload_calls: dict[tuple[str, int], tuple[str, str, str]] = {}
        self._last_run: RunSummary | None = None

    def add(self, event: Event) -> None:
        """Account for the next event of the trace."""
        run_id = event.run_id
        run = self._last_run
        if run is None or run_id != run.run_id:
            run = self._runs.get(run_id)
            if run is None:
                run = self._runs[run_id] = RunSummary(run_id, first_t_ns=event.t_ns)
            self._last_run = run
        run.events += 1
        run.last_t_ns = event.t_ns
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(run, event)

    def add_all(self, events: Iterable[Event]) -> None:
        """Account for each of ``events``, in order."""
        for event in events:
            self.add(event)

    def finish(
        self,
        *,
        path: str | None = None,
        header: TraceHeader | None = None,
        damage: TraceDamage | None = None,
        skipped_kinds: dict[str, int] | None = None,
        notes: list[str] | None = None,
    ) -> TraceSummary:
        """The summary of everything added; what the file said about itself goes in
        ``path``, ``header``, ``damage``, ``skipped_kinds`` and ``notes``."""
        for run_id, echoes in self._echoes.items():  # runs cut short: nothing to match
            for source, error in echoes:
                self._error(run_id, source, None, None, None, error)
        self._echoes.clear()
        return TraceSummary(
            path=path,
            header=header,
            runs=list(self._runs.values()),
            errors=list(self._errors),
            deadlocks=list(self._deadlocks),
            cycle_breaks=list(self._cycles.values()),
            stream_cancels=list(self._cancels),
            stream_cancel_requests=self._cancel_requests,
            events=sum(run.events for run in self._runs.values()),
            damage=damage,
            skipped_kinds=dict(skipped_kinds or {}),
            notes=list(notes or []),
        )

    # -- handlers ---------------------------------------------------------------------

    def _node(self, run: RunSummary, node_id: str) -> NodeStats:
        stats = run.nodes.get(node_id)
        if stats is None:
            stats = run.nodes[node_id] = NodeStats(node_id)
        return stats

    def _offload_stats(self, run: RunSummary, node_id: str) -> OffloadStats:
        stats = run.offloads.get(node_id)
        if stats is None:
            stats = run.offloads[node_id] = OffloadStats(node_id)
        return stats

    def _offload_submitted(self, run: RunSummary, e: OffloadSubmitted) -> None:
        node_id = e.node_id or ""
        stats = self._offload_stats(run, node_id)
        stats.calls += 1
        if e.executor not in stats.executors:
            stats.executors.append(e.executor)
        self._offload_calls[(run.run_id, e.call_id)] = (node_id, e.function, e.executor)

    def _offload_started(self, run: RunSummary, e: OffloadStarted) -> None:
        call = self._offload_calls.get((run.run_id, e.call_id))
        stats = self._offload_stats(run, call[0] if call else (e.node_id or ""))
        if e.worker not in stats.workers and len(stats.workers) < 64:
            stats.workers.append(e.worker)
        stats.queue_ns += max(0, e.queue_ns)

    def _offload_finished(self, run: RunSummary, e: OffloadFinished) -> None:
        call = self._offload_calls.pop((run.run_id, e.call_id), None)
        node_id, function, executor = call if call else (e.node_id or "", "?", "?")
        stats = self._offload_stats(run, node_id)
        stats.outcomes[e.outcome] = stats.outcomes.get(e.outcome, 0) + 1
        if e.run_ns is not None:
            stats.run_ns += max(0, e.run_ns)
        if e.outcome != "returned":
            run.offload_problems.append(
                OffloadProblem(
                    run.run_id, e.call_id, node_id or None, function, executor, e.outcome, e.error
                )
            )

    def _flow_started(self, run: RunSummary, e: FlowStarted) -> None:
        run.flow_id = e.flow_id
        run.wall_time_ns = e.wall_time_ns
        for info in e.graph.nodes:
            stats = self._node(run, info.node_id)
            stats.label, stats.kind = info.label, info.kind

    def _flow_finished(self, run: RunSummary, e: FlowFinished) -> None:
        run.outcome = e.outcome
        run.error = e.error
        end = e.error
        for source, error in self._echoes.pop(run.run_id, []):
            if end is None or (error.type, error.message) != (end.type, end.message):
                self._error(run.run_id, source, None, None, None, error)
        if end is not None and e.outcome not in NORMAL_OUTCOMES:
            self._error(run.run_id, "flow", e.node_id, e.generation, None, end)

    def _loop_started(self, run: RunSummary, e: LoopStarted) -> None:
        if run.wall_time_ns is None:
            run.wall_time_ns = e.wall_time_ns

    def _loop_exited(self, run: RunSummary, e: LoopExited) -> None:
        if run.flow_id is None:  # a plain event-loop run: the loop's outcome is the run's
            run.outcome = e.outcome
            run.error = e.error
        if e.error is not None:
            self._task_or_loop_error(run, "loop", e.error)

    def _node_started(self, run: RunSummary, e: NodeStarted) -> None:
        stats = self._node(run, e.node_id)
        stats.evaluations += 1
        self._open[(run.run_id, e.node_id, e.generation)] = e.t_ns

    def _node_finished(self, run: RunSummary, e: NodeFinished) -> None:
        stats = self._node(run, e.node_id)
        stats.outcomes[e.outcome] = stats.outcomes.get(e.outcome, 0) + 1
        if e.outcome == "completed":
            stats.completed += 1
        started = self._open.pop((run.run_id, e.node_id, e.generation), None)
        if started is not None:
            stats.total_ns += e.t_ns - started
            stats.timed += 1

    def _node_errored(self, run: RunSummary, e: NodeErrored) -> None:
        self._node(run, e.node_id).errors += 1
        self._error(run.run_id, "node", e.node_id, e.generation, e.phase, e.error)

    def _data_emitted(self, run: RunSummary, e: DataEmitted) -> None:
        stats = self._node(run, e.node_id)
        if e.run_level == 0:
            generation = e.generation
            if generation is not None and (
                stats.generation is None or generation > stats.generation
            ):
                stats.generation = generation
        else:
            stats.items += 1

    def _deadlock(self, run: RunSummary, e: DeadlockDetected) -> None:
        self._deadlocks.append(DeadlockRecord(run.run_id, e.waiting))

    def _solution(self, run: RunSummary, e: SolutionFound) -> None:
        for cb in e.cycle_breaks:
            key = (run.run_id, cb.node_id, cb.members, cb.defaulted_ports)
            record = self._cycles.get(key)
            if record is None:
                record = self._cycles[key] = CycleBreakRecord(
                    run.run_id, cb.node_id, cb.members, cb.defaulted_ports
                )
            record.count += 1

    def _stream_cancelled(self, run: RunSummary, e: StreamCancelled) -> None:
        self._cancels.append(
            StreamCancelRecord(run.run_id, e.producer, e.generation, e.requested_by, e.handled)
        )

    def _cancel_requested(self, run: RunSummary, e: StreamCancelRequested) -> None:
        self._cancel_requests += 1

    def _task_spawned(self, run: RunSummary, e: TaskSpawned) -> None:
        run.tasks += 1
        if e.node_id is not None:
            self._node_tasks.add((run.run_id, e.task_id))

    def _task_finished(self, run: RunSummary, e: TaskFinished) -> None:
        if e.error is not None and (run.run_id, e.task_id) not in self._node_tasks:
            self._task_or_loop_error(run, "task", e.error)

    def _task_or_loop_error(self, run: RunSummary, source: str, error: ErrorInfo) -> None:
        """In a flow run, the root task and the loop end with the exception that ends the
        flow (a generation limit is one): held until ``FlowFinished`` says whether it was
        an error at all."""
        if run.flow_id is None:
            self._error(run.run_id, source, None, None, None, error)
        else:
            self._echoes.setdefault(run.run_id, []).append((source, error))

    def _error(
        self,
        run_id: str,
        source: str,
        node_id: str | None,
        generation: Generation,
        phase: str | None,
        error: ErrorInfo,
    ) -> None:
        """Record an error once per run: a node's error reappears in the task, flow and
        loop endings it causes, and is shown where it was first raised."""
        key = (run_id, error.type, error.message)
        if key in self._error_keys:
            return
        self._error_keys.add(key)
        self._errors.append(ErrorRecord(run_id, source, node_id, generation, phase, error))


def summarize_events(events: Iterable[Event]) -> TraceSummary:
    """Summarise events already in memory (e.g. from a capture instrument)."""
    builder = SummaryBuilder()
    builder.add_all(events)
    return builder.finish()


def summarize_file(
    path: str | os.PathLike[str],
    *,
    lenient: bool = False,
    progress: Callable[[int, int], None] | None = None,
    warn: bool = True,
) -> TraceSummary:
    """Summarise a trace file in one streaming pass. ``progress(done, total)`` gets
    file bytes after each block of about a megabyte. Raises
    :class:`~flowtrace.tracefile.TraceFormatError` for a bad file unless ``lenient``
    (which skips bad lines, see :class:`~flowtrace.tracefile.TraceReader`). What a
    newer minor schema changed is in ``notes`` (and, with ``warn``, a warning each)."""
    builder = SummaryBuilder()
    add = builder.add
    # Blocks of thousands of short-lived acyclic events would trigger cyclic-GC passes
    # that find nothing to free; pausing it saves about a sixth of the time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with TraceReader(path, lenient=lenient, warn=warn) as reader:
            for events, _numbers in reader.blocks():
                for event in events:
                    add(event)
                if progress is not None:
                    progress(reader.position(), reader.size)
    finally:
        if gc_was_enabled:
            gc.enable()
    if progress is not None:
        progress(reader.size, reader.size)
    return builder.finish(
        path=reader.path,
        header=reader.header,
        damage=reader.damage,
        skipped_kinds=reader.skipped_kinds,
        notes=reader.notes,
    )
