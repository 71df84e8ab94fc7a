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

from typing import NamedTuple

from flowtrace.events import (
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
    "StatusChange",
    "QueuePut",
    "status_change",
    "queue_put",
    "queue_get",
    "STATUS_EVENT_TYPES",
    "QUEUE_PUT_EVENT_TYPES",
    "QUEUE_GET_EVENT_TYPES",
]


class StatusChange(NamedTuple):
    """A node's new status, explicit or implied. ``old`` is ``None`` when implied (the
    consumer knows the status it had); ``run_level`` is set for ``waiting``, ``port``
    for ``stalled``."""

    node_id: str
    old: NodeStatus | None
    new: NodeStatus
    run_level: int | None
    port: int | None


class QueuePut(NamedTuple):
    """A put on the resolution queue, explicit or implied: ``node_id`` demanded by
    ``by`` for ``reason``; ``added`` false when it was already queued."""

    node_id: str
    by: str | None
    reason: str
    added: bool


def status_change(event: Event) -> StatusChange | None:
    """The status change ``event`` is or implies, or ``None``."""
    if isinstance(event, NodeStatusChanged):
        return StatusChange(event.node_id, event.old, event.new, event.run_level, event.port)
    if isinstance(event, NodeStarted):
        return StatusChange(event.node_id, None, "executing", None, None)
    if isinstance(event, NodeFinished):
        if event.outcome == "completed":
            return StatusChange(event.node_id, None, "waiting", 0, None)
        return None
    if isinstance(event, DataEmitted):
        if event.parked:
            return StatusChange(event.node_id, None, "waiting", event.run_level, None)
        return None
    if isinstance(event, StreamStalled):
        return StatusChange(event.consumer, None, "stalled", None, event.port)
    if isinstance(event, StreamResumed):
        return StatusChange(event.consumer, None, "executing", None, None)
    return None


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


#: The event classes for which :func:`status_change` can return a change: a consumer
#: following statuses may skip every other event without asking.
STATUS_EVENT_TYPES: frozenset[type[Event]] = frozenset(
    {NodeStatusChanged, NodeStarted, NodeFinished, DataEmitted, StreamStalled, StreamResumed}
)
#: The event classes for which :func:`queue_put` can return a put.
QUEUE_PUT_EVENT_TYPES: frozenset[type[Event]] = frozenset({ResolutionQueuePut, StreamStalled})
#: The event classes for which :func:`queue_get` can return a node.
QUEUE_GET_EVENT_TYPES: frozenset[type[Event]] = frozenset({SolutionFound})
