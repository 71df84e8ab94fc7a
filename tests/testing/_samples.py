"""Hand-built event sequences for the testing tools: one sample of every event kind,
and a complete diamond-shaped flow run following the protocol of DESIGN.md §12.1, in
the schema 2.0 vocabulary (the facts it folds are left to the events that imply them)."""

from __future__ import annotations

from typing import Any

from _events import node_info, port_info

from flowtrace import events as ev
from flowtrace.instrument import Bus

ERR = ev.ErrorInfo("ValueError", "boom", 'Traceback (most recent call last):\n  File "/x.py"\n')


GRAPH = ev.GraphInfo(
    (
        node_info("a"),
        node_info("b", port_info(0, "a", name="x")),
        node_info(
            "c", port_info(0, "a", name="x"), port_info(1, name="k", default=10, has_default=True)
        ),
        node_info("d", port_info(0, "b", name="left"), port_info(1, "c", name="right")),
    )
)


def sample_fields() -> dict[type[ev.Event], tuple[Any, ...]]:
    """Fields (after the header) of one plausible event of every kind."""
    g = (0,)
    return {
        ev.LoopStarted: (0, 1_700_000_000_000_000_000, False, False),
        ev.LoopExited: ("error", ERR, 2),
        ev.TaskSpawned: (3, "node b", 0, "b"),
        ev.TaskFinished: (3, "returned", 42, None),
        ev.TaskCancelRequested: (3, 0, True),
        ev.TaskCreatedFromThread: (4, "Thread-7 (worker)"),
        ev.SleepBegan: (3, 0.5, 12345.678),
        ev.SleepEnded: (3, 0.5012, False),
        ev.IOWaitBegan: (3, "recv", "127.0.0.1:54321"),
        ev.IOWaitEnded: (3, "recv", "127.0.0.1:54321", "ready", 17),
        ev.WaitBegan: (3, "lock", 1, "acquire"),
        ev.WaitEnded: (3, "lock", 1, "woken"),
        ev.LockAcquired: (3, 1, True),
        ev.LockReleased: (3, 1, 4),
        ev.EventSet: (3, 2, (4, 5)),
        ev.ConditionNotified: (3, 3, (4,)),
        ev.LatchCountedDown: (3, 4, 1),
        ev.AsyncQueuePut: (3, 5, "item", 1),
        ev.AsyncQueueGot: (4, 5, "item", 0),
        ev.AsyncQueueClosed: (3, 5, ()),
        ev.SocketOpBegan: (3, 6, "recv", "127.0.0.1:54321->127.0.0.1:443"),
        ev.SocketOpEnded: (3, 6, "recv", "127.0.0.1:54321->127.0.0.1:443", "ready", 17, True, None),
        ev.SocketClosed: (3, 6, "127.0.0.1:54321->127.0.0.1:443"),
        ev.TLSHandshakeCompleted: (3, 6, "localhost", "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256),
        ev.FlowStarted: ("flow-9", 1_700_000_000_000_000_000, GRAPH),
        ev.FlowFinished: ("flow-9", "error", ERR, "b", g),
        ev.NodeStatusChanged: ("b", "queued", "executing", None, None),
        ev.ResolutionQueuePut: ("d", "b", "consumer", True),
        ev.SolutionFound: ("d", ("b", "c"), (("b", "d"),), (ev.CycleBreak("b", ("b", "d"), (0,)),)),
        ev.NodeVisited: ("b", "already_queued"),
        ev.NodeStarted: ("b", g, 0),
        ev.NodeFinished: ("b", g, 0, "completed"),
        ev.InputsGathered: (
            "c",
            g,
            (
                ev.InputRead(0, "a", 0, g, 1, False, False),
                ev.InputRead(1, None, None, None, 10, True, False),
            ),
            (1,),
        ),
        ev.DataEmitted: ("b", g, 0, (2,), 0, False),
        ev.GenerationLimitReached: ("b", (2,), (2,)),
        ev.NodeErrored: ("b", g, ERR, "call"),
        ev.DeadlockDetected: ((ev.WaitInfo("d", "waiting", ("b",), "needs left"),),),
        ev.BarrierCountdown: ("a", "b", g, 0, 1),
        ev.StreamItemConsumed: ("d", 0, "s", 0, (0, 1), "tok", 0),
        ev.StreamStalled: ("d", 0, "s", (0, 1), True),
        ev.StreamResumed: ("d", 0, "s"),
        ev.StreamEnded: ("d", 0, "s", g, False),
        ev.StreamCancelRequested: ("d", 0, "s", g, False),
        ev.StreamCancelled: ("s", g, ("d",), True),
        ev.OffloadSubmitted: (
            0,
            "b",
            g,
            3,
            "default",
            "ProcessPoolExecutor, 2 workers",
            "score",
            False,
            120,
        ),
        ev.OffloadStarted: (0, "b", "pid 4242", "host-1", 4242, 1_500_000, 9_000_000),
        ev.OffloadFinished: (0, "b", "raised", 2_000_000, None, ERR),
    }


def sample_event(
    kind: type[ev.Event], *, seq: int = 0, t_ns: int = 123, run_id: str = "run-1"
) -> ev.Event:
    return kind(seq, t_ns, run_id, *sample_fields()[kind])


def emit_diamond_run(bus: Bus, *, with_loop: bool = True) -> None:
    """A complete run of ``a -> (b, c) -> d`` as the engine reports it (§12.1)."""
    e = bus.emit
    e(ev.FlowStarted, "flow-1", 1_700_000_000_000_000_000, GRAPH)
    if with_loop:
        e(ev.LoopStarted, 0, 1_700_000_000_000_000_000, False, False)
        for task_id, info in enumerate(GRAPH.nodes, start=1):
            e(ev.TaskSpawned, task_id, f"node {info.node_id}", 0, info.node_id)
    e(ev.ResolutionQueuePut, "d", None, "start", True)
    e(ev.SolutionFound, "d", ("a",), (), ())
    e(ev.NodeStatusChanged, "a", "waiting", "queued", None, None)
    _evaluate(bus, "a", (), (1,))
    for consumer in ("b", "c"):
        e(ev.ResolutionQueuePut, consumer, "a", "consumer", True)
    for node, value in (("b", 2), ("c", 11)):
        e(ev.SolutionFound, node, (node,), (), ())
        e(ev.NodeStatusChanged, node, "waiting", "queued", None, None)
        reads = [ev.InputRead(0, "a", 0, (0,), 1, False, False)]
        if node == "c":
            reads.append(ev.InputRead(1, None, None, None, 10, True, False))
        countdown = ("a", node, (0,), 0, 1 if node == "b" else 0)
        _evaluate(bus, node, tuple(reads), (value,), countdown)
        e(ev.ResolutionQueuePut, "d", node, "consumer", node == "b")
    e(ev.SolutionFound, "d", ("d",), (), ())
    e(ev.NodeStatusChanged, "d", "waiting", "queued", None, None)
    _evaluate(
        bus,
        "d",
        (
            ev.InputRead(0, "b", 0, (0,), 2, False, False),
            ev.InputRead(1, "c", 0, (0,), 11, False, False),
        ),
        (13,),
    )
    if with_loop:
        e(ev.LoopExited, "completed", None, 0)
    e(ev.FlowFinished, "flow-1", "completed", None, None, None)


def _evaluate(
    bus: Bus,
    node: str,
    reads: tuple[ev.InputRead, ...],
    values: tuple[Any, ...],
    countdown: tuple[str, str, ev.Generation, int, int] | None = None,
) -> None:
    """Started (now executing), the reads, the result, finished (now waiting)."""
    e = bus.emit
    e(ev.NodeStarted, node, (0,), 0)
    if countdown is not None:
        e(ev.BarrierCountdown, *countdown)
    defaulted = tuple(r.port for r in reads if r.defaulted)
    e(ev.InputsGathered, node, (0,), reads, defaulted)
    e(ev.DataEmitted, node, (0,), 0, values, 0, False)
    e(ev.NodeFinished, node, (0,), 0, "completed")
