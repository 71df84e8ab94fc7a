"""The registry of event kinds: :data:`EVENT_TYPES` in their fixed order (an event's
integer ``kind`` is its index there, which the instrument bus indexes subscribers by),
the kinds by name, and :data:`AnyEvent`, the tagged union a trace reader decodes.

The order is part of the bus's contract: add a kind at the end of its group, never
reorder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias, Union

from flowtrace.events.base import Event
from flowtrace.events.flow import (
    BarrierCountdown,
    DataEmitted,
    DeadlockDetected,
    FlowFinished,
    FlowStarted,
    GenerationLimitReached,
    InputsGathered,
    NodeErrored,
    NodeFinished,
    NodeStarted,
    NodeStatusChanged,
    NodeVisited,
    ResolutionQueuePut,
    SolutionFound,
    StreamCancelled,
    StreamCancelRequested,
    StreamEnded,
    StreamItemConsumed,
    StreamResumed,
    StreamStalled,
)
from flowtrace.events.loop import (
    AsyncQueueClosed,
    AsyncQueueGot,
    AsyncQueuePut,
    ConditionNotified,
    EventSet,
    IOWaitBegan,
    IOWaitEnded,
    LatchCountedDown,
    LockAcquired,
    LockReleased,
    LoopExited,
    LoopStarted,
    SleepBegan,
    SleepEnded,
    SocketClosed,
    SocketOpBegan,
    SocketOpEnded,
    TaskCancelRequested,
    TaskCreatedFromThread,
    TaskFinished,
    TaskSpawned,
    TLSHandshakeCompleted,
    WaitBegan,
    WaitEnded,
)
from flowtrace.events.offload import OffloadFinished, OffloadStarted, OffloadSubmitted

__all__ = ["LOOP_EVENT_TYPES", "FLOW_EVENT_TYPES", "EVENT_TYPES", "EVENT_TYPES_BY_NAME", "AnyEvent"]


LOOP_EVENT_TYPES: tuple[type[Event], ...] = (
    LoopStarted,
    LoopExited,
    TaskSpawned,
    TaskFinished,
    TaskCancelRequested,
    TaskCreatedFromThread,
    SleepBegan,
    SleepEnded,
    IOWaitBegan,
    IOWaitEnded,
    WaitBegan,
    WaitEnded,
    LockAcquired,
    LockReleased,
    EventSet,
    ConditionNotified,
    LatchCountedDown,
    AsyncQueuePut,
    AsyncQueueGot,
    AsyncQueueClosed,
    SocketOpBegan,
    SocketOpEnded,
    SocketClosed,
    TLSHandshakeCompleted,
)

FLOW_EVENT_TYPES: tuple[type[Event], ...] = (
    FlowStarted,
    FlowFinished,
    NodeStatusChanged,
    ResolutionQueuePut,
    SolutionFound,
    NodeVisited,
    NodeStarted,
    NodeFinished,
    InputsGathered,
    DataEmitted,
    GenerationLimitReached,
    NodeErrored,
    DeadlockDetected,
    BarrierCountdown,
    StreamItemConsumed,
    StreamStalled,
    StreamResumed,
    StreamEnded,
    StreamCancelRequested,
    StreamCancelled,
    OffloadSubmitted,
    OffloadStarted,
    OffloadFinished,
)

#: Every event class; an event's ``kind`` is its index here.
EVENT_TYPES: tuple[type[Event], ...] = LOOP_EVENT_TYPES + FLOW_EVENT_TYPES

EVENT_TYPES_BY_NAME: dict[str, type[Event]] = {t.__name__: t for t in EVENT_TYPES}

#: The tagged union of every event: what a trace reader decodes a line into (msgspec
#: picks the class by the ``kind`` tag). Built from :data:`EVENT_TYPES`, so the two
#: cannot disagree; to the type checker it is an :class:`Event`.
if TYPE_CHECKING:
    AnyEvent: TypeAlias = Event
else:
    AnyEvent = Union[EVENT_TYPES]  # noqa: UP007 - a Union of a tuple of classes

for _index, _event_type in enumerate(EVENT_TYPES):
    _event_type.kind = _index
del _index, _event_type
