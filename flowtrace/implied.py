"""The facts schema 2.0 folds into neighbouring events, derived back in one place.

Schema 2.0 (see :mod:`flowtrace.events`) does not repeat what an event already says:
a node's change to ``executing`` is its :class:`~flowtrace.events.NodeStarted`, its
park after a completed evaluation is the :class:`~flowtrace.events.NodeFinished`, a
stalled consumer's demand on its producer is part of
:class:`~flowtrace.events.StreamStalled`, and so on. Every consumer that follows node
statuses or the resolution queue (replay, the debugger, the OTel mapping, the
Flowno-style hooks, the snapshot renderer) reads those facts through this module, so
they all agree and none has to know the list of folds.

Explicit :class:`~flowtrace.events.NodeStatusChanged` events still come for every
change no other event implies; a consumer applies both kinds the same way. A trace
upgraded from schema 1.x may carry an explicit change that 2.0 would have implied
(where the upgrader could not fold it): applying a status a node already has is a
no-op, so consumers skip a change whose new status equals the current one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from flowtrace.events import (
    EVENT_TYPES,
    DataEmitted,
    Event,
    NodeFinished,
    NodeStarted,
    NodeStatus,
    NodeStatusChanged,
    ResolutionQueuePut,
    SolutionFound,
    StreamResumed,
    StreamStalled,
)

__all__ = [
    "STATUS_KINDS",
    "QUEUE_PUT_KINDS",
    "QUEUE_GET_KINDS",
    "StatusChange",
    "QueuePut",
    "status_change",
    "queue_put",
    "queue_get",
]


class StatusChange(msgspec.Struct, frozen=True, gc=False):
    """A node's new status, explicit or implied. ``old`` is ``None`` when implied (the
    consumer knows the status it had); ``run_level`` is set for ``waiting``, ``port``
    for ``stalled``."""

    node_id: str
    old: NodeStatus | None
    new: NodeStatus
    run_level: int | None
    port: int | None

    def __iter__(self) -> Iterator[Any]:
        """Unpacks like the tuple it stands for: ``node_id, old, new, run_level, port = change``."""
        return iter(msgspec.structs.astuple(self))


class QueuePut(msgspec.Struct, frozen=True, gc=False):
    """A put on the resolution queue, explicit or implied: ``node_id`` demanded by
    ``by`` for ``reason``; ``added`` false when it was already queued."""

    node_id: str
    by: str | None
    reason: str
    added: bool

    def __iter__(self) -> Iterator[Any]:
        """Unpacks like the tuple it stands for: ``node_id, by, reason, added = change``."""
        return iter(msgspec.structs.astuple(self))


def _explicit(event: Any) -> StatusChange:
    return StatusChange(event.node_id, event.old, event.new, event.run_level, event.port)


def _started(event: Any) -> StatusChange:
    return StatusChange(event.node_id, None, "executing", None, None)


def _finished(event: Any) -> StatusChange | None:
    if event.outcome == "completed":
        return StatusChange(event.node_id, None, "waiting", 0, None)
    return None


def _emitted(event: Any) -> StatusChange | None:
    if event.parked:
        return StatusChange(event.node_id, None, "waiting", event.run_level, None)
    return None


def _stalled(event: Any) -> StatusChange:
    return StatusChange(event.consumer, None, "stalled", None, event.port)


def _resumed(event: Any) -> StatusChange:
    return StatusChange(event.consumer, None, "executing", None, None)


#: Per event class, how to read its status change: one dict lookup per event (the
#: consumers call this for every event of a million-event trace). A subclass of a
#: vocabulary class is looked up by its vocabulary base.
_STATUS: dict[type, Callable[[Any], StatusChange | None]] = {
    NodeStatusChanged: _explicit,
    NodeStarted: _started,
    NodeFinished: _finished,
    DataEmitted: _emitted,
    StreamStalled: _stalled,
    StreamResumed: _resumed,
}
_STATUS_BY_KIND: list[Callable[[Any], StatusChange | None] | None] = [
    _STATUS.get(t) for t in EVENT_TYPES
]


def status_change(event: Event) -> StatusChange | None:
    """The status change ``event`` is or implies, or ``None``."""
    read = _STATUS_BY_KIND[event.kind]
    return None if read is None else read(event)


#: The kinds that are or imply a status change (for consumers that index by kind).
STATUS_KINDS: tuple[type[Event], ...] = tuple(_STATUS)
#: The kinds that are or imply a resolution-queue put (:func:`queue_put`), and the
#: kinds that are a get (:func:`queue_get`): a consumer may skip the others.
QUEUE_PUT_KINDS: tuple[type[Event], ...] = (ResolutionQueuePut, StreamStalled)
QUEUE_GET_KINDS: tuple[type[Event], ...] = (SolutionFound,)


def queue_put(event: Event) -> QueuePut | None:
    """The resolution-queue put ``event`` is or implies, or ``None``."""
    if isinstance(event, ResolutionQueuePut):
        return QueuePut(event.node_id, event.by, event.reason, event.added)
    if isinstance(event, StreamStalled) and event.producer_queued is not None:
        return QueuePut(event.producer, event.consumer, "stall", event.producer_queued)
    return None


def queue_get(event: Event) -> str | None:
    """The node ``event`` took off the resolution queue (a :class:`SolutionFound`'s
    head), or ``None``."""
    if isinstance(event, SolutionFound):
        return event.head
    return None
