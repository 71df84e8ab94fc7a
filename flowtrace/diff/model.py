"""The result of comparing two runs: plain, frozen values, no terminal code.

A :class:`DiffReport` says where the runs part ways (:class:`Divergence`, first one
first) and what differs in aggregate (evaluations, values, errors, cycle breaks,
cancellations, time per node). ``flowtrace diff`` prints it with rich or as JSON
(:meth:`DiffReport.to_json`); the debugger steps through its divergences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "RunRef",
    "Divergence",
    "CountDiff",
    "ValueDiff",
    "ErrorDiff",
    "CycleBreakDiff",
    "CancelDiff",
    "NodeTiming",
    "DiffReport",
    "DivergenceKind",
    "generation_text",
]

#: ``changed``: lines replaced; ``only in A`` / ``only in B``: lines one run has and the
#: other lacks; ``moved``: the same lines, at another place in the other run.
DivergenceKind = Literal["changed", "only in A", "only in B", "moved"]

Generation = tuple[int, ...] | None


def generation_text(generation: Generation) -> str:
    """``(3,)`` as the canonical lines write it; ``-`` for none."""
    if generation is None:
        return "-"
    if len(generation) == 1:
        return f"({generation[0]},)"
    return "(" + ", ".join(str(g) for g in generation) + ")"


@dataclass(frozen=True)
class RunRef:
    """Which run a side is: file, run number (from 1) and id, and its size."""

    path: str
    run_number: int
    run_id: str
    lines: int
    events: int
    outcome: str
    duration_ns: int

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "run": self.run_number,
            "run_id": self.run_id,
            "lines": self.lines,
            "events": self.events,
            "outcome": self.outcome,
            "duration_ns": self.duration_ns,
        }


@dataclass(frozen=True)
class Divergence:
    """One place where the runs part ways.

    ``a_start``/``a_end`` and ``b_start``/``b_end`` are line positions in each run's
    canonical order (``a_start == a_end``: nothing there in A, the lines of B are
    inserted before A's line ``a_start``). ``a_seq``/``b_seq``: the seq of the event at
    ``a_start``/``b_start`` (the next event when the side is empty there; ``None`` at
    the end). ``context`` holds the common lines just before. ``a_lines``/``b_lines``
    are the differing lines (at most a few; ``a_end - a_start`` says how many there
    are). ``nodes`` and ``generations`` name what the differing lines are about (for a
    ``moved`` stretch, also what the other run did in its place). ``a_after`` and
    ``b_after`` are the lines each run goes on with (``None`` at its end): for a side
    with nothing here, what it did instead."""

    index: int
    kind: DivergenceKind
    a_start: int
    a_end: int
    b_start: int
    b_end: int
    a_seq: int | None
    b_seq: int | None
    context: tuple[str, ...]
    a_lines: tuple[str, ...]
    b_lines: tuple[str, ...]
    nodes: tuple[str, ...]
    generations: tuple[tuple[str, Generation], ...]
    moved_to: int | None = None
    a_after: str | None = None
    b_after: str | None = None

    @property
    def a_count(self) -> int:
        return self.a_end - self.a_start

    @property
    def b_count(self) -> int:
        return self.b_end - self.b_start

    def where(self) -> str:
        """``d (10000,)`` — the nodes and generations involved, for one line of text."""
        parts = []
        for node in self.nodes:
            gens = [generation_text(g) for n, g in self.generations if n == node]
            parts.append(f"{node} {', '.join(gens)}" if gens else node)
        return "; ".join(parts) or "no node"

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "a": {
                "start": self.a_start,
                "end": self.a_end,
                "seq": self.a_seq,
                "lines": list(self.a_lines),
            },
            "b": {
                "start": self.b_start,
                "end": self.b_end,
                "seq": self.b_seq,
                "lines": list(self.b_lines),
            },
            "context": list(self.context),
            "nodes": list(self.nodes),
            "generations": [
                {"node": n, "generation": None if g is None else list(g)}
                for n, g in self.generations
            ],
            "moved_to": self.moved_to,
            "a_after": self.a_after,
            "b_after": self.b_after,
        }


@dataclass(frozen=True)
class CountDiff:
    """A node evaluated a different number of times."""

    node: str
    a: int
    b: int

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class ValueDiff:
    """What one ``(node, generation)`` produced in each run (``None``: nothing)."""

    node: str
    generation: Generation
    a: str | None
    b: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "generation": None if self.generation is None else list(self.generation),
            "a": self.a,
            "b": self.b,
        }


@dataclass(frozen=True)
class ErrorDiff:
    """An error raised in one run only (``side`` "a" or "b"), or a different number of
    times in each (``a`` and ``b`` count it)."""

    node: str
    generation: Generation
    phase: str
    error: str
    a: int
    b: int

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "generation": None if self.generation is None else list(self.generation),
            "phase": self.phase,
            "error": self.error,
            "a": self.a,
            "b": self.b,
        }


@dataclass(frozen=True)
class CycleBreakDiff:
    """A cycle broken a different number of times."""

    node: str
    members: tuple[str, ...]
    defaulted_ports: tuple[int, ...]
    a: int
    b: int

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "members": list(self.members),
            "defaulted_ports": list(self.defaulted_ports),
            "a": self.a,
            "b": self.b,
        }


@dataclass(frozen=True)
class CancelDiff:
    """A stream cancellation (requested or delivered) seen a different number of times."""

    producer: str
    generation: Generation
    what: str
    a: int
    b: int

    def to_json(self) -> dict[str, Any]:
        return {
            "producer": self.producer,
            "generation": None if self.generation is None else list(self.generation),
            "what": self.what,
            "a": self.a,
            "b": self.b,
        }


@dataclass(frozen=True)
class NodeTiming:
    """Time a node spent evaluating in each run. ``ratio`` is B's mean time per
    evaluation over A's (``None`` when either is not timed); ``flag`` is ``slower`` or
    ``faster`` when the ratio passes the threshold."""

    node: str
    a_ns: int
    a_count: int
    b_ns: int
    b_count: int
    ratio: float | None
    flag: Literal["slower", "faster"] | None

    @property
    def a_mean_ns(self) -> float:
        return self.a_ns / self.a_count if self.a_count else 0.0

    @property
    def b_mean_ns(self) -> float:
        return self.b_ns / self.b_count if self.b_count else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "a_ns": self.a_ns,
            "a_evaluations": self.a_count,
            "b_ns": self.b_ns,
            "b_evaluations": self.b_count,
            "a_mean_ns": self.a_mean_ns,
            "b_mean_ns": self.b_mean_ns,
            "ratio": self.ratio,
            "flag": self.flag,
        }


@dataclass(frozen=True)
class DiffReport:
    """Everything ``flowtrace diff`` says about two runs.

    ``lines_agree``: the canonical lines at ``level`` are the same. ``timing_checked``:
    the caller asked for timing to count (``--slower``), so a flagged node makes the
    runs differ too (timing varies between any two runs, so it does not by default)."""

    level: str
    a: RunRef
    b: RunRef
    divergence_count: int
    divergences: tuple[Divergence, ...]
    evaluations: tuple[CountDiff, ...] = ()
    values: tuple[ValueDiff, ...] = ()
    value_count: int = 0
    errors: tuple[ErrorDiff, ...] = ()
    cycle_breaks: tuple[CycleBreakDiff, ...] = ()
    cancellations: tuple[CancelDiff, ...] = ()
    timing: tuple[NodeTiming, ...] = ()
    slower: float = 1.5
    timing_checked: bool = False
    lines_differing: tuple[int, int] = (0, 0)
    notes: tuple[str, ...] = field(default=())

    @property
    def lines_agree(self) -> bool:
        return self.divergence_count == 0

    @property
    def flagged(self) -> tuple[NodeTiming, ...]:
        return tuple(t for t in self.timing if t.flag is not None)

    @property
    def agree(self) -> bool:
        """The verdict: lines agree, and (when timing is checked) no node is flagged."""
        return self.lines_agree and not (self.timing_checked and self.flagged)

    @property
    def first(self) -> Divergence | None:
        return self.divergences[0] if self.divergences else None

    @property
    def exit_status(self) -> int:
        """0 when the runs agree, 1 when they differ."""
        return 0 if self.agree else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "agree": self.agree,
            "lines_agree": self.lines_agree,
            "level": self.level,
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "divergence_count": self.divergence_count,
            "lines_differing": {"a": self.lines_differing[0], "b": self.lines_differing[1]},
            "first_divergence": self.first.to_json() if self.first else None,
            "divergences": [d.to_json() for d in self.divergences],
            "evaluations": [c.to_json() for c in self.evaluations],
            "values": [v.to_json() for v in self.values],
            "value_count": self.value_count,
            "errors": [e.to_json() for e in self.errors],
            "cycle_breaks": [c.to_json() for c in self.cycle_breaks],
            "cancellations": [c.to_json() for c in self.cancellations],
            "timing": {
                "threshold": self.slower,
                "checked": self.timing_checked,
                "nodes": [t.to_json() for t in self.timing],
            },
            "notes": list(self.notes),
        }
