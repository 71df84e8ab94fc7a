"""Event emission: every flow event kind is emitted with meaningful fields, the
protocol's order holds (schema 2.0: a fact another event implies is not emitted
again), and the Flowno-style adapter fires every hook."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from flowtrace import DeadlockError, FlowHDL, Stream, TerminateLimitReached, node
from flowtrace import Event as SyncEvent
from flowtrace import events as ev
from flowtrace.adapters import FlowInstrument
from flowtrace.implied import queue_get, queue_put
from flowtrace.instrument import InstrumentBase


class Rec(InstrumentBase):
    def __init__(self) -> None:
        self.events: list[ev.Event] = []

    def on_event(self, event: ev.Event) -> None:
        self.events.append(event)

    def of(self, kind: type[ev.Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@node
async def Inc(x: int = 0) -> int:
    return x + 1


@node
async def Letters() -> AsyncIterator[str]:
    for ch in "ab":
        yield ch


@node(stream_in=["xs"])
async def Join(xs: Stream[str]) -> str:
    return "".join([x async for x in xs])


def run_cycle_and_stream() -> Rec:
    """A self-loop limited to (2,) beside a stream, then a stream run to completion."""
    rec = Rec()
    with FlowHDL() as f:
        f.inc = Inc(f.inc)
        f.letters = Letters()
        f.join = Join(f.letters)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete({f.inc: (2,)}, instruments=[rec])
    rec2 = Rec()
    with FlowHDL() as g:
        g.letters = Letters()
        g.join = Join(g.letters)
    g.run_until_complete(instruments=[rec2])
    rec.events.extend(rec2.events)
    return rec


def test_run_framing_and_graph() -> None:
    rec = run_cycle_and_stream()
    first = rec.events[0]
    last = next(e for e in rec.events if isinstance(e, ev.FlowFinished))
    assert isinstance(first, ev.FlowStarted)
    assert [n.node_id for n in first.graph.nodes] == ["inc", "letters", "join"]
    assert first.graph.edges() == [("inc", 0, "inc", 0), ("letters", 0, "join", 0)]
    kinds = {n.node_id: n.kind for n in first.graph.nodes}
    assert kinds == {"inc": "mono", "letters": "stream", "join": "mono"}
    assert first.graph.nodes[2].inputs[0].min_run_level == 1
    # The graph is the registration: every node the run names is in it.
    named = {e.node_id for e in rec.of(ev.NodeStarted) if e.run_id == first.run_id}
    assert named == {"inc", "letters", "join"}
    assert isinstance(last, ev.FlowFinished)
    assert (last.outcome, last.node_id, last.generation) == ("limit", "inc", (2,))
    assert last.error is not None and last.error.type.endswith("TerminateLimitReached")
    seqs = [e.seq for e in rec.events if e.run_id == first.run_id]
    assert seqs == list(range(len(seqs)))


def test_scheduling_events() -> None:
    rec = run_cycle_and_stream()
    puts = rec.of(ev.ResolutionQueuePut)
    assert (puts[0].node_id, puts[0].by, puts[0].reason) == ("inc", None, "start")
    assert any(p.reason == "consumer" and p.by == "inc" for p in puts)
    # The queue's get is the solution: one per get, heads in the order of the puts.
    gets = [g for g in map(queue_get, rec.events) if g is not None]
    assert gets[:2] == ["inc", "letters"]
    sol = rec.of(ev.SolutionFound)[0]
    assert sol.head == "inc" and sol.leaves == ("inc",)
    assert sol.sccs == (("inc",),)
    assert sol.cycle_breaks == (ev.CycleBreak("inc", ("inc",), (0,)),)
    # A visit that resumes a leaf is its change to queued, not a NodeVisited.
    assert "resumed" not in {v.action for v in rec.of(ev.NodeVisited)}
    changes = [(s.node_id, s.old, s.new) for s in rec.of(ev.NodeStatusChanged)]
    assert changes[:3] == [
        ("inc", "waiting", "queued"),
        ("letters", "waiting", "queued"),
        ("inc", "waiting", "queued"),
    ]
    assert all(old != new for _, old, new in changes)
    # What NodeStarted / NodeFinished / StreamStalled / StreamResumed imply is not
    # emitted as well: no stall, no park at run level 0, no change to executing that
    # a start or a stream resume follows.
    assert not [c for c in changes if c[2] == "stalled"]
    assert not [s for s in rec.of(ev.NodeStatusChanged) if s.new == "waiting" and s.run_level == 0]
    for e, after in zip(rec.events, rec.events[1:], strict=False):
        if isinstance(e, ev.NodeStatusChanged) and e.new == "executing":
            assert not isinstance(after, ev.NodeStarted | ev.StreamResumed), (e, after)


def test_evaluation_events_carry_generations_and_lineage() -> None:
    rec = run_cycle_and_stream()
    started = [(e.node_id, e.generation) for e in rec.of(ev.NodeStarted)]
    assert ("inc", (0,)) in started and ("inc", (2,)) in started
    gathered = [e for e in rec.of(ev.InputsGathered) if e.node_id == "inc"]
    assert gathered[0].defaulted_ports == (0,)
    assert gathered[0].inputs[0].defaulted is True
    assert gathered[1].inputs[0].producer == "inc"
    assert gathered[1].inputs[0].producer_generation == (0,)
    assert gathered[1].inputs[0].value == 1
    join_read = next(e for e in rec.of(ev.InputsGathered) if e.node_id == "join")
    assert join_read.inputs[0].stream is True
    data = [(e.node_id, e.generation, e.run_level, e.values) for e in rec.of(ev.DataEmitted)]
    assert ("letters", (0, 0), 1, ("a",)) in data
    assert ("letters", (0,), 0, ("ab",)) in data
    assert ("join", (0,), 0, ("ab",)) in data
    limit = rec.of(ev.GenerationLimitReached)[0]
    assert (limit.node_id, limit.generation, limit.limit) == ("inc", (2,), (2,))
    outcomes = {(e.node_id, e.outcome) for e in rec.of(ev.NodeFinished)}
    assert ("inc", "limit") in outcomes and ("join", "completed") in outcomes


def test_stream_and_barrier_events() -> None:
    rec = run_cycle_and_stream()
    # BarrierCountdown is left for whole results (inc reads its own previous result).
    counts = rec.of(ev.BarrierCountdown)
    assert counts and all(c.run_level == 0 for c in counts)
    assert [(c.node_id, c.reader, c.remaining) for c in counts] == [("inc", "inc", 0)] * 2
    last_run = rec.of(ev.FlowStarted)[-1].run_id
    rec.events = [e for e in rec.events if e.run_id == last_run]
    consumed = [
        (e.consumer, e.producer, e.generation, e.value) for e in rec.of(ev.StreamItemConsumed)
    ]
    assert consumed == [("join", "letters", (0, 0), "a"), ("join", "letters", (0, 1), "b")]
    # A stream read's barrier countdown is on the read (no reader of letters is left).
    assert [e.remaining for e in rec.of(ev.StreamItemConsumed)] == [0, 0]
    stalled = rec.of(ev.StreamStalled)
    assert [(s.consumer, s.producer, s.last_generation) for s in stalled] == [
        ("join", "letters", (0, 0)),
        ("join", "letters", (0, 1)),
    ]
    # Each stall put the producer on the queue (the 1.x "stall" ResolutionQueuePut).
    assert [s.producer_queued for s in stalled] == [True, True]
    assert [tuple(queue_put(s) or ()) for s in stalled] == [("letters", "join", "stall", True)] * 2
    assert not [p for p in rec.of(ev.ResolutionQueuePut) if p.reason == "stall"]
    assert [r.consumer for r in rec.of(ev.StreamResumed)] == ["join", "join"]
    ended = rec.of(ev.StreamEnded)
    assert [(e.consumer, e.generation, e.cancelled) for e in ended] == [("join", (0,), False)]
    # The write barrier is on each write: no reader was behind; each item parks its
    # producer for its reader, the whole results park nobody (NodeFinished does).
    emitted = [
        (e.node_id, e.run_level, e.pending_readers, e.parked) for e in rec.of(ev.DataEmitted)
    ]
    assert emitted == [
        ("letters", 1, 0, True),
        ("letters", 1, 0, True),
        ("letters", 0, 0, False),
        ("join", 0, 0, False),
    ]


def test_error_and_deadlock_events() -> None:
    @node
    async def Fails(x: int) -> int:
        raise ValueError("nope")

    rec = Rec()
    with FlowHDL() as f:
        f.bad = Fails(1)
    with pytest.raises(ValueError):
        f.run_until_complete(instruments=[rec])
    errored = rec.of(ev.NodeErrored)[0]
    assert (errored.node_id, errored.generation, errored.phase) == ("bad", (0,), "call")
    assert errored.error.message == "nope" and "ValueError" in errored.error.traceback
    # The traceback starts in the user's node, not in the engine frame that caught it.
    first_frame = errored.error.traceback.splitlines()[1]
    assert __file__ in first_frame and "in Fails" in first_frame
    last = rec.events[-1]
    assert isinstance(last, ev.FlowFinished)
    assert last.outcome == "error" and last.node_id == "bad"

    never = SyncEvent()

    @node
    async def Waits() -> int:
        await never.wait()
        return 0

    rec = Rec()
    with FlowHDL() as f:
        f.w = Waits()
    with pytest.raises(DeadlockError):
        f.run_until_complete(instruments=[rec])
    dead = rec.of(ev.DeadlockDetected)[0]
    assert dead.waiting[0].node_id == "w"
    last = rec.events[-1]
    assert isinstance(last, ev.FlowFinished) and last.outcome == "deadlock"
    assert ("w", "abandoned") in [(e.node_id, e.outcome) for e in rec.of(ev.NodeFinished)]


def test_cancel_events() -> None:
    @node(stream_in=["xs"])
    async def First(xs: Stream[str]) -> str:
        async for x in xs:
            await xs.cancel()
            return x
        return ""

    rec = Rec()
    with FlowHDL() as f:
        f.letters = Letters()
        f.first = First(f.letters)
    f.run_until_complete(instruments=[rec])
    req = rec.of(ev.StreamCancelRequested)[0]
    assert (req.consumer, req.producer, req.generation, req.propagated) == (
        "first",
        "letters",
        (0,),
        False,
    )
    thrown = rec.of(ev.StreamCancelled)[0]
    assert (thrown.producer, thrown.requested_by, thrown.handled) == ("letters", ("first",), False)


def test_no_event_is_built_without_listeners() -> None:
    class OnlyFinish(InstrumentBase):
        kinds = (ev.FlowFinished,)

        def __init__(self) -> None:
            self.seen: list[ev.Event] = []

        def on_event(self, event: ev.Event) -> None:
            self.seen.append(event)

    rec = OnlyFinish()
    with FlowHDL() as f:
        f.a = Inc(1)
    f.run_until_complete(instruments=[rec])
    assert [type(e) for e in rec.seen] == [ev.FlowFinished]
    assert rec.seen[0].seq == 0


class AllHooks(FlowInstrument):
    def __init__(self) -> None:
        self.called: set[str] = set()

    def __getattribute__(self, name: str) -> Any:
        attr = object.__getattribute__(self, name)
        if name.startswith("on_") and name != "on_event":
            called = object.__getattribute__(self, "called")

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                called.add(name)
                return attr(*args, **kwargs)

            return wrapper
        return attr

    @contextmanager
    def node_lifecycle(self, flow: Any, node: Any, run_level: int) -> Iterator[None]:
        self.called.add(f"node_lifecycle_{run_level}")
        yield


def test_flow_instrument_fires_every_hook() -> None:
    @node
    async def Breaks(xs: Any) -> AsyncIterator[int]:
        yield 1
        raise RuntimeError("late")

    hooks = AllHooks()
    with hooks:
        with FlowHDL() as f:
            f.inc = Inc(f.inc)
        with pytest.raises(TerminateLimitReached):
            f.run_until_complete({f.inc: (1,)})
        with FlowHDL() as h:
            h.letters = Letters()
            h.join = Join(h.letters)
        h.run_until_complete()
        with FlowHDL() as g:
            g.src = Breaks(1)
            g.join = Join(g.src)
        with pytest.raises(RuntimeError):
            g.run_until_complete()
    expected = {
        "on_flow_start",
        "on_flow_end",
        "on_node_registered",
        "on_node_visited",
        "on_resolution_queue_put",
        "on_resolution_queue_get",
        "on_solving_nodes",
        "on_node_resumed",
        "on_node_stalled",
        "on_node_emitted_data",
        "on_node_generation_limit",
        "on_node_error",
        "on_node_pause",
        "on_node_status_change",
        "on_stream_start",
        "on_stream_next",
        "on_stream_end",
        "on_stream_error",
        "on_barrier_node_write",
        "on_barrier_node_read",
        "on_defaulted_inputs_set",
        "node_lifecycle_0",
        "node_lifecycle_1",
    }
    assert expected <= hooks.called, expected - hooks.called
