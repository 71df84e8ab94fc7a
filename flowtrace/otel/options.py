"""How events become spans: the mapping's options and the names it gives runs.

:class:`MappingOptions` is what a user chooses (stream items as span events or child
spans, values or not, the span event limit, the name of unnamed flows); the functions
below are the naming rules every span shares (the root span's name, a generation as
text), used by the mapping and by the exporters alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from flowtrace import events as ev
from flowtrace.otel import attributes as A

__all__ = ["MappingOptions", "flow_name", "generation_text", "root_span_name"]

#: The ids flows get when nobody names them (``flow-0``, ``flow-1``, …).
_AUTOMATIC_FLOW_ID = re.compile(r"flow-[0-9]+")


def flow_name(flow_id: str, default: str | None = None) -> str | None:
    """The name a run's flow goes by: its id when the user chose it
    (``FlowHDL(name=...)``), else ``default`` (the script's name), else None."""
    if flow_id and not _AUTOMATIC_FLOW_ID.fullmatch(flow_id):
        return flow_id
    return default or None


def root_span_name(name: str | None) -> str:
    """``flow.run``, or ``flow.run <name>`` for a named flow."""
    return f"{A.ROOT_SPAN_NAME} {name}" if name else A.ROOT_SPAN_NAME


def generation_text(generation: ev.Generation) -> str:
    """A generation as a short, searchable string: ``(0, 2)`` → ``"0.2"``, None → ``""``."""
    if generation is None:
        return ""
    if len(generation) == 1:
        return str(generation[0])
    return ".".join(map(str, generation))


@dataclass(frozen=True, slots=True)
class MappingOptions:
    """How events become spans.

    ``stream_items``: ``"events"`` (each item is a span event on the producer's and the
    consumer's evaluation span) or ``"spans"`` (each item produced is a child span of the
    producer's evaluation lasting from the previous item; each item consumed a child span
    of the consumer's evaluation lasting until it asks for the next one, linked to the
    item's span). ``record_values``: put encoded values (inputs, outputs, items) in
    attributes, cut to ``value_limit`` characters. ``max_events_per_span``: ``None`` for
    no limit; otherwise the mapping keeps the first ``max - 1`` events of a span and
    reports the rest as dropped (one slot is kept for that report). ``flow_name``: the
    name of runs whose flow has none of its own (``flowtrace run`` and ``export`` pass
    the script's name), shown in the root span's name and ``flowtrace.flow.name``.
    """

    stream_items: Literal["events", "spans"] = "events"
    record_values: bool = True
    value_limit: int = 256
    max_events_per_span: int | None = 128
    flow_name: str | None = None

    def __post_init__(self) -> None:
        if self.stream_items not in ("events", "spans"):
            raise ValueError(f"stream_items must be 'events' or 'spans', not {self.stream_items!r}")
        if self.max_events_per_span is not None and self.max_events_per_span < 2:
            raise ValueError("max_events_per_span must be at least 2 (or None for no limit)")
