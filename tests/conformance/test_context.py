"""Conformance: ``current_flow`` / ``current_node`` / ``current_context`` and concurrency
envelopes (compatibility §1, §4; DESIGN §10 for concurrent components).

Timing is measured on the event loop's clock inside the nodes (virtual seconds when the
engine offers virtual time, else real time with 20 ms units), so the envelopes are exact
on virtual time and tolerant on real time.
"""

from __future__ import annotations

from typing import Any

import pytest

from flowtrace import (
    FlowHDL,
    FlowHDLView,
    current_context,
    current_flow,
    current_node,
    exit,
    node,
    sleep,
    spawn,
)

pytestmark = pytest.mark.timeout(10)


# --------------------------------------------------------------------------- current_context


def test_current_context_outside_a_flow_raises() -> None:
    """Outside any flow: ``RuntimeError("current_context() called outside of a flow")``."""
    with pytest.raises(RuntimeError, match=r"current_context\(\) called outside of a flow"):
        current_context()


def test_current_context_without_factory_is_a_node_error() -> None:
    """Inside a node without a factory the ``RuntimeError`` ("No context factory
    provided") ends the run and propagates out of it."""

    @node
    async def WantsContext() -> Any:
        return current_context()

    with FlowHDL() as f:
        f.n = WantsContext()
    with pytest.raises(RuntimeError, match="No context factory provided"):
        f.run_until_complete()


def test_context_factory_receives_the_current_node() -> None:
    """``current_context()`` returns ``context_factory(current_node())``; a factory
    returning the node itself yields the node; one returning its original-call record
    exposes ``func_name``."""
    seen: dict[str, Any] = {}

    @node
    async def DummyNode() -> int:
        seen["ctx"] = current_context()
        seen["node"] = current_node()
        return 42

    with FlowHDL() as f:
        f.dummy = DummyNode()
    f.run_until_complete(context_factory=lambda n: n)
    assert seen["ctx"] is f.dummy
    assert seen["node"] is f.dummy

    with FlowHDL() as g:
        g.dummy = DummyNode()
    g.run_until_complete(context_factory=lambda n: n._original_call)
    assert seen["ctx"].func_name == "DummyNode"


def test_context_factory_is_called_per_node_and_per_call() -> None:
    """Each node gets its own context; the factory runs on every call (no caching)."""
    calls: list[str] = []
    got: dict[str, list[Any]] = {"a": [], "b": []}

    @node
    async def Tell(key: str) -> str:
        got[key].append(current_context())
        got[key].append(current_context())
        return key

    with FlowHDL() as f:
        f.a = Tell("a")
        f.b = Tell("b")
    names = {id(f.a): "alpha", id(f.b): "beta"}

    def factory(n: Any) -> str:
        calls.append(names[id(n)])
        return names[id(n)]

    f.run_until_complete(context_factory=factory)
    assert got == {"a": ["alpha", "alpha"], "b": ["beta", "beta"]}
    assert sorted(calls) == ["alpha", "alpha", "beta", "beta"]


def test_current_context_inside_a_template_group() -> None:
    """Nodes built by a template see their own context like any other node."""
    got: list[Any] = []

    @node
    async def Probe(x: int) -> int:
        got.append(current_context())
        return x + 1

    @node.template
    def Twice(v: FlowHDLView, x: Any) -> Any:
        return Probe(Probe(x))

    with FlowHDL() as f:
        f.out = Twice(1)
    f.run_until_complete(context_factory=lambda n: "ctx")
    assert f.out.get_data() == (3,)
    assert got == ["ctx", "ctx"]


def test_current_context_in_a_spawned_task_is_outside_a_node() -> None:
    """A task spawned by a node is not a node: ``current_node()`` is ``None`` there and
    ``current_context()`` raises "called outside of a node"."""
    seen: dict[str, Any] = {}

    async def child() -> None:
        seen["node"] = current_node()
        try:
            current_context()
        except RuntimeError as e:
            seen["error"] = str(e)

    @node
    async def Parent() -> int:
        handle = await spawn(child())
        await handle.join()
        return 1

    with FlowHDL() as f:
        f.p = Parent()
    f.run_until_complete(context_factory=lambda n: "ctx")
    assert seen["node"] is None
    assert "current_context() called outside of a node" in seen["error"]


# ------------------------------------------------------------------ current_node / current_flow


def test_current_node_outside_is_none() -> None:
    assert current_node() is None


def test_current_node_is_stable_across_awaits(timing: Any) -> None:
    """``current_node()`` is the same finalized node before and after a sleep."""
    seen: list[Any] = []

    @node
    async def Sleeper() -> int:
        seen.append(current_node())
        await sleep(timing.unit())
        seen.append(current_node())
        return 1

    with timing.new_hdl() as f:
        f.s = Sleeper()
        f.other = Sleeper()
    timing.run(f)
    assert seen.count(f.s) == 2
    assert seen.count(f.other) == 2


def test_current_node_exposes_the_original_call() -> None:
    """The finalized node's original-call record names the user function."""
    names: list[str] = []

    @node
    async def DummyNode() -> int:
        current = current_node()
        assert current is not None
        names.append(current._original_call.func_name)
        return 42

    with FlowHDL() as f:
        f.d = DummyNode()
    f.run_until_complete()
    assert names == ["DummyNode"]
    assert f.d.get_data() == (42,)


def test_current_flow_inside_a_node_and_after_a_normal_run() -> None:
    """Inside a node ``current_flow()`` is the running flow; after normal completion it
    is ``None`` again."""
    flows: list[Any] = []

    @node
    async def Look() -> int:
        flows.append(current_flow())
        return 0

    with FlowHDL() as f:
        f.look = Look()
    assert current_flow() is None
    f.run_until_complete()
    assert flows == [f._flow]
    assert current_flow() is None


# --------------------------------------------------------------------------- concurrency envelopes


def _fan_out(timing: Any, b_units: float, c_units: float) -> float:
    """A feeds B and C, which sleep the given units; returns the elapsed units from A's
    start to the later of B's and C's ends."""
    u = timing.unit()
    marks: dict[str, float] = {}

    @node
    async def A() -> int:
        marks["start"] = timing.clock()
        return 1

    @node
    async def Sleepy(x: int, units: float, key: str) -> int:
        if units:
            await sleep(units * u)
        marks[key] = timing.clock()
        return x

    with timing.new_hdl() as f:
        f.a = A()
        f.b = Sleepy(f.a, b_units, "b")
        f.c = Sleepy(f.a, c_units, "c")
    timing.run(f)
    elapsed: float = (max(marks["b"], marks["c"]) - marks["start"]) / u
    return elapsed


def test_siblings_fed_by_one_node_sleep_concurrently(timing: Any) -> None:
    """A feeds B and C, each sleeping 1 unit: total in [1, 2)."""
    elapsed = _fan_out(timing, 1, 1)
    assert 1.0 <= elapsed < 2.0


def test_siblings_with_different_sleeps_overlap(timing: Any) -> None:
    """With 0.5 and 1 unit sleeps: total in [0.9, 1.5)."""
    elapsed = _fan_out(timing, 0.5, 1)
    assert 0.9 <= elapsed < 1.5


def test_siblings_without_sleeps_are_quick(timing: Any) -> None:
    """Without sleeps the fan-out takes (almost) no time: < 0.1 s real, < 0.1 unit."""
    elapsed = _fan_out(timing, 0, 0)
    assert elapsed * timing.unit() < 0.1


def test_sleeping_node_feeding_an_identity(timing: Any) -> None:
    """A node sleeping 5 units feeding an identity: the run spans [5, 8) units and the
    identity holds the value."""
    u = timing.unit()
    marks: dict[str, float] = {}

    @node
    async def Delayed() -> int:
        marks["start"] = timing.clock()
        await sleep(5 * u)
        return 10

    @node
    async def Ident(x: int) -> int:
        marks["end"] = timing.clock()
        return x

    with timing.new_hdl() as f:
        f.out = Ident(Delayed())
    timing.run(f)
    assert f.out.get_data() == (10,)
    assert 5.0 <= (marks["end"] - marks["start"]) / u < 8.0


def test_disconnected_components_run_concurrently(timing: Any) -> None:
    """flowtrace runs disconnected components concurrently (DESIGN §10; Flowno ran them
    one after another): two unconnected nodes sleeping 1 unit each finish within
    [1, 1.5) units of the first start."""
    u = timing.unit()
    marks: list[float] = []

    @node
    async def Nap(tag: int) -> int:
        marks.append(timing.clock())
        await sleep(u)
        marks.append(timing.clock())
        return tag

    with timing.new_hdl() as f:
        f.one = Nap(1)
        f.two = Nap(2)
    timing.run(f)
    assert f.one.get_data() == (1,)
    assert f.two.get_data() == (2,)
    assert 1.0 <= (max(marks) - min(marks)) / u < 1.5


def _two_sources_and_a_sink(timing: Any, sink_first: bool) -> tuple[float, Any]:
    u = timing.unit()
    marks: list[float] = []

    @node
    async def Source(value: int) -> int:
        marks.append(timing.clock())
        await sleep(0.3 * u)
        marks.append(timing.clock())
        return value

    @node
    async def Join(a: int, b: int) -> int:
        return a + b

    with timing.new_hdl() as f:
        if sink_first:
            f.join = Join(f.one, f.two)
        f.one = Source(1)
        f.two = Source(2)
        if not sink_first:
            f.join = Join(f.one, f.two)
    timing.run(f)
    return (max(marks) - min(marks)) / u, f


@pytest.mark.parametrize("sink_first", [False, True], ids=["sources-first", "sink-first"])
def test_independent_sources_feeding_one_sink_overlap_whatever_the_order(
    timing: Any, sink_first: bool
) -> None:
    """Two sources, each sleeping 0.3 units, feeding one sink take about 0.3 units
    whether the sources or the sink were defined first (a run starts from every
    source). Flowno starts at the first node: with the sources
    defined first it takes 0.6 (docs/DESIGN.md §12.2, a deliberate difference)."""
    elapsed, f = _two_sources_and_a_sink(timing, sink_first)
    assert f.join.get_data() == (3,)
    assert 0.3 <= elapsed < 0.45


# --------------------------------------------------------------------------- exit()


def test_exit_inside_a_node_ends_the_run_normally() -> None:
    """``await exit(value)`` in a node stops the loop: ``run_until_complete`` returns
    normally and later nodes do not run; ``current_flow()`` is reset."""
    ran: list[str] = []

    @node
    async def Stop() -> int:
        ran.append("stop")
        await exit("done")
        ran.append("unreachable")
        return 1

    @node
    async def After(x: int) -> int:
        ran.append("after")
        return x

    with FlowHDL() as f:
        f.stop = Stop()
        f.after = After(f.stop)
    f.run_until_complete()
    assert ran == ["stop"]
    assert current_flow() is None


def test_exit_with_exception_raises_it() -> None:
    """``await exit(exception=e)`` ends the run by raising ``e``."""
    err = LookupError("leave")

    @node
    async def Leave() -> int:
        await exit(exception=err)
        return 1

    with FlowHDL() as f:
        f.leave = Leave()
    with pytest.raises(LookupError) as info:
        f.run_until_complete()
    assert info.value is err
    assert current_flow() is None
