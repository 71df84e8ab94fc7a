"""Whole traces in memory: :func:`read_trace` reads a file into a :class:`Trace`, its
events in file order and grouped by run (:class:`RunTrace`), with what a lenient read
skipped and what a newer minor schema changed.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flowtrace.events import Event, FlowFinished, FlowStarted, GraphInfo, LoopExited, LoopStarted
from flowtrace.tracefile.errors import TraceDamage
from flowtrace.tracefile.header import TraceHeader
from flowtrace.tracefile.reader import TraceReader

__all__ = ["RunTrace", "Trace", "read_trace"]


@dataclass
class RunTrace:
    """The events of one run (one ``run_id``), in order."""

    run_id: str
    events: list[Event] = field(default_factory=list)

    def _first(self, kind: type[Event]) -> Any:
        for event in self.events[:64]:
            if type(event) is kind:
                return event
        for event in self.events[64:]:
            if type(event) is kind:
                return event
        return None

    def _last(self, kind: type[Event]) -> Any:
        for event in reversed(self.events):
            if type(event) is kind:
                return event
        return None

    @property
    def flow_started(self) -> FlowStarted | None:
        found: FlowStarted | None = self._first(FlowStarted)
        return found

    @property
    def flow_finished(self) -> FlowFinished | None:
        found: FlowFinished | None = self._last(FlowFinished)
        return found

    @property
    def loop_started(self) -> LoopStarted | None:
        found: LoopStarted | None = self._first(LoopStarted)
        return found

    @property
    def loop_exited(self) -> LoopExited | None:
        found: LoopExited | None = self._last(LoopExited)
        return found

    @property
    def graph(self) -> GraphInfo | None:
        started = self.flow_started
        return started.graph if started is not None else None

    @property
    def outcome(self) -> str:
        """How the run ended, or ``incomplete`` when the trace stops before its end."""
        finished = self.flow_finished
        if finished is not None:
            return finished.outcome
        exited = self.loop_exited
        if exited is not None:
            return exited.outcome
        return "incomplete"

    @property
    def duration_ns(self) -> int:
        if not self.events:
            return 0
        return self.events[-1].t_ns - self.events[0].t_ns


@dataclass
class Trace:
    """A whole trace file in memory: the header, every event in file order, and the
    same events grouped by run (runs in order of first appearance)."""

    path: str
    header: TraceHeader
    events: list[Event]
    runs: dict[str, RunTrace]
    damage: TraceDamage | None = None
    skipped_kinds: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def run(self, run_id: str | None = None) -> RunTrace:
        """One run by id; without an id, the only run (an error if there are several)."""
        if run_id is not None:
            return self.runs[run_id]
        if len(self.runs) != 1:
            raise KeyError(f"the trace holds {len(self.runs)} runs; pass a run id")
        return next(iter(self.runs.values()))


def read_trace(
    path: str | os.PathLike[str],
    *,
    lenient: bool = False,
    progress: Callable[[int, int], None] | None = None,
    max_line_bytes: int | None = None,
    warn: bool = True,
) -> Trace:
    """Read a whole trace and group its events by run.

    ``progress(done, total)`` (bytes of the file) is called after each block of about
    a megabyte and at the end. Raises :class:`TraceFormatError` (strict) or records
    :attr:`Trace.damage`. ``max_line_bytes`` and ``warn``: see :class:`TraceReader`
    (what a newer minor schema changed is in :attr:`Trace.notes`).
    """
    reader = TraceReader(path, lenient=lenient, max_line_bytes=max_line_bytes, warn=warn)
    # Millions of long-lived, acyclic objects: the cyclic GC would rescan them again and
    # again while they are built (several times the cost of the read itself).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    events: list[Event] = []
    runs: dict[str, RunTrace] = {}
    current_id: str | None = None
    current: list[Event] = []
    try:
        for block, _numbers in reader.blocks():
            events.extend(block)
            for event in block:
                run_id = event.run_id
                if run_id != current_id:
                    run = runs.get(run_id)
                    if run is None:
                        run = runs[run_id] = RunTrace(run_id)
                    current_id, current = run_id, run.events
                current.append(event)
            if progress is not None:
                progress(reader.position(), reader.size)
    finally:
        reader.close()
        if gc_was_enabled:
            gc.enable()
    if progress is not None:
        progress(reader.size, reader.size)
    return Trace(
        reader.path,
        reader.header,
        events,
        runs,
        reader.damage,
        dict(reader.skipped_kinds),
        list(reader.notes),
    )
