"""Hand-built schema 2.0 event sequences that follow the flow-run protocol (docs/DESIGN.md
§12.1).

The replay model and the TUI are specified against the event vocabulary, not against
the engine, so their tests build runs event by event: a small builder plus canned
scenarios (a plain chain, a cycle broken by a default, a stream that stalls and is
cancelled, an error) and a generator of arbitrarily long runs for benchmarks.
"""

from __future__ import annotations

from typing import Any

from _events import EventLog, input_read, node_info, port_info

from flowtrace.codec import JsonValue
from flowtrace.events import (
    BarrierCountdown,
    CycleBreak,
    DataEmitted,
    ErrorInfo,
    Event,
    FlowFinished,
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
    NodeStatusChanged,
    ResolutionQueuePut,
    SolutionFound,
    StreamCancelled,
    StreamCancelRequested,
    StreamEnded,
    StreamItemConsumed,
    StreamResumed,
    StreamStalled,
    TaskSpawned,
)
from flowtrace.implied import status_change

__all__ = ["RunBuilder", "port", "node", "chain", "cycle", "stream_cancel_error", "long_run"]


port = port_info
node = node_info
read = input_read


class RunBuilder(EventLog):
    """Emits protocol-shaped schema 2.0 events with gapless seqs and a fake monotonic
    clock (event ``seq`` at ``1000 * seq`` ns), tracking each node's status (explicit
    and implied, :mod:`flowtrace.implied`) and consumers."""

    def __init__(self, run_id: str = "run-1") -> None:
        super().__init__(run_id)
        self.status: dict[str, str] = {}
        self.consumers: dict[str, list[str]] = {}

    def emit(self, cls: type[Event], *fields: Any) -> Event:
        event = super().emit(cls, *fields)
        change = status_change(event)
        if change is not None:
            self.status[change.node_id] = change.new
        return event

    def start(self, *nodes: NodeInfo) -> None:
        graph = GraphInfo(tuple(nodes))
        self.emit(FlowStarted, "flow-1", 0, graph)  # the graph registers every node
        for n in nodes:
            self.status[n.node_id] = "waiting"
            for p in n.inputs:
                if p.producer is not None:
                    self.consumers.setdefault(p.producer, []).append(n.node_id)
        self.emit(LoopStarted, 0, 0, False, False)
        for i, n in enumerate(nodes):
            self.emit(TaskSpawned, i + 1, f"node {n.node_id}", 0, n.node_id)

    def set_status(
        self, node_id: str, new: str, run_level: int | None = None, port_index: int | None = None
    ) -> None:
        """An explicit status change (only for changes no other event implies)."""
        old = self.status.get(node_id, "waiting")
        if old != new:
            self.emit(NodeStatusChanged, node_id, old, new, run_level, port_index)

    def solve(
        self,
        head: str,
        leaves: tuple[str, ...],
        *,
        by: str | None = None,
        reason: str = "start",
        breaks: tuple[CycleBreak, ...] = (),
        sccs: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        self.emit(ResolutionQueuePut, head, by, reason, True)
        self.take(head, leaves, breaks=breaks, sccs=sccs)

    def take(
        self,
        head: str,
        leaves: tuple[str, ...],
        *,
        breaks: tuple[CycleBreak, ...] = (),
        sccs: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        """The scheduler takes ``head`` off the queue (the SolutionFound is the get)
        and resumes each leaf (its change to ``queued``)."""
        self.emit(SolutionFound, head, leaves, sccs, breaks)
        for leaf in leaves:
            self.set_status(leaf, "queued")

    def evaluate(
        self,
        node_id: str,
        k: int,
        inputs: tuple[InputRead, ...],
        output: JsonValue,
        *,
        items: tuple[JsonValue, ...] = (),
        notify: bool = True,
    ) -> None:
        """One whole evaluation of generation ``(k,)``; ``items`` makes it a stream."""
        gen = (k,)
        self.emit(NodeStarted, node_id, gen, 0)  # implies executing
        self.emit(
            InputsGathered, node_id, gen, inputs, tuple(r.port for r in inputs if r.defaulted)
        )
        for r in inputs:
            if r.producer is not None and not r.defaulted and not r.stream:
                self.emit(BarrierCountdown, r.producer, node_id, r.producer_generation, 0, 0)
        for j, item in enumerate(items):
            self.emit(DataEmitted, node_id, (k, j), 1, (item,), 0, False)
        self.emit(DataEmitted, node_id, gen, 0, (output,), 0, False)
        self.emit(NodeFinished, node_id, gen, 0, "completed")  # implies waiting (rl 0)
        if notify:
            for c in self.consumers.get(node_id, []):
                self.emit(ResolutionQueuePut, c, node_id, "consumer", True)

    def fail(self, node_id: str, k: int, inputs: tuple[InputRead, ...], error: ErrorInfo) -> None:
        gen = (k,)
        self.emit(NodeStarted, node_id, gen, 0)
        self.emit(InputsGathered, node_id, gen, inputs, ())
        self.emit(NodeErrored, node_id, gen, error, "call")
        self.set_status(node_id, "error")
        self.emit(NodeFinished, node_id, gen, 0, "error")

    def finish(
        self,
        outcome: str = "completed",
        error: ErrorInfo | None = None,
        node_id: str | None = None,
        generation: Generation = None,
    ) -> list[Event]:
        self.emit(LoopExited, "completed" if error is None else "error", error, 0)
        self.emit(FlowFinished, "flow-1", outcome, error, node_id, generation)
        return self.events


def chain() -> list[Event]:
    """``a`` (a constant 1) feeds ``b`` (adds one): two evaluations, one value each."""
    b = RunBuilder("run-chain")
    b.start(node("a"), node("b", port(0, "a")))
    b.solve("b", ("a",))
    b.evaluate("a", 0, (), 1)
    b.take("b", ("b",))
    b.evaluate("b", 0, (read(0, "a", (0,), 1),), 2)
    return b.finish()


CYCLE_BREAK = CycleBreak("acc", ("acc", "inc"), (0,))


def cycle(generations: int = 3) -> list[Event]:
    """``acc`` ⇄ ``inc``: the cycle is broken by defaulting ``acc``'s port 0 (to 0);
    each generation ``acc`` reads ``inc``'s previous output and ``inc`` adds one."""
    b = RunBuilder("run-cycle")
    b.start(node("acc", port(0, "inc", default=0, has_default=True)), node("inc", port(0, "acc")))
    b.solve("inc", ("acc",), breaks=(CYCLE_BREAK,), sccs=(("acc", "inc"),))
    for k in range(generations):
        value = k
        if k == 0:
            acc_in = read(0, "inc", None, 0, defaulted=True)
        else:
            acc_in = read(0, "inc", (k - 1,), value)
            b.take("acc", ("acc",))
        b.evaluate("acc", k, (acc_in,), value, notify=True)
        b.take("inc", ("inc",))
        b.evaluate("inc", k, (read(0, "acc", (k,), value),), value + 1)
    return b.finish("limit", None, "inc", (generations - 1,))


BOOM = ErrorInfo(
    "ValueError",
    "boom: 3 is odd",
    'Traceback (most recent call last):\n  File "demo.py", line 9, in check\n'
    "ValueError: boom: 3 is odd\n",
)


def stream_cancel_error() -> list[Event]:
    """``words`` streams items to ``take`` which stalls once, reads two items and
    cancels the stream; ``check`` then raises on ``take``'s result."""
    b = RunBuilder("run-stream")
    b.start(
        node("words", kind="stream"),
        node("take", port(0, "words", min_run_level=1)),
        node("check", port(0, "take")),
    )
    b.solve("check", ("take",))
    b.emit(NodeStarted, "take", (0,), 0)
    b.emit(InputsGathered, "take", (0,), (read(0, "words", None, None, stream=True),), ())
    # take is now stalled on port 0, and words was put on the queue for it
    b.emit(StreamStalled, "take", 0, "words", None, True)
    b.take("words", ("words",))
    b.emit(NodeStarted, "words", (0,), 0)
    b.emit(InputsGathered, "words", (0,), (), ())
    b.emit(DataEmitted, "words", (0, 0), 1, ("hello",), 0, True)  # words parks (rl 1)
    b.emit(ResolutionQueuePut, "take", "words", "consumer", True)
    b.take("take", ("take",))
    b.emit(StreamResumed, "take", 0, "words")  # take executes again
    b.emit(StreamItemConsumed, "take", 0, "words", 0, (0, 0), "hello", 0)
    b.set_status("words", "executing")
    b.emit(DataEmitted, "words", (0, 1), 1, ("world",), 0, False)
    b.emit(StreamItemConsumed, "take", 0, "words", 0, (0, 1), "world", 0)
    b.emit(StreamCancelRequested, "take", 0, "words", (0,), False)
    b.emit(StreamCancelled, "words", (0,), ("take",), False)
    b.emit(StreamEnded, "take", 0, "words", (0,), True)
    b.emit(DataEmitted, "words", (0,), 0, ("hello world",), 0, False)
    b.emit(NodeFinished, "words", (0,), 0, "cancelled")
    b.set_status("words", "waiting", 0)
    b.emit(DataEmitted, "take", (0,), 0, (3,), 0, False)
    b.emit(NodeFinished, "take", (0,), 0, "completed")
    b.emit(ResolutionQueuePut, "check", "take", "consumer", True)
    b.take("check", ("check",))
    b.fail("check", 0, (read(0, "take", (0,), 3),), BOOM)
    return b.finish("error", BOOM, "check", (0,))


def long_run(n_events: int, run_id: str = "run-long") -> list[Event]:
    """A cycle run long enough to hold at least ``n_events`` events (for benchmarks)."""
    b = RunBuilder(run_id)
    b.start(
        node("acc", port(0, "inc", default=0, has_default=True)),
        node("inc", port(0, "acc")),
        node("log", port(0, "inc")),
    )
    b.solve("inc", ("acc",), breaks=(CYCLE_BREAK,), sccs=(("acc", "inc"),))
    k = 0
    while len(b.events) < n_events:
        acc_in = read(0, "inc", None, 0, defaulted=True) if k == 0 else read(0, "inc", (k - 1,), k)
        b.evaluate("acc", k, (acc_in,), k)
        b.set_status("inc", "queued")
        b.evaluate("inc", k, (read(0, "acc", (k,), k),), k + 1)
        b.set_status("log", "queued")
        b.evaluate("log", k, (read(0, "inc", (k,), k + 1),), None)
        b.set_status("acc", "queued")
        k += 1
    return b.finish()
