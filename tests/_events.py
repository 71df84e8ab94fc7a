"""Builders of event-vocabulary values for the tests that build flow runs by hand.

Tools that consume the event stream (replay, TUI, OTel mapping, summaries, the testing
renderers) are specified against the vocabulary of :mod:`flowtrace.events`, not against
the engine, so their tests write runs event by event. The graph pieces (ports, nodes),
input reads and the append-an-event step are the same everywhere; they live here so
the scenario modules only say what happens in each run. :class:`Collector` is the
other direction: an instrument keeping what a real run emitted, as a plain list.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal, TypeVar

from flowtrace.codec import JsonValue
from flowtrace.events import Event, Generation, InputRead, NodeInfo, PortInfo

__all__ = ["Collector", "EventLog", "port_info", "node_info", "input_read"]

E = TypeVar("E", bound=Event)


def port_info(
    index: int,
    producer: str | None = None,
    *,
    name: str = "",
    default: JsonValue = None,
    has_default: bool = False,
    min_run_level: int = 0,
) -> PortInfo:
    """Input ``index`` (named ``in<index>`` unless ``name``), fed by output 0 of
    ``producer`` when there is one."""
    return PortInfo(
        index,
        name or f"in{index}",
        min_run_level,
        has_default,
        default,
        producer,
        0 if producer is not None else None,
    )


def node_info(
    node_id: str, *inputs: PortInfo, kind: Literal["mono", "stream"] = "mono"
) -> NodeInfo:
    """A node with one output, labelled with its title-cased id (``acc`` → ``Acc``)."""
    return NodeInfo(node_id, node_id.title(), kind, False, False, tuple(inputs), 1)


def input_read(
    port: int,
    producer: str | None,
    generation: Generation,
    value: JsonValue,
    *,
    defaulted: bool = False,
    stream: bool = False,
) -> InputRead:
    """What a node read on ``port``: ``producer``'s output 0 at ``generation``, or the
    port's default (then no generation is read)."""
    return InputRead(
        port,
        producer,
        0 if producer else None,
        None if defaulted else generation,
        value,
        defaulted,
        stream,
    )


class EventLog:
    """Appends events of one run with gapless seqs from 0 and evenly spaced times
    (``t0 + seq * step`` nanoseconds), as a recorded run would have them."""

    def __init__(self, run_id: str, *, t0: int = 0, step: int = 1_000) -> None:
        self.run_id = run_id
        self.events: list[Event] = []
        self._t0 = t0
        self._step = step

    def emit(self, cls: type[Event], *fields: Any) -> Event:
        """Append one event of kind ``cls`` (its fields after the header) and return it."""
        seq = len(self.events)
        event = cls(seq, self._t0 + seq * self._step, self.run_id, *fields)
        self.events.append(event)
        return event


class Collector:
    """An instrument that keeps every event it is sent (of ``kinds``, or all), in a
    plain list that compares equal to a list read back from a trace."""

    def __init__(self, kinds: Collection[type[Event]] | None = None) -> None:
        self.kinds = kinds
        self.events: list[Any] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        """The collected events of one kind, in order."""
        return [e for e in self.events if isinstance(e, kind)]
