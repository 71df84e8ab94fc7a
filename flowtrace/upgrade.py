"""Schema 1.x traces read as schema 2.0: the folds of :mod:`flowtrace.events`, applied
to an old file's events as they are read.

A 1.x line decodes into :data:`V1Event`: the 2.0 classes for every kind whose fields
did not change, and the classes below for the kinds 2.0 removed or changed. An
:class:`Upgrader` then turns each run's events into 2.0 events, streaming (it holds
back the last event of each run, to see its neighbour, or a stream item and the queue
puts after it), and numbers them again from 0 without gaps:

* dropped, because another event says the same: ``ResolutionQueueGet`` (the
  ``SolutionFound`` that follows it), ``NodeVisited(action="resumed")`` (the status
  change to ``queued``), ``NodeRegistered`` (``FlowStarted.graph``), and
  ``BarrierWaitBegan``/``BarrierWaitEnded`` (the barrier never blocked; the pending
  reader count moves to the node's next ``DataEmitted.pending_readers``, default 0);
* ``NodeStatusChanged`` dropped where its neighbour implies it: queued→executing just
  before the node's ``NodeStarted``; stalled/queued→executing just before its
  ``StreamResumed``; executing→stalled just before its ``StreamStalled``;
  executing→waiting at run level 0 after its ``NodeFinished(completed)``;
  executing→waiting at run level 1 after its stream item's ``DataEmitted`` and the
  queue puts of its consumers (the item gets ``parked=True``; else ``False``);
* folded into the neighbour: a ``ResolutionQueuePut(reason="stall")`` just after a
  ``StreamStalled`` becomes its ``producer_queued`` (else ``None``); a run-level-1
  ``BarrierCountdown`` just before a ``StreamItemConsumed`` of the same producer and
  consumer becomes its ``remaining`` (else ``None``);
* ``SleepBegan`` with an infinite (or NaN) duration or deadline gets ``None``.

Where a neighbour is not as expected the explicit event stays: it is valid 2.0, and
consumers apply a status a node already has as a no-op. "Just before/after" is among
the events that remain (the unconditionally dropped ones do not count).
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Iterable
from typing import Any, Literal

import msgspec

from flowtrace.eventjson import value_checker
from flowtrace.events import (
    EVENT_TYPES_BY_NAME,
    BarrierCountdown,
    DataEmitted,
    Event,
    Generation,
    NodeFinished,
    NodeInfo,
    NodeStarted,
    NodeStatusChanged,
    NodeVisited,
    ResolutionQueuePut,
    SleepBegan,
    StreamItemConsumed,
    StreamResumed,
    StreamStalled,
)
from flowtrace.implied import status_change

__all__ = [
    "V1Event",
    "V1_TYPES_BY_NAME",
    "V1_DECODER",
    "V1_CHECKS",
    "Upgrader",
    "upgrade_events",
]


class V1Record(msgspec.Struct, frozen=True, gc=False, tag_field="kind"):
    """A schema 1.x event kind that 2.0 removed or changed (tag: its 1.x name)."""

    seq: int
    t_ns: int
    run_id: str


class NodeRegistered1(V1Record, frozen=True, gc=False, tag="NodeRegistered"):
    node: NodeInfo


class ResolutionQueueGet1(V1Record, frozen=True, gc=False, tag="ResolutionQueueGet"):
    node_id: str


class BarrierWaitBegan1(V1Record, frozen=True, gc=False, tag="BarrierWaitBegan"):
    node_id: str
    generation: Generation
    run_level: int
    pending_readers: int


class BarrierWaitEnded1(V1Record, frozen=True, gc=False, tag="BarrierWaitEnded"):
    node_id: str
    generation: Generation
    run_level: int
    blocked: bool


class NodeVisited1(V1Record, frozen=True, gc=False, tag="NodeVisited"):
    node_id: str
    action: Literal["resumed", "already_queued", "running", "error", "finished"]


class DataEmitted1(V1Record, frozen=True, gc=False, tag="DataEmitted"):
    node_id: str
    generation: Generation
    run_level: int
    values: tuple[Any, ...]


class StreamItemConsumed1(V1Record, frozen=True, gc=False, tag="StreamItemConsumed"):
    consumer: str
    port: int
    producer: str
    producer_output: int
    generation: Generation
    value: Any


class StreamStalled1(V1Record, frozen=True, gc=False, tag="StreamStalled"):
    consumer: str
    port: int
    producer: str
    last_generation: Generation


class SleepBegan1(V1Record, frozen=True, gc=False, tag="SleepBegan"):
    task_id: int
    duration: float
    deadline: float


_V1_ONLY: tuple[type[V1Record], ...] = (
    NodeRegistered1,
    ResolutionQueueGet1,
    BarrierWaitBegan1,
    BarrierWaitEnded1,
    NodeVisited1,
    DataEmitted1,
    StreamItemConsumed1,
    StreamStalled1,
    SleepBegan1,
)

#: Every kind a 1.x file may hold, by its name in the file.
V1_TYPES_BY_NAME: dict[str, type[msgspec.Struct]] = {
    **EVENT_TYPES_BY_NAME,
    **{typing.cast(str, t.__struct_config__.tag): t for t in _V1_ONLY},
}

#: The tagged union a 1.x line decodes into.
V1Event: Any = typing.Union[tuple(V1_TYPES_BY_NAME.values())]  # noqa: UP007
V1_DECODER: msgspec.json.Decoder[Any] = msgspec.json.Decoder(V1Event)
#: Per class of :data:`V1Event`: the check that its values do not nest too deep.
V1_CHECKS: dict[type, Callable[[Any], None]] = {
    t: c for t in V1_TYPES_BY_NAME.values() if (c := value_checker(t)) is not None
}


class _Run:
    """One run's state: the events held back (the last one, to see its neighbour; a
    stream item with the queue puts after it, to see whether its producer parks), the
    next seq, and what later events need."""

    __slots__ = ("barrier", "finished", "held", "lines", "park", "seq")

    def __init__(self) -> None:
        self.held: list[Event] = []
        self.lines: list[int] = []
        #: ``held[0]`` is a stream item whose producer may park after its puts.
        self.park = False
        self.seq = 0
        self.barrier: dict[tuple[str, int], int] = {}
        self.finished: set[str] = set()


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


class Upgrader:
    """Turns the events of a 1.x file (:data:`V1Event`, runs interleaved, each run in
    order) into 2.0 events, as they come: :meth:`feed` a block, :meth:`finish` at the
    end of the file. Each event keeps the line number it was read from; ``folded``
    counts what was dropped or folded, by what it was."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}
        #: Per kind name: how many 1.x events were dropped or folded away.
        self.folded: dict[str, int] = {}

    def _count(self, what: str) -> None:
        self.folded[what] = self.folded.get(what, 0) + 1

    def feed(self, events: Iterable[Any], lines: Iterable[int]) -> tuple[list[Event], list[int]]:
        out: list[Event] = []
        numbers: list[int] = []
        runs = self._runs
        for event, line in zip(events, lines, strict=True):
            run = runs.get(event.run_id)
            if run is None:
                run = runs[event.run_id] = _Run()
            upgraded = self._translate(event, run)
            if upgraded is not None:
                self._fold(upgraded, line, run, out, numbers)
        return out, numbers

    def finish(self) -> tuple[list[Event], list[int]]:
        """The events still held back (one per run at most)."""
        out: list[Event] = []
        numbers: list[int] = []
        for run in self._runs.values():
            self._emit(run, out, numbers)
        return out, numbers

    def _translate(self, event: Any, run: _Run) -> Event | None:
        """The 2.0 form of one 1.x event before any fold (``None``: dropped)."""
        if isinstance(event, Event):
            return event
        if isinstance(event, ResolutionQueueGet1 | NodeRegistered1 | BarrierWaitEnded1):
            self._count(type(event).__struct_config__.tag)  # type: ignore[arg-type]
            return None
        if isinstance(event, BarrierWaitBegan1):
            run.barrier[(event.node_id, event.run_level)] = event.pending_readers
            self._count("BarrierWaitBegan")
            return None
        if isinstance(event, NodeVisited1):
            if event.action == "resumed":
                self._count("NodeVisited(resumed)")
                return None
            return NodeVisited(event.seq, event.t_ns, event.run_id, event.node_id, event.action)
        if isinstance(event, DataEmitted1):
            pending = run.barrier.pop((event.node_id, event.run_level), 0)
            return DataEmitted(
                event.seq,
                event.t_ns,
                event.run_id,
                event.node_id,
                event.generation,
                event.run_level,
                event.values,
                pending,
                False,
            )
        if isinstance(event, StreamItemConsumed1):
            return StreamItemConsumed(
                event.seq,
                event.t_ns,
                event.run_id,
                event.consumer,
                event.port,
                event.producer,
                event.producer_output,
                event.generation,
                event.value,
                None,
            )
        if isinstance(event, StreamStalled1):
            return StreamStalled(
                event.seq,
                event.t_ns,
                event.run_id,
                event.consumer,
                event.port,
                event.producer,
                event.last_generation,
                None,
            )
        if isinstance(event, SleepBegan1):
            return SleepBegan(
                event.seq,
                event.t_ns,
                event.run_id,
                event.task_id,
                _finite(event.duration),
                _finite(event.deadline),
            )
        raise TypeError(f"not a schema 1.x event: {event!r}")  # pragma: no cover

    def _fold(
        self, event: Event, line: int, run: _Run, out: list[Event], numbers: list[int]
    ) -> None:
        held = run.held
        if run.park:
            item = held[0]
            assert isinstance(item, DataEmitted)
            if _parks_after(item, event):
                held[0] = msgspec.structs.replace(item, parked=True)
                run.park = False
                self._count("NodeStatusChanged(executing→waiting, 1) after a stream item")
                return
            if isinstance(event, ResolutionQueuePut) and event.by == item.node_id:
                held.append(event)  # its consumers are queued before it parks
                run.lines.append(line)
                return
            run.park = False  # something else happened: the item is not parked
        prev = held[-1] if held else None
        if isinstance(event, NodeStatusChanged):
            if (
                event.node_id in run.finished
                and event.old == "executing"
                and event.new == "waiting"
                and event.run_level == 0
            ):
                run.finished.discard(event.node_id)
                self._count("NodeStatusChanged(executing→waiting, 0) after NodeFinished")
                return
        elif isinstance(prev, NodeStatusChanged):
            implied = _implied_change(prev, event)
            if implied is not None:
                self._drop_last(run, implied)
        elif (
            isinstance(prev, BarrierCountdown)
            and isinstance(event, StreamItemConsumed)
            and _countdown_of(prev, event)
        ):
            event = msgspec.structs.replace(event, remaining=prev.remaining)
            self._drop_last(run, "BarrierCountdown(run level 1)")
        elif (
            isinstance(prev, StreamStalled)
            and isinstance(event, ResolutionQueuePut)
            and _demand_of(prev, event)
        ):
            held[-1] = msgspec.structs.replace(prev, producer_queued=event.added)
            self._count("ResolutionQueuePut(stall)")
            return
        finished = run.finished
        if finished:
            change = status_change(event)
            if change is not None:
                finished.discard(change.node_id)
        if isinstance(event, NodeFinished) and event.outcome == "completed":
            finished.add(event.node_id)
        self._emit(run, out, numbers)
        held.append(event)
        run.lines.append(line)
        run.park = isinstance(event, DataEmitted) and event.run_level == 1

    def _drop_last(self, run: _Run, what: str) -> None:
        run.held.pop()
        run.lines.pop()
        self._count(what)

    @staticmethod
    def _emit(run: _Run, out: list[Event], numbers: list[int]) -> None:
        """Everything held back, numbered from the run's next seq."""
        seq = run.seq
        for event in run.held:
            out.append(event if event.seq == seq else msgspec.structs.replace(event, seq=seq))
            seq += 1
        numbers.extend(run.lines)
        run.seq = seq
        run.held.clear()
        run.lines.clear()
        run.park = False


def _implied_change(change: NodeStatusChanged, event: Event) -> str | None:
    """What ``change`` is when ``event``, just after it, implies it (``None``: it is
    not implied)."""
    olds: tuple[str, ...]
    if isinstance(event, NodeStarted):
        node, olds, new = event.node_id, ("queued",), "executing"
        what = "NodeStatusChanged(queued→executing)"
    elif isinstance(event, StreamResumed):
        node, olds, new = event.consumer, ("stalled", "queued"), "executing"
        what = "NodeStatusChanged(→executing) at StreamResumed"
    elif isinstance(event, StreamStalled):
        node, olds, new = event.consumer, ("executing",), "stalled"
        what = "NodeStatusChanged(executing→stalled)"
    else:
        return None
    implied = change.node_id == node and change.old in olds and change.new == new
    return what if implied else None


def _parks_after(item: DataEmitted, event: Event) -> bool:
    """Whether ``event`` is the park of the stream item ``item``'s producer (1.x wrote
    it after the item and the queue puts of its consumers)."""
    return (
        isinstance(event, NodeStatusChanged)
        and event.node_id == item.node_id
        and event.old == "executing"
        and event.new == "waiting"
        and event.run_level == item.run_level
    )


def _countdown_of(countdown: BarrierCountdown, read: StreamItemConsumed) -> bool:
    """Whether ``countdown`` is the stream read barrier of ``read`` (1.x wrote it just
    before the read)."""
    return (
        countdown.run_level == 1
        and countdown.node_id == read.producer
        and countdown.reader == read.consumer
    )


def _demand_of(stall: StreamStalled, put: ResolutionQueuePut) -> bool:
    """Whether ``put`` is the stalled consumer's demand on its producer (1.x wrote it
    just after the stall)."""
    return (
        put.reason == "stall"
        and stall.producer_queued is None
        and put.node_id == stall.producer
        and put.by == stall.consumer
    )


def upgrade_events(events: Iterable[Any]) -> list[Event]:
    """A whole 1.x event sequence (:data:`V1Event` objects) as 2.0 events."""
    upgrader = Upgrader()
    items = list(events)
    out, _ = upgrader.feed(items, range(len(items)))
    rest, _ = upgrader.finish()
    return out + rest
