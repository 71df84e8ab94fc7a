"""Canonical text rendering of a run: one line per event, stable across runs and machines.

An execution-order snapshot is only useful if it changes when, and only when, the
behaviour changes. So the rendering keeps what the program decides — which node ran,
in which generation, what it emitted, what the scheduler chose — and drops everything
the environment decides: wall-clock and monotonic times, run ids (a process-wide
counter), thread names, socket addresses, tracebacks (file paths), and memory addresses
inside ``repr`` texts. Node ids are the engine's ids, except that automatic ones
(``Add#3``, numbered per class for the whole process) count from 0 in each run;
generations are written as tuples ``(0,)``; values are shortened with
:func:`flowtrace.codec.describe`.

Detail levels select which events are rendered:

``evaluations``
    the run's frame and what nodes did: flow start/finish, node starts, ends, emitted
    values and stream items, errors, generation limits, deadlocks;
``scheduling`` (the default)
    plus the graph as registered, status changes, resolution-queue moves, solutions and
    cycle breaks, visits, gathered inputs (with producer generations), barriers, stalls
    and stream events;
``full``
    every event, including the event loop's (tasks, sleeps, waits, locks, queues).

Schema 2.0 folds some of these facts into the events beside them (a node's change to
``executing`` is its ``NodeStarted``, the graph is in ``FlowStarted``…); from the
``scheduling`` level on, each line spells out the facts its event implies (see
:mod:`flowtrace.testing.lines`), so the rendering keeps every fact schema 1.x showed.
The ``evaluations`` level renders its lines without them. A collection of event
classes shows them when it holds ``NodeStatusChanged`` or ``ResolutionQueuePut``, and
then also renders the events that imply a status change or a queue move.

Sequence numbers are renumbered from 0 within the rendered selection of each run, so
a level that hides events still numbers its lines gaplessly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Literal, TypeAlias

from flowtrace import events as ev
from flowtrace.implied import queue_get, queue_put, status_change
from flowtrace.runs import events_by_run
from flowtrace.testing.lines import render_event, scrub

__all__ = [
    "Level",
    "LEVELS",
    "LEVEL_NAMES",
    "Selection",
    "render_event",
    "render_lines",
    "render_order",
    "split_runs",
    "event_types_for",
    "shows_implied",
    "canonical_node_ids",
    "node_id_renamer",
    "scrub",
]

Level: TypeAlias = Literal["evaluations", "scheduling", "full"]

#: A level name, or an explicit collection of event classes to render.
Selection: TypeAlias = "Level | str | Collection[type[ev.Event]]"

LEVEL_NAMES: tuple[str, ...] = ("evaluations", "scheduling", "full")

_EVALUATIONS: frozenset[type[ev.Event]] = frozenset(
    {
        ev.FlowStarted,
        ev.FlowFinished,
        ev.NodeStarted,
        ev.NodeFinished,
        ev.DataEmitted,
        ev.NodeErrored,
        ev.GenerationLimitReached,
        ev.DeadlockDetected,
    }
)

_SCHEDULING: frozenset[type[ev.Event]] = _EVALUATIONS | frozenset(
    {
        ev.NodeStatusChanged,
        ev.ResolutionQueuePut,
        ev.SolutionFound,
        ev.NodeVisited,
        ev.InputsGathered,
        ev.BarrierCountdown,
        ev.StreamItemConsumed,
        ev.StreamStalled,
        ev.StreamResumed,
        ev.StreamEnded,
        ev.StreamCancelRequested,
        ev.StreamCancelled,
        ev.OffloadSubmitted,
        ev.OffloadStarted,
        ev.OffloadFinished,
    }
)

#: Event classes rendered at each level. ``full`` is every known kind (and any kind
#: added later, which the renderer prints generically until it gets its own line).
LEVELS: dict[str, frozenset[type[ev.Event]]] = {
    "evaluations": _EVALUATIONS,
    "scheduling": _SCHEDULING,
    "full": frozenset(ev.EVENT_TYPES),
}

_AUTO_ID = re.compile(r"^(.+)#(\d+)$")


def event_types_for(selection: Selection) -> frozenset[type[ev.Event]] | None:
    """The event classes a selection renders; ``None`` means every event (``full``)."""
    if isinstance(selection, str):
        if selection not in LEVELS:
            raise ValueError(
                f"unknown detail level {selection!r}: use one of {', '.join(LEVEL_NAMES)} "
                "or a collection of event classes"
            )
        return None if selection == "full" else LEVELS[selection]
    return frozenset(selection)


def shows_implied(selection: Selection) -> bool:
    """Whether lines of ``selection`` spell out the facts their events imply: at the
    ``scheduling`` and ``full`` levels, and for a collection holding
    ``NodeStatusChanged`` or ``ResolutionQueuePut`` (the kinds those facts were)."""
    if isinstance(selection, str):
        event_types_for(selection)  # refuses an unknown name
        return selection != "evaluations"
    kinds = frozenset(selection)
    return ev.NodeStatusChanged in kinds or ev.ResolutionQueuePut in kinds


# ----------------------------------------------------------------------------- runs


def split_runs(events: Iterable[ev.Event]) -> list[list[ev.Event]]:
    """Group events by run, runs in order of their first event, events in seq order.

    Run ids are process-wide counters, so they are never rendered; a run is known by
    its position here.
    """
    return list(events_by_run(events).values())


def _selected(events: Iterable[ev.Event], selection: Selection) -> list[ev.Event]:
    wanted = event_types_for(selection)
    if wanted is None:
        return list(events)
    if isinstance(selection, str):
        return [e for e in events if type(e) in wanted]
    # A collection naming a folded kind also gets the events that now carry its facts.
    statuses = ev.NodeStatusChanged in wanted
    queue = ev.ResolutionQueuePut in wanted
    return [
        e
        for e in events
        if type(e) in wanted
        or (statuses and status_change(e) is not None)
        or (queue and (queue_put(e) is not None or queue_get(e) is not None))
    ]


def canonical_node_ids(events: Iterable[ev.Event]) -> dict[str, str]:
    """Renames for automatic node ids (``Label#N``) so they count from 0 per run.

    The engine numbers unnamed nodes per class for the whole process, so the same flow
    built in two tests gets ``Add#0`` in one and ``Add#4`` in the other, depending on
    what ran before. In the rendering, each label counts from 0 in registration order
    within the run. Ids already canonical are left out of the mapping.
    """
    mapping: dict[str, str] = {}
    counters: dict[str, int] = {}
    for event in events:
        if not isinstance(event, ev.FlowStarted):
            continue
        for node in event.graph.nodes:
            match = _AUTO_ID.match(node.node_id)
            if match is None or node.node_id in mapping:
                continue
            label = match.group(1)
            index = counters.get(label, 0)
            counters[label] = index + 1
            mapping[node.node_id] = f"{label}#{index}"
    return {old: new for old, new in mapping.items() if old != new}


def _renamer(mapping: dict[str, str]) -> Callable[[str], str]:
    if not mapping:
        return lambda line: line
    alternatives = "|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w#])({alternatives})(?!\d)")

    def rename(line: str) -> str:
        return pattern.sub(lambda m: mapping[m.group(1)], line)

    return rename


def node_id_renamer(mapping: dict[str, str]) -> Callable[[str], str]:
    """A function applying ``mapping`` (from :func:`canonical_node_ids`) to a rendered
    line: for tools that render a run's events one at a time (``flowtrace diff``)."""
    return _renamer(mapping)


def render_lines(events: Iterable[ev.Event], level: Selection = "scheduling") -> list[str]:
    """The lines of the events ``level`` selects, unnumbered, in the order given.

    ``events`` are those of one run: automatic node ids are renumbered per run (see
    :func:`canonical_node_ids`), from the graph the run registered.
    """
    all_events = list(events)
    rename = _renamer(canonical_node_ids(all_events))
    implied = shows_implied(level)
    return [rename(render_event(e, implied=implied)) for e in _selected(all_events, level)]


def render_order(
    events: Sequence[ev.Event] | Iterable[ev.Event],
    level: Selection = "scheduling",
    *,
    numbered: bool = True,
) -> str:
    """The canonical text of one or several runs, one event per line, ending in a newline.

    Lines are ``"   3  a started (0,)"``: the position within the selection (from 0 in
    each run), then the event. With several runs each starts with a ``== run N ==``
    line. ``numbered=False`` drops the positions, which keeps a diff local when an
    event is inserted (every later number would shift otherwise).
    """
    runs = split_runs(events)
    out: list[str] = []
    for index, run in enumerate(runs):
        if len(runs) > 1:
            out.append(f"== run {index} ==")
        lines = render_lines(run, level)
        if numbered:
            out.extend(f"{i:>4}  {line}" for i, line in enumerate(lines))
        else:
            out.extend(lines)
    return "".join(line + "\n" for line in out)
