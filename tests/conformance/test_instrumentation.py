"""Conformance: Flowno-style flow instruments (compatibility §8; issue 3 item 5).

``FlowInstrument`` subclasses override Flowno's hook names; ``with inst:`` activates one
for the code inside. flowtrace builds these hooks on its event stream and fires every
hook, including the ones Flowno declares but never calls (stream items and stream end).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from flowtrace import FlowHDL, Stream, node
from flowtrace.core.flow.instrumentation import (
    NO_OP_INSTRUMENT,
    FlowInstrument,
    get_current_flow_instrument,
)

pytestmark = pytest.mark.timeout(10)


class Recorder(FlowInstrument):
    """Records the hooks this suite pins."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.registered: list[Any] = []
        self.emitted: list[tuple[Any, Any, int]] = []
        self.lifecycles: list[tuple[Any, int]] = []
        self.stream_items: list[Any] = []
        self.stream_ends = 0
        self.stream_starts = 0

    def on_flow_start(self, flow: Any) -> None:
        self.calls.append("flow_start")

    def on_flow_end(self, flow: Any) -> None:
        self.calls.append("flow_end")

    def on_node_registered(self, flow: Any, node: Any) -> None:
        self.registered.append(node)

    def on_node_emitted_data(self, flow: Any, node: Any, data: Any, run_level: int) -> None:
        self.emitted.append((node, data, run_level))

    @contextmanager
    def node_lifecycle(self, flow: Any, node: Any, run_level: int) -> Iterator[None]:
        self.lifecycles.append((node, run_level))
        yield

    def on_stream_start(self, stream: Any) -> None:
        self.stream_starts += 1

    def on_stream_next(self, stream: Any, data: Any) -> None:
        self.stream_items.append(data)

    def on_stream_end(self, stream: Any) -> None:
        self.stream_ends += 1


@node
async def Ident(x: Any) -> Any:
    return x


@node
async def Double(x: int) -> int:
    return x * 2


@node
async def AddNode(x: int, y: int) -> int:
    return x + y


def test_flow_start_and_end_are_seen() -> None:
    """An instrument active around ``run_until_complete`` sees flow start then end."""
    rec = Recorder()
    with FlowHDL() as f:
        f.x = Ident(1)
    with rec:
        f.run_until_complete()
    assert rec.calls == ["flow_start", "flow_end"]


def test_registration_is_seen_when_the_instrument_wraps_the_block() -> None:
    """Wrapping the ``FlowHDL`` block shows every registration: both named nodes and the
    hidden constant."""
    rec = Recorder()
    with rec:
        with FlowHDL() as f:
            f.src = Ident(7)
            f.dbl = Double(f.src)
        f.run_until_complete()
    named = [n for n in rec.registered if n is f.src or n is f.dbl]
    assert len(named) == 2
    others = [n for n in rec.registered if n is not f.src and n is not f.dbl]
    assert len(others) == 1
    assert "Constant" in repr(others[0])


def test_emitted_data_contains_each_result() -> None:
    """A constant 7 and its doubling emit ``(7,)`` and ``(14,)`` at run level 0."""
    rec = Recorder()
    with FlowHDL() as f:
        f.src = Ident(7)
        f.dbl = Double(f.src)
    with rec:
        f.run_until_complete()
    values = [data for _, data, _ in rec.emitted]
    assert (7,) in values
    assert (14,) in values
    assert all(rl == 0 for _, _, rl in rec.emitted)


def test_single_node_emits_exactly_one_result() -> None:
    """``AddNode(5, 3)`` emits exactly one ``(8,)``."""
    rec = Recorder()
    with FlowHDL() as f:
        f.add = AddNode(5, 3)
    with rec:
        f.run_until_complete()
    assert [data for n, data, _ in rec.emitted if n is f.add] == [(8,)]


def test_lifecycles_of_mono_nodes_are_at_run_level_0() -> None:
    """Every ``node_lifecycle`` of a mono-only flow is at run level 0, one per run."""
    rec = Recorder()
    with FlowHDL() as f:
        f.src = Ident(7)
        f.dbl = Double(f.src)
    with rec:
        f.run_until_complete()
    assert rec.lifecycles
    assert {rl for _, rl in rec.lifecycles} == {0}
    assert [rl for n, rl in rec.lifecycles if n is f.dbl] == [0]


def test_streaming_hooks_fire_for_each_item() -> None:
    """flowtrace fires the stream hooks Flowno left silent: ``on_stream_next`` once per
    item read by a consumer and ``on_stream_end`` when it reaches the end; streamed
    chunks are emitted at run level 1."""

    @node
    async def Letters() -> AsyncIterator[str]:
        for ch in "xyz":
            yield ch

    @node(stream_in=["xs"])
    async def Join(xs: Stream[str]) -> str:
        return "".join([x async for x in xs])

    rec = Recorder()
    with FlowHDL() as f:
        f.letters = Letters()
        f.join = Join(f.letters)
    with rec:
        f.run_until_complete()
    assert f.join.get_data() == ("xyz",)
    assert rec.stream_starts == 1
    assert [d[0] if isinstance(d, tuple) else d for d in rec.stream_items] == ["x", "y", "z"]
    assert rec.stream_ends == 1
    chunk_data = [data for n, data, rl in rec.emitted if n is f.letters and rl == 1]
    assert chunk_data == [("x",), ("y",), ("z",)]
    assert [data for n, data, rl in rec.emitted if n is f.letters and rl == 0] == [("xyz",)]


def test_current_flow_instrument_defaults_to_no_op() -> None:
    """Outside any ``with`` the current flow instrument is the no-op default."""
    assert get_current_flow_instrument() is NO_OP_INSTRUMENT


def test_current_flow_instrument_inside_and_nested() -> None:
    """Inside ``with inst:`` the instrument is current; nesting a second one makes it
    current until it exits, which restores the outer one; leaving both restores the
    no-op default."""
    outer, inner = Recorder(), Recorder()
    with outer:
        assert get_current_flow_instrument() is outer
        with inner:
            assert get_current_flow_instrument() is inner
        assert get_current_flow_instrument() is outer
    assert get_current_flow_instrument() is NO_OP_INSTRUMENT


def test_flow_without_instruments_works() -> None:
    """No instrument at all: ``Double(Double(21))`` → ``(84,)``."""
    with FlowHDL() as f:
        f.out = Double(Double(21))
    f.run_until_complete()
    assert f.out.get_data() == (84,)


def test_base_instrument_hooks_are_callable_no_ops() -> None:
    """The base class implements every Flowno hook name as a harmless no-op, so a
    subclass may override any subset."""
    base = FlowInstrument()
    for name in (
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
        "node_lifecycle",
        "on_defaulted_inputs_set",
    ):
        assert callable(getattr(base, name)), name


ALL_HOOKS = (
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
    "node_lifecycle",
    "on_defaulted_inputs_set",
)


class HookCounter(FlowInstrument):
    """Counts every Flowno hook by name."""

    def __init__(self) -> None:
        super().__init__()
        self.fired: dict[str, int] = {}

    def _hit(self, name: str) -> None:
        self.fired[name] = self.fired.get(name, 0) + 1

    def on_flow_start(self, flow: Any) -> None:
        self._hit("on_flow_start")

    def on_flow_end(self, flow: Any) -> None:
        self._hit("on_flow_end")

    def on_node_registered(self, flow: Any, node: Any) -> None:
        self._hit("on_node_registered")

    def on_node_visited(self, flow: Any, node: Any) -> None:
        self._hit("on_node_visited")

    def on_resolution_queue_put(self, flow: Any, node: Any) -> None:
        self._hit("on_resolution_queue_put")

    def on_resolution_queue_get(self, flow: Any, node: Any) -> None:
        self._hit("on_resolution_queue_get")

    def on_solving_nodes(self, flow: Any, head: Any, solution: Any) -> None:
        self._hit("on_solving_nodes")

    def on_node_resumed(self, flow: Any, node: Any, run_level: int) -> None:
        self._hit("on_node_resumed")

    def on_node_stalled(self, flow: Any, node: Any, stalled_input: Any) -> None:
        self._hit("on_node_stalled")

    def on_node_emitted_data(self, flow: Any, node: Any, data: Any, run_level: int) -> None:
        self._hit("on_node_emitted_data")

    def on_node_generation_limit(self, flow: Any, node: Any, limit: Any) -> None:
        self._hit("on_node_generation_limit")

    def on_node_error(self, flow: Any, node: Any, error: BaseException) -> None:
        self._hit("on_node_error")

    def on_node_pause(self, flow: Any, node: Any, run_level: int) -> None:
        self._hit("on_node_pause")

    def on_node_status_change(self, flow: Any, node: Any, old: Any, new: Any) -> None:
        self._hit("on_node_status_change")

    def on_stream_start(self, stream: Any) -> None:
        self._hit("on_stream_start")

    def on_stream_next(self, stream: Any, data: Any) -> None:
        self._hit("on_stream_next")

    def on_stream_end(self, stream: Any) -> None:
        self._hit("on_stream_end")

    def on_stream_error(self, stream: Any, error: BaseException) -> None:
        self._hit("on_stream_error")

    @contextmanager
    def on_barrier_node_write(
        self, flow: Any, node: Any, data: Any, run_level: int
    ) -> Iterator[None]:
        self._hit("on_barrier_node_write")
        yield

    @contextmanager
    def on_barrier_node_read(self, node: Any, run_level: int) -> Iterator[None]:
        self._hit("on_barrier_node_read")
        yield

    @contextmanager
    def node_lifecycle(self, flow: Any, node: Any, run_level: int) -> Iterator[None]:
        self._hit("node_lifecycle")
        yield

    def on_defaulted_inputs_set(self, flow: Any, node: Any, defaulted_inputs: Any) -> None:
        self._hit("on_defaulted_inputs_set")


def test_every_flowno_hook_fires() -> None:
    """flowtrace fires all 22 Flowno hooks — including the ones Flowno never calls —
    over three runs: a stream with a stalled reader and a cycle stopped by a limit, and
    a streaming producer failing while a reader waits on it."""
    from flowtrace import TerminateLimitReached

    @node
    async def Letters(prev: Any = None) -> AsyncIterator[str]:
        for ch in "ab":
            yield ch

    @node(stream_in=["xs"])
    async def Join(xs: Stream[str]) -> str:
        return "".join([x async for x in xs])

    @node
    async def Failing() -> AsyncIterator[str]:
        yield "a"
        raise ValueError("producer broke")

    counter = HookCounter()
    with counter:
        with FlowHDL() as f:
            f.letters = Letters(f.join)
            f.join = Join(f.letters)
        with pytest.raises(TerminateLimitReached):
            f.run_until_complete(stop_at_node_generation={f.join: (1,)})
        with FlowHDL() as g:
            g.failing = Failing()
            g.join = Join(g.failing)
        with pytest.raises(ValueError, match="producer broke"):
            g.run_until_complete()
    missing = [name for name in ALL_HOOKS if name not in counter.fired]
    assert missing == []


class OrderLog(FlowInstrument):
    """Writes one line per hook: its name, the node and what identifies the call."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []

    def _w(self, hook: str, node: Any, *more: Any) -> None:
        self.log.append(" ".join([hook, node.node_id, *map(str, more)]))

    def on_flow_start(self, flow: Any) -> None:
        self.log.append("flow_start")

    def on_flow_end(self, flow: Any) -> None:
        self.log.append("flow_end")

    def on_node_registered(self, flow: Any, node: Any) -> None:
        self._w("registered", node)

    def on_node_visited(self, flow: Any, node: Any) -> None:
        self._w("visited", node)

    def on_resolution_queue_put(self, flow: Any, node: Any) -> None:
        self._w("put", node)

    def on_resolution_queue_get(self, flow: Any, node: Any) -> None:
        self._w("get", node)

    def on_solving_nodes(self, flow: Any, head: Any, solution: list[Any]) -> None:
        self._w("solving", head, *[n.node_id for n in solution])

    def on_node_resumed(self, flow: Any, node: Any, run_level: int) -> None:
        self._w("resumed", node)

    def on_node_pause(self, flow: Any, node: Any, run_level: int) -> None:
        self._w("pause", node, run_level)

    def on_node_stalled(self, flow: Any, node: Any, stalled_input: Any) -> None:
        self._w("stalled", node, stalled_input.port_index)

    def on_node_status_change(self, flow: Any, node: Any, old: Any, new: Any) -> None:
        self._w("status", node, old.status, new.status)

    def on_node_emitted_data(self, flow: Any, node: Any, data: Any, run_level: int) -> None:
        self._w("emitted", node, data, run_level)

    def on_defaulted_inputs_set(self, flow: Any, node: Any, defaulted_inputs: Any) -> None:
        self._w("defaulted", node, defaulted_inputs)

    def on_stream_start(self, stream: Any) -> None:
        self.log.append("stream_start")

    def on_stream_next(self, stream: Any, data: Any) -> None:
        self.log.append(f"stream_next {data}")

    def on_stream_end(self, stream: Any) -> None:
        self.log.append("stream_end")

    @contextmanager
    def on_barrier_node_write(
        self, flow: Any, node: Any, data: Any, run_level: int
    ) -> Iterator[None]:
        self._w("barrier_write", node, run_level)
        yield

    @contextmanager
    def on_barrier_node_read(self, node: Any, run_level: int) -> Iterator[None]:
        self._w("barrier_read", node, run_level)
        yield

    @contextmanager
    def node_lifecycle(self, flow: Any, node: Any, run_level: int) -> Iterator[None]:
        self._w("lifecycle", node, run_level)
        yield
        self._w("lifecycle_end", node, run_level)


def test_hooks_of_a_mono_evaluation_fire_in_flownos_order() -> None:
    """One evaluation, from the queue's get to the park: the order of the hooks is the
    one schema 1.x events gave, though 2.0 folds the get into the solution, the resume's
    visit into the status change, the start and the park into NodeStarted and
    NodeFinished, and the write barrier into DataEmitted (the park's hooks still fire
    after the producer's notification of its consumer)."""
    log = OrderLog()
    with FlowHDL() as f:
        f.src = Ident(7)
        f.dbl = Double(f.src)
    with log:
        f.run_until_complete()
    start = log.log.index("get src")
    assert log.log[start : log.log.index("pause src 0") + 1] == [
        "get src",
        "solving src src",
        "status src waiting queued",
        "resumed src",
        "visited src",
        "status src queued executing",
        "lifecycle src 0",
        "barrier_read Constant#0 0",
        "defaulted src []",
        "barrier_write src 0",
        "emitted src (7,) 0",
        "lifecycle_end src 0",
        "put dbl",
        "status src executing waiting",
        "pause src 0",
    ]
    assert log.log[1:4] == ["registered src", "registered Constant#0", "registered dbl"]


def test_hooks_of_a_stream_with_a_stalling_reader_fire_in_flownos_order() -> None:
    """A stream read item by item by a consumer that stalls after each: the whole hook
    sequence of the run, as schema 1.x events gave it — implied status changes (the
    stall, the parks after each item) with their pause and stalled hooks, the stall's
    put of the producer, the stream barrier's countdown as a barrier read."""
    log = OrderLog()
    with FlowHDL() as f:
        f.letters = Letters2()
        f.join = Join2(f.letters)
    with log:
        f.run_until_complete()
    assert log.log == [
        "flow_start",
        "registered letters",
        "registered join",
        "put letters",
        "get letters",
        "solving letters letters",
        "status letters waiting queued",
        "resumed letters",
        "visited letters",
        "status letters queued executing",
        "lifecycle letters 0",
        "defaulted letters []",
        "lifecycle letters 1",
        "emitted letters ('x',) 1",
        "lifecycle_end letters 1",
        "put join",
        "status letters executing waiting",
        "pause letters 1",
        "get join",
        "solving join join",
        "status join waiting queued",
        "resumed join",
        "visited join",
        "status join queued executing",
        "lifecycle join 0",
        "defaulted join []",
        "barrier_read letters 1",
        "stream_start",
        "stream_next x",
        "status join executing stalled",
        "stalled join 0",
        "put letters",
        "get letters",
        "solving letters letters",
        "status letters waiting queued",
        "resumed letters",
        "visited letters",
        "status letters queued executing",
        "lifecycle letters 1",
        "emitted letters ('y',) 1",
        "lifecycle_end letters 1",
        "put join",
        "status letters executing waiting",
        "pause letters 1",
        "get join",
        "solving join join",
        "status join stalled queued",
        "resumed join",
        "visited join",
        "status join queued executing",
        "barrier_read letters 1",
        "stream_next y",
        "status join executing stalled",
        "stalled join 0",
        "put letters",
        "get letters",
        "solving letters letters",
        "status letters waiting queued",
        "resumed letters",
        "visited letters",
        "status letters queued executing",
        "barrier_write letters 0",
        "emitted letters ('xy',) 0",
        "lifecycle_end letters 0",
        "put join",
        "status letters executing waiting",
        "pause letters 0",
        "get join",
        "solving join join",
        "status join stalled queued",
        "resumed join",
        "visited join",
        "status join queued executing",
        "stream_end",
        "barrier_write join 0",
        "emitted join ('xy',) 0",
        "lifecycle_end join 0",
        "status join executing waiting",
        "pause join 0",
        "flow_end",
    ]


@node
async def Letters2() -> AsyncIterator[str]:
    for ch in "xy":
        yield ch


@node(stream_in=["xs"])
async def Join2(xs: Stream[str]) -> str:
    return "".join([x async for x in xs])
