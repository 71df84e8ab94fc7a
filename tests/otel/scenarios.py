"""Hand-built flow runs that follow the event protocol of docs/DESIGN.md §12.1, in the
schema 2.0 vocabulary.

The OTel mapping is specified against the event vocabulary, so its tests build runs event
by event: a DAG, a cycle broken by a default, a stream cancelled by its consumer, and a
node that raises. As the engine does, they leave out the status changes other events
imply (see :mod:`flowtrace.implied`): ``NodeStarted`` is the change to ``executing``,
``NodeFinished(completed)`` the park at run level 0, a ``DataEmitted`` with ``parked``
the park after a stream item, ``StreamStalled`` / ``StreamResumed`` the stall and its
end. Every event is 1 µs after the previous one and the run starts at a fixed wall-clock
time, so span times are exact and checkable.
"""

from __future__ import annotations

from _events import EventLog, input_read, node_info, port_info

from flowtrace.codec import JsonValue
from flowtrace.events import (
    CycleBreak,
    DataEmitted,
    ErrorInfo,
    Event,
    FlowFinished,
    FlowOutcome,
    FlowStarted,
    Generation,
    GraphInfo,
    InputRead,
    InputsGathered,
    LoopExited,
    LoopStarted,
    NodeErrored,
    NodeFinished,
    NodeInfo,
    NodeStarted,
    NodeStatus,
    NodeStatusChanged,
    OffloadFinished,
    OffloadStarted,
    OffloadSubmitted,
    ResolutionQueuePut,
    SolutionFound,
    StreamCancelled,
    StreamCancelRequested,
    StreamEnded,
    StreamItemConsumed,
    StreamResumed,
    StreamStalled,
)

__all__ = [
    "WALL0",
    "T0",
    "STEP",
    "Run",
    "dag",
    "cycle",
    "stream_cancel",
    "error",
    "many_items",
    "offloaded",
]

WALL0 = 1_700_000_000_000_000_000  # epoch ns of FlowStarted
T0 = 5_000_000  # perf_counter ns of FlowStarted
STEP = 1_000  # ns between consecutive events


port = port_info
info = node_info
read = input_read


class Run(EventLog):
    """Appends protocol-shaped events with gapless seq and evenly spaced times."""

    def __init__(self, *nodes: NodeInfo, run_id: str = "run-1") -> None:
        super().__init__(run_id, t0=T0, step=STEP)
        self.graph = GraphInfo(tuple(nodes))
        self.emit(FlowStarted, "flow-1", WALL0, self.graph)
        self.emit(LoopStarted, 0, WALL0, False, False)

    def epoch(self, seq: int) -> int:
        """The span time of the event with this seq."""
        return WALL0 + seq * STEP

    def status(
        self,
        node_id: str,
        old: NodeStatus,
        new: NodeStatus,
        run_level: int | None = None,
        port_index: int | None = None,
    ) -> None:
        self.emit(NodeStatusChanged, node_id, old, new, run_level, port_index)

    def schedule(self, node_id: str) -> None:
        self.emit(ResolutionQueuePut, node_id, None, "start", True)
        self.emit(SolutionFound, node_id, (node_id,), (), ())  # the queue's get
        self.status(node_id, "waiting", "queued")

    def evaluate(
        self,
        node_id: str,
        gen: int,
        inputs: tuple[InputRead, ...] = (),
        output: JsonValue = None,
        defaulted: tuple[int, ...] = (),
    ) -> int:
        """A whole mono evaluation; returns the seq of its NodeStarted."""
        started = self.emit(NodeStarted, node_id, (gen,), 0).seq
        self.emit(InputsGathered, node_id, (gen,), inputs, defaulted)
        self.emit(DataEmitted, node_id, (gen,), 0, (output,), 0, False)
        self.emit(NodeFinished, node_id, (gen,), 0, "completed")
        return started

    def finish(
        self,
        outcome: FlowOutcome = "completed",
        error: ErrorInfo | None = None,
        node_id: str | None = None,
        generation: Generation = None,
    ) -> list[Event]:
        self.emit(LoopExited, "completed" if outcome == "completed" else "error", error, 0)
        self.emit(FlowFinished, "flow-1", outcome, error, node_id, generation)
        return self.events


def dag() -> Run:
    """a and b feed c: c's span links to a's and b's evaluation spans."""
    run = Run(info("a"), info("b"), info("c", port(0, "a"), port(1, "b")))
    for n in ("a", "b"):
        run.schedule(n)
        run.evaluate(n, 0, output=1 if n == "a" else 2)
    run.schedule("c")
    run.emit(NodeStarted, "c", (0,), 0)
    run.emit(InputsGathered, "c", (0,), (read(0, "a", (0,), 1), read(1, "b", (0,), 2)), ())
    run.emit(DataEmitted, "c", (0,), 0, (3,), 1, False)  # one reader had not read it yet
    run.emit(NodeFinished, "c", (0,), 0, "completed")
    run.finish()
    return run


def cycle() -> Run:
    """x and y feed each other; x's first run defaults its input (the cycle break)."""
    run = Run(info("x", port(0, "y", default=0, has_default=True)), info("y", port(0, "x")))
    run.emit(ResolutionQueuePut, "x", None, "start", True)
    run.emit(SolutionFound, "x", ("x",), (("x", "y"),), (CycleBreak("x", ("x", "y"), (0,)),))
    run.status("x", "waiting", "queued")
    run.evaluate("x", 0, (read(0, None, None, 0, defaulted=True),), output=1, defaulted=(0,))
    run.status("y", "waiting", "queued")
    run.evaluate("y", 0, (read(0, "x", (0,), 1),), output=2)
    run.status("x", "waiting", "queued")
    run.evaluate("x", 1, (read(0, "y", (0,), 2),), output=3)
    run.finish()
    return run


def stream_cancel() -> Run:
    """src streams two items to sink, which cancels the stream after the second."""
    run = Run(info("src", kind="stream"), info("sink", port(0, "src", min_run_level=1)))
    run.schedule("sink")
    run.emit(NodeStarted, "sink", (0,), 0)
    run.emit(InputsGathered, "sink", (0,), (read(0, "src", None, None, stream=True),), ())
    run.emit(StreamStalled, "sink", 0, "src", None, True)  # stalled; src queued for it
    run.emit(SolutionFound, "src", ("src",), (), ())
    run.status("src", "waiting", "queued")
    run.emit(NodeStarted, "src", (0,), 0)
    run.emit(InputsGathered, "src", (0,), (), ())
    for j in (0, 1):
        run.emit(DataEmitted, "src", (0, j), 1, (f"item{j}",), 0, True)  # then src parks
        if j == 0:
            run.status("sink", "stalled", "queued")
            run.emit(StreamResumed, "sink", 0, "src")
        run.emit(StreamItemConsumed, "sink", 0, "src", 0, (0, j), f"item{j}", 0)
        run.status("src", "waiting", "executing")
    run.emit(StreamCancelRequested, "sink", 0, "src", (0,), False)
    run.emit(StreamCancelled, "src", (0,), ("sink",), False)
    run.emit(NodeFinished, "src", (0,), 0, "cancelled")
    run.emit(StreamEnded, "sink", 0, "src", (0,), True)
    run.emit(DataEmitted, "sink", (0,), 0, (["item0", "item1"],), 0, False)
    run.emit(NodeFinished, "sink", (0,), 0, "completed")
    run.finish()
    return run


BOOM = ErrorInfo(
    "ValueError",
    "boom at 3",
    'Traceback (most recent call last):\n  File "x.py", line 3\nValueError: boom at 3\n',
)


def error() -> Run:
    """ok runs, then boom raises; the run ends in error naming boom."""
    run = Run(info("ok"), info("boom", port(0, "ok")))
    run.schedule("ok")
    run.evaluate("ok", 0, output=3)
    run.schedule("boom")
    run.emit(NodeStarted, "boom", (0,), 0)
    run.emit(InputsGathered, "boom", (0,), (read(0, "ok", (0,), 3),), ())
    run.emit(NodeErrored, "boom", (0,), BOOM, "call")
    run.status("boom", "executing", "error")
    run.emit(NodeFinished, "boom", (0,), 0, "error")
    run.finish("error", BOOM, "boom", (0,))
    return run


def many_items(n: int) -> Run:
    """A stream of ``n`` items (to exceed span event limits), none of which parks its
    producer (so that the items are the span's only events)."""
    run = Run(info("gen", kind="stream"))
    run.schedule("gen")
    run.emit(NodeStarted, "gen", (0,), 0)
    run.emit(InputsGathered, "gen", (0,), (), ())
    for j in range(n):
        run.emit(DataEmitted, "gen", (0, j), 1, (j,), 0, False)
    run.emit(DataEmitted, "gen", (0,), 0, (None,), 0, False)
    run.emit(NodeFinished, "gen", (0,), 0, "completed")
    run.finish()
    return run


def offloaded() -> Run:
    """w offloads two calls: the first returns (worker pid 77, queued 2 µs), the second
    raises on the worker; w then fails with the remote error."""
    run = Run(info("w"))
    run.schedule("w")
    run.emit(NodeStarted, "w", (0,), 0)
    run.emit(InputsGathered, "w", (0,), (), ())
    submitted = run.emit(
        OffloadSubmitted,
        0,
        "w",
        (0,),
        1,
        "default",
        "ProcessPoolExecutor, 2 workers",
        "score",
        False,
        40,
    )
    run.emit(OffloadStarted, 0, "w", "pid 77", "host-a", 77, 2_000, submitted.t_ns + 2_000)
    run.emit(OffloadFinished, 0, "w", "returned", 1_500, 12, None)
    run.emit(
        OffloadSubmitted,
        1,
        "w",
        (0,),
        1,
        "default",
        "ProcessPoolExecutor, 2 workers",
        "score",
        False,
        40,
    )
    run.emit(OffloadStarted, 1, "w", "pid 78", "host-a", 78, 500, run.events[-1].t_ns + 500)
    run.emit(OffloadFinished, 1, "w", "raised", 700, None, BOOM)
    run.emit(NodeErrored, "w", (0,), BOOM, "call")
    run.status("w", "executing", "error")
    run.emit(NodeFinished, "w", (0,), 0, "error")
    run.finish("error", BOOM, "w", (0,))
    return run
