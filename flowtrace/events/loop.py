"""The event loop's events: runs, tasks, sleeps, I/O waits, synchronisation
primitives and sockets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowtrace.events.base import (
    Event,
    IOOperation,
    IOOutcome,
    LoopOutcome,
    Primitive,
    SocketOperation,
    TaskOutcome,
    WaitOutcome,
)
from flowtrace.events.records import ErrorInfo

if TYPE_CHECKING:
    from flowtrace.codec import JsonValue
else:
    # msgspec reads the annotations at run time and cannot follow the recursive alias;
    # to it a value is any JSON (arrays come back as lists, objects as dicts).
    JsonValue = Any

__all__ = [
    "LoopStarted",
    "LoopExited",
    "TaskSpawned",
    "TaskFinished",
    "TaskCancelRequested",
    "TaskCreatedFromThread",
    "SleepBegan",
    "SleepEnded",
    "IOWaitBegan",
    "IOWaitEnded",
    "WaitBegan",
    "WaitEnded",
    "LockAcquired",
    "LockReleased",
    "EventSet",
    "ConditionNotified",
    "LatchCountedDown",
    "AsyncQueuePut",
    "AsyncQueueGot",
    "AsyncQueueClosed",
    "SocketOpBegan",
    "SocketOpEnded",
    "SocketClosed",
    "TLSHandshakeCompleted",
]


class LoopStarted(Event, frozen=True, gc=False):
    """A loop run began. ``wall_time_ns`` is ``time.time_ns()`` at the start."""

    root_task_id: int
    wall_time_ns: int
    virtual_time: bool
    asyncio_mode: bool


class LoopExited(Event, frozen=True, gc=False):
    """A loop run ended, however it ended. ``error`` is set for ``error`` outcomes."""

    outcome: LoopOutcome
    error: ErrorInfo | None
    tasks_left: int


class TaskSpawned(Event, frozen=True, gc=False):
    """A task was created. ``node_id`` is set for a flow node's own task."""

    task_id: int
    name: str
    parent_id: int | None
    node_id: str | None


class TaskFinished(Event, frozen=True, gc=False):
    """A task ended: returned a value, raised, or let ``TaskCancelled`` escape."""

    task_id: int
    outcome: TaskOutcome
    result: JsonValue
    error: ErrorInfo | None


class TaskCancelRequested(Event, frozen=True, gc=False):
    """``by_task_id`` asked for ``task_id`` to be cancelled."""

    task_id: int
    by_task_id: int | None
    first_request: bool


class TaskCreatedFromThread(Event, frozen=True, gc=False):
    """A task was handed to the loop from another thread (``create_task``)."""

    task_id: int
    thread_name: str


class SleepBegan(Event, frozen=True, gc=False):
    """A task started sleeping until ``deadline`` (loop clock, seconds). ``duration``
    and ``deadline`` are ``None`` for a sleep without end (``sleep(math.inf)``): JSON
    has no infinity, and ``None`` says it plainly."""

    task_id: int
    duration: float | None
    deadline: float | None


class SleepEnded(Event, frozen=True, gc=False):
    """A sleep ended; ``slept`` is the loop-clock time actually slept."""

    task_id: int
    slept: float
    cancelled: bool


class IOWaitBegan(Event, frozen=True, gc=False):
    """A task is waiting for I/O: a socket operation, or an asyncio awaitable."""

    task_id: int
    operation: IOOperation
    target: str


class IOWaitEnded(Event, frozen=True, gc=False):
    """The I/O wait ended (``outcome``: ``ready``, ``error`` or ``cancelled``)."""

    task_id: int
    operation: IOOperation
    target: str
    outcome: IOOutcome
    nbytes: int | None


class WaitBegan(Event, frozen=True, gc=False):
    """A task blocked on a synchronisation primitive (``primitive_id`` is per run)."""

    task_id: int
    primitive: Primitive
    primitive_id: int
    reason: str


class WaitEnded(Event, frozen=True, gc=False):
    """The blocked task was woken (``woken``), cancelled, or the queue closed."""

    task_id: int
    primitive: Primitive
    primitive_id: int
    outcome: WaitOutcome


class LockAcquired(Event, frozen=True, gc=False):
    """``task_id`` took lock ``lock_id``; ``waited`` when it had to wait for it."""

    task_id: int
    lock_id: int
    waited: bool


class LockReleased(Event, frozen=True, gc=False):
    """``handed_to`` is the waiter that now owns the lock (FIFO), if any."""

    task_id: int
    lock_id: int
    handed_to: int | None


class EventSet(Event, frozen=True, gc=False):
    """``task_id`` set event ``event_id``, waking the tasks in ``woken`` (in order)."""

    task_id: int
    event_id: int
    woken: tuple[int, ...]


class ConditionNotified(Event, frozen=True, gc=False):
    """``task_id`` notified condition ``condition_id``, waking ``woken`` (in order)."""

    task_id: int
    condition_id: int
    woken: tuple[int, ...]


class LatchCountedDown(Event, frozen=True, gc=False):
    """``task_id`` counted latch ``latch_id`` down; ``remaining`` counts are left."""

    task_id: int
    latch_id: int
    remaining: int


class AsyncQueuePut(Event, frozen=True, gc=False):
    """``task_id`` put ``item`` (encoded) on queue ``queue_id``, now ``size`` long."""

    task_id: int
    queue_id: int
    item: JsonValue
    size: int


class AsyncQueueGot(Event, frozen=True, gc=False):
    """``task_id`` took ``item`` (encoded) from queue ``queue_id``, now ``size`` long."""

    task_id: int
    queue_id: int
    item: JsonValue
    size: int


class AsyncQueueClosed(Event, frozen=True, gc=False):
    """``task_id`` closed queue ``queue_id``; the getters in ``woken`` were woken."""

    task_id: int
    queue_id: int
    woken: tuple[int, ...]


class SocketOpBegan(Event, frozen=True, gc=False):
    """A task called a socket operation (every call, whether it then waits or not;
    ``IOWaitBegan`` follows when it has to wait). ``socket_id`` is per run; ``target``
    the socket's addresses (or the address being connected to)."""

    task_id: int
    socket_id: int
    operation: SocketOperation
    target: str


class SocketOpEnded(Event, frozen=True, gc=False):
    """The socket operation finished: ``nbytes`` received or sent (``None`` for the
    others), ``waited`` false when it completed at once, ``error`` when it failed."""

    task_id: int
    socket_id: int
    operation: SocketOperation
    target: str
    outcome: IOOutcome
    nbytes: int | None
    waited: bool
    error: ErrorInfo | None


class SocketClosed(Event, frozen=True, gc=False):
    """A socket was closed (``task_id`` ``None`` when closed outside a task)."""

    task_id: int | None
    socket_id: int
    target: str


class TLSHandshakeCompleted(Event, frozen=True, gc=False):
    """A TLS handshake succeeded (a failed one is ``SocketOpEnded(operation="handshake",
    outcome="error")``): protocol version, cipher suite and its secret bits."""

    task_id: int
    socket_id: int
    server_hostname: str | None
    version: str | None
    cipher: str | None
    bits: int | None
