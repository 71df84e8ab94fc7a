"""What one run did, per node: the facts two runs are compared on besides their lines.

A :class:`RunFacts` is fed the events of one run (only the kinds in :data:`FACT_KINDS`
matter) and keeps small aggregates, never the events: evaluations per node, the value
of each ``(node, generation)``, errors, cycle breaks, stream cancellations, and the
time each node spent evaluating (``NodeStarted`` to ``NodeFinished`` of the same
generation, suspended time included, as ``flowtrace show`` counts it). Values and
errors are written as the canonical renderer writes them (:mod:`flowtrace.testing.lines`),
so two runs whose lines agree also agree here.

Node ids are kept as the events name them; :meth:`RunFacts.renamed` applies the run's
renaming of automatic ids (``Add#7`` → ``Add#0``), known once the run's registrations
have been seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flowtrace import events as ev
from flowtrace.codec import describe
from flowtrace.testing.lines import VALUE_LIMIT, scrub

__all__ = ["FACT_KINDS", "RunFacts", "GenKey", "value_text", "error_text"]

#: Event kinds that feed the facts (all others only count).
FACT_KINDS: frozenset[type[ev.Event]] = frozenset(
    {
        ev.FlowStarted,
        ev.FlowFinished,
        ev.NodeStarted,
        ev.NodeFinished,
        ev.DataEmitted,
        ev.NodeErrored,
        ev.DeadlockDetected,
        ev.SolutionFound,
        ev.StreamCancelled,
        ev.StreamCancelRequested,
    }
)

#: A node and a generation.
GenKey = tuple[str, tuple[int, ...] | None]


def value_text(values: tuple[object, ...] | list[object]) -> str:
    """Values as a canonical line shows them."""
    return ", ".join(scrub(describe(v, VALUE_LIMIT)) for v in values)  # type: ignore[arg-type]


def error_text(error: ev.ErrorInfo | None) -> str:
    """``Type: message`` (never the traceback, which names files and lines)."""
    if error is None:
        return "no error"
    message = scrub(error.message)
    return f"{error.type}: {message}" if message else error.type


def _gen(generation: ev.Generation | list[int]) -> tuple[int, ...] | None:
    return None if generation is None else tuple(generation)


@dataclass
class RunFacts:
    """Aggregates of one run (see the module docstring)."""

    nodes: list[str] = field(default_factory=list)
    evaluations: dict[str, int] = field(default_factory=dict)
    values: dict[GenKey, str] = field(default_factory=dict)
    errors: dict[tuple[str, tuple[int, ...] | None, str, str], int] = field(  # phase, text
        default_factory=dict
    )
    cycle_breaks: dict[tuple[str, tuple[str, ...], tuple[int, ...]], int] = field(
        default_factory=dict
    )
    #: (producer, generation, what happened, the consumers that asked) -> times
    cancellations: dict[tuple[str, tuple[int, ...] | None, str, tuple[str, ...]], int] = field(
        default_factory=dict
    )
    time_ns: dict[str, int] = field(default_factory=dict)
    timed: dict[str, int] = field(default_factory=dict)
    outcome: str = "incomplete"
    flow_error: str | None = None
    _open: dict[tuple[str, tuple[int, ...] | None, int], int] = field(default_factory=dict)

    def add(self, e: ev.Event) -> None:
        """Take one event of the run (any kind; non-fact kinds are ignored)."""
        cls = type(e)
        if cls is ev.NodeStarted:
            assert isinstance(e, ev.NodeStarted)
            self.started(e.node_id, _gen(e.generation), e.run_level, e.t_ns)
        elif cls is ev.NodeFinished:
            assert isinstance(e, ev.NodeFinished)
            self.finished(e.node_id, _gen(e.generation), e.run_level, e.t_ns)
        elif cls is ev.DataEmitted:
            assert isinstance(e, ev.DataEmitted)
            self.values[(e.node_id, _gen(e.generation))] = value_text(e.values)
        elif cls is ev.NodeErrored:
            assert isinstance(e, ev.NodeErrored)
            gen = _gen(e.generation)
            key: tuple[str, tuple[int, ...] | None, str, str] = (
                e.node_id,
                gen,
                e.phase,
                error_text(e.error),
            )
            self.errors[key] = self.errors.get(key, 0) + 1
            self.values.setdefault((e.node_id, gen), f"error: {error_text(e.error)}")
        elif cls is ev.SolutionFound:
            assert isinstance(e, ev.SolutionFound)
            for brk in e.cycle_breaks:
                ckey = (brk.node_id, tuple(brk.members), tuple(brk.defaulted_ports))
                self.cycle_breaks[ckey] = self.cycle_breaks.get(ckey, 0) + 1
        elif cls is ev.StreamCancelled:
            assert isinstance(e, ev.StreamCancelled)
            how = "cancelled, handled" if e.handled else "cancelled, ended"
            skey = (e.producer, _gen(e.generation), how, tuple(e.requested_by))
            self.cancellations[skey] = self.cancellations.get(skey, 0) + 1
        elif cls is ev.StreamCancelRequested:
            assert isinstance(e, ev.StreamCancelRequested)
            what = "cancel requested (propagated)" if e.propagated else "cancel requested"
            skey = (e.producer, _gen(e.generation), what, (e.consumer,))
            self.cancellations[skey] = self.cancellations.get(skey, 0) + 1
        elif cls is ev.DeadlockDetected:
            assert isinstance(e, ev.DeadlockDetected)
            for w in e.waiting:
                dkey = (w.node_id, None, "deadlock", f"deadlocked ({w.status})")
                self.errors[dkey] = self.errors.get(dkey, 0) + 1
        elif cls is ev.FlowFinished:
            assert isinstance(e, ev.FlowFinished)
            self.outcome = e.outcome
            self.flow_error = None if e.error is None else error_text(e.error)
        elif cls is ev.FlowStarted:
            assert isinstance(e, ev.FlowStarted)
            for n in e.graph.nodes:
                if n.node_id not in self.nodes:
                    self.nodes.append(n.node_id)

    def started(
        self, node: str, generation: tuple[int, ...] | None, run_level: int, t_ns: int
    ) -> None:
        """An evaluation began (``NodeStarted``)."""
        self.evaluations[node] = self.evaluations.get(node, 0) + 1
        self._open[(node, generation, run_level)] = t_ns

    def finished(
        self, node: str, generation: tuple[int, ...] | None, run_level: int, t_ns: int
    ) -> None:
        """An evaluation ended (``NodeFinished``): its time counts for the node."""
        started = self._open.pop((node, generation, run_level), None)
        if started is not None:
            self.time_ns[node] = self.time_ns.get(node, 0) + (t_ns - started)
            self.timed[node] = self.timed.get(node, 0) + 1

    def renamed(self, mapping: dict[str, str]) -> RunFacts:
        """The same facts with node ids renamed by ``mapping`` (ids not in it stay)."""
        if not mapping:
            return self

        def r(node: str) -> str:
            return mapping.get(node, node)

        return RunFacts(
            nodes=[r(n) for n in self.nodes],
            evaluations={r(k): v for k, v in self.evaluations.items()},
            values={(r(n), g): v for (n, g), v in self.values.items()},
            errors={(r(n), g, p, t): c for (n, g, p, t), c in self.errors.items()},
            cycle_breaks={
                (r(n), tuple(r(m) for m in ms), ps): c
                for (n, ms, ps), c in self.cycle_breaks.items()
            },
            cancellations={
                (r(n), g, w, tuple(r(x) for x in who)): c
                for (n, g, w, who), c in self.cancellations.items()
            },
            time_ns={r(k): v for k, v in self.time_ns.items()},
            timed={r(k): v for k, v in self.timed.items()},
            outcome=self.outcome,
            flow_error=self.flow_error,
        )
