"""Per-node run state: what the engine keeps for one node during a run
(:class:`_Runtime`, off the user-visible node object), and how it is shown outside:
Flowno's :class:`NodeTaskStatus` classes and the :class:`NodeStateView` a replayed trace
must match. Also the event-kind indices the flow's hot paths test (one global load
each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowtrace.codec import JsonValue
from flowtrace.engine.generation import Generation
from flowtrace.engine.node import FinalizedNode
from flowtrace.engine.streams import Connection, Stream
from flowtrace.engine.tasks import Task
from flowtrace.events import (
    BarrierCountdown,
    DataEmitted,
    GenerationLimitReached,
    InputsGathered,
    NodeErrored,
    NodeFinished,
    NodeStarted,
    NodeStatus,
    NodeStatusChanged,
    NodeVisited,
    ResolutionQueuePut,
    SolutionFound,
    StreamCancelRequested,
    StreamEnded,
    StreamItemConsumed,
    StreamResumed,
    StreamStalled,
)
from flowtrace.events import StreamCancelled as StreamCancelledEvent

#: Event kinds the flow's hot paths test (``bus.listening[kind]``), as constants.
_K_STATUS = NodeStatusChanged.kind
_K_PUT = ResolutionQueuePut.kind
_K_SOLUTION = SolutionFound.kind
_K_VISITED = NodeVisited.kind
_K_STARTED = NodeStarted.kind
_K_FINISHED = NodeFinished.kind
_K_GATHERED = InputsGathered.kind
_K_DATA = DataEmitted.kind
_K_LIMIT = GenerationLimitReached.kind
_K_ERRORED = NodeErrored.kind
_K_BCOUNT = BarrierCountdown.kind
_K_CONSUMED = StreamItemConsumed.kind
_K_STALLED = StreamStalled.kind
_K_RESUMED = StreamResumed.kind
_K_ENDED = StreamEnded.kind
_K_CANCEL_REQ = StreamCancelRequested.kind
_K_CANCELLED = StreamCancelledEvent.kind

#: "No generation limit" (a limit itself may be any generation, ``None`` included).
_NOLIMIT: Any = object()
#: The connection table shared by every node that reads no stream (never written to).
_NO_CONNS: dict[int, Connection] = {}


class _Runtime:
    """Per-run engine state of one node (kept off the user-visible node object).

    Defaults are class attributes, so creating one allocates almost nothing; lists are
    created on first use (a shared empty tuple until then)."""

    status: NodeStatus = "waiting"
    run_level = -1
    task: Task | None = None
    stalled_port = -1
    defaulted: list[int] | tuple[()] = ()
    pending_cancels: list[Stream[Any]] | tuple[()] = ()
    #: Cancellations thrown at an offloaded call the producer waited on (offload.py).
    cancels_thrown: list[Stream[Any]] | tuple[()] = ()
    streams: list[Stream[Any]] | tuple[()] = ()
    queued = False
    q_demand = False
    q_notifiers: list[FinalizedNode] | tuple[()] = ()
    renotify: list[FinalizedNode] | tuple[()] = ()
    visited = False
    eval_gen: Generation = None
    in_eval = False
    limit: Any = _NOLIMIT
    conns: dict[int, Connection] = _NO_CONNS
    barrier0 = 0
    barrier1 = 0
    mono_readers = 0
    stream_readers = 0
    error: BaseException | None = None


class NodeTaskStatus:
    """Flowno's status classes, for code that inspects ``flow.node_tasks``. The
    engine itself uses the strings ``waiting``, ``queued``, ``executing``, ``stalled``
    and ``error`` (the ``status`` attribute of each class)."""

    @dataclass(frozen=True)
    class WaitingForStartNextGeneration:
        run_level: int = -1
        status = "waiting"

    @dataclass(frozen=True)
    class Queued:
        status = "queued"

    @dataclass(frozen=True)
    class Executing:
        status = "executing"

    @dataclass(frozen=True)
    class Stalled:
        stalling_input: Any = None
        status = "stalled"

    @dataclass(frozen=True)
    class Error:
        status = "error"

    @staticmethod
    def of(node: FinalizedNode) -> Any:
        rt = node._rt
        if rt is None:
            return NodeTaskStatus.WaitingForStartNextGeneration(-1)
        status = rt.status
        if status == "waiting":
            return NodeTaskStatus.WaitingForStartNextGeneration(rt.run_level)
        if status == "queued":
            return NodeTaskStatus.Queued()
        if status == "executing":
            return NodeTaskStatus.Executing()
        if status == "stalled":
            return NodeTaskStatus.Stalled(node.input(rt.stalled_port))
        return NodeTaskStatus.Error()


@dataclass(frozen=True, slots=True)
class NodeStateView:
    """A node's final state as the engine sees it (what a replayed trace must match):
    status string, generation, run level of its last park, and its newest complete
    result encoded with the run's codec."""

    node_id: str
    status: NodeStatus
    generation: Generation
    run_level: int
    data: JsonValue
