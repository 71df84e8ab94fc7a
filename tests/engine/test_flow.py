"""Running flows: results, cycles, limits, errors, components, context, re-runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowtrace import (
    DeadlockError,
    Event,
    Flow,
    FlowHDL,
    NodeExecutionError,
    TerminateLimitReached,
    current_context,
    current_event_loop,
    current_flow,
    current_node,
    node,
    sleep,
    spawn,
)


@node
async def Const() -> int:
    return 1


@node
async def Inc(x: int) -> int:
    return x + 1


@node
async def IncD(x: int = 0) -> int:
    return x + 1


@node
async def Double(x: int) -> int:
    return x * 2


@node
async def Add(x: int, y: int) -> int:
    return x + y


def test_increment_double_cycle_follows_the_documented_sequence() -> None:
    """compatibility §6: Increment(0) ⇄ Double with global limit (3,)."""
    seen: list[str] = []

    @node
    async def Increment(value: int = 0) -> int:
        seen.append(f"Increment({value}) => {value + 1}")
        return value + 1

    @node
    async def Doubler(value: int) -> int:
        seen.append(f"Double({value}) => {value * 2}")
        return value * 2

    with FlowHDL() as f:
        f.inc = Increment(f.dbl)
        f.dbl = Doubler(f.inc)
    with pytest.raises(TerminateLimitReached) as info:
        f.run_until_complete((3,))
    assert seen == [
        "Increment(0) => 1",
        "Double(1) => 2",
        "Increment(2) => 3",
        "Double(3) => 6",
        "Increment(6) => 7",
        "Double(7) => 14",
        "Increment(14) => 15",
    ]
    assert info.value.node_id == "inc"
    assert info.value.generation == (3,)
    assert f.inc._input_ports[0].stitch_level_0 == 1


def test_per_node_limits_and_none_limit() -> None:
    with FlowHDL() as f:
        f.a = IncD(f.a)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete({f.a: (4,)})
    assert f.a.get_data() == (5,)
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete(None)
    assert f.a.generation == (0,)


def test_draft_keys_in_limit_dicts_match_their_twin() -> None:
    with FlowHDL() as f:
        f.a = IncD(f.a)
    draft = f.a._draft_node
    with pytest.raises(TerminateLimitReached):
        f.run_until_complete({draft: (2,)})
    assert f.a.get_data() == (3,)


def test_node_error_reaches_the_caller_unchanged_and_resets_current_flow() -> None:
    err = ValueError("Test error")

    @node
    async def Fails(x: int) -> int:
        raise err

    with FlowHDL() as f:
        f.bad = Fails(Const())
    with pytest.raises(ValueError) as info:
        f.run_until_complete()
    assert info.value is err
    assert current_flow() is None
    assert f.bad._rt.status == "error"


def test_non_async_function_fails_when_run() -> None:
    @node
    def Plain() -> int:
        return 1

    with FlowHDL() as f:
        f.p = Plain()
    with pytest.raises(TypeError, match="must be async function"):
        f.run_until_complete()


def test_terminate_on_node_error_false_lets_independent_nodes_finish() -> None:
    @node
    async def Fails() -> int:
        raise KeyError("k")

    with FlowHDL() as f:
        f.bad = Fails()
        f.after = Inc(f.bad)
        f.other = Inc(Const())
    with pytest.raises(NodeExecutionError) as info:
        f.run_until_complete(terminate_on_node_error=False)
    assert isinstance(info.value.__cause__, KeyError)
    assert info.value.node_id == "bad"
    assert f.other.get_data() == (2,)
    assert f.after.get_data() is None


def test_missing_default_at_gather_is_a_node_error_not_a_hang() -> None:
    @node
    async def NoFinal() -> AsyncIterator[object]:
        yield [1]
        yield "x"

    with FlowHDL() as f:
        f.src = NoFinal()
        f.use = Inc(f.src)
    from flowtrace import MissingDefaultError

    with pytest.raises(MissingDefaultError, match=r"use.input\(0\) `x` has no value"):
        f.run_until_complete()


def test_disconnected_components_run_concurrently() -> None:
    @node
    async def Slow() -> float:
        loop = current_event_loop()
        assert loop is not None
        await sleep(1.0)
        return loop.time()

    with FlowHDL() as f:
        f.a = Slow()
        f.b = Slow()
    f.run_until_complete(virtual_time=True)
    assert f.a.get_data() == (1.0,)
    assert f.b.get_data() == (1.0,)


def test_siblings_run_concurrently_and_the_run_waits_for_spawned_tasks() -> None:
    log: list[str] = []

    async def child() -> None:
        await sleep(2.0)
        log.append("child end")

    @node
    async def Main(x: int) -> int:
        await spawn(child())
        log.append("main end")
        return x

    with FlowHDL() as f:
        f.m = Main(Const())
    f.run_until_complete(virtual_time=True)
    assert log == ["main end", "child end"]


def test_current_node_and_context() -> None:
    seen: list[Any] = []

    @node
    async def Who(x: int) -> int:
        here = current_node()
        await sleep(0)
        assert current_node() is here
        seen.append((here, current_context()))
        return x

    with FlowHDL() as f:
        f.w = Who(Const())
    f.run_until_complete(context_factory=lambda n: n.node_id)
    assert seen == [(f.w, "w")]
    assert current_node() is None
    with pytest.raises(RuntimeError, match="outside of a flow"):
        current_context()


def test_a_flow_runs_again_from_empty_stores() -> None:
    calls: list[int] = []

    @node
    class Count:
        n = 0

        async def call(self, x: int) -> int:
            self.n += 1
            calls.append(self.n)
            return self.n

    with FlowHDL() as f:
        f.c = Count(Const())  # type: ignore[call-arg]  # @node class: python/mypy#3135
    f.run_until_complete()
    f.run_until_complete()
    assert calls == [1, 2]
    assert f.c.generation == (0,)
    assert f.c.get_data() == (2,)


def test_blocked_node_raises_deadlock_naming_the_node() -> None:
    never = Event()

    @node
    async def Waits() -> int:
        await never.wait()
        return 1

    with FlowHDL() as f:
        f.waiter = Waits()
    with pytest.raises(DeadlockError, match="'waiter'"):
        f.run_until_complete()
    assert current_flow() is None


def test_node_states_expose_the_final_state() -> None:
    with FlowHDL() as f:
        f.a = Const()
        f.b = Double(f.a)
    f.run_until_complete()
    states = f._flow.node_states()
    assert states["b"].status == "waiting"
    assert states["b"].generation == (0,)
    assert states["b"].data == [2]
    assert states["b"].run_level == 0


def test_node_tasks_and_unvisited_views() -> None:
    with FlowHDL() as f:
        f.a = Const()
    assert f._flow.unvisited == [f.a]
    f.run_until_complete()
    assert f._flow.unvisited == []
    task, status = f._flow.node_tasks[f.a]
    assert task is not None
    assert status.status == "waiting"


def test_flow_used_directly_with_blank_finalized_nodes() -> None:
    flow = Flow()
    n = Const()._blank_finalized()
    flow.add_node(n)
    flow.add_node(n)
    assert flow.nodes == [n]
    flow.run_until_complete()
    assert n.get_data() == (1,)
    assert repr(flow).startswith("<Flow#")


def test_exit_inside_a_node_ends_the_run_normally() -> None:
    from flowtrace import exit

    @node
    async def Quit() -> int:
        await exit()
        return 1

    with FlowHDL() as f:
        f.q = Quit()
    f.run_until_complete()
    assert f.q.get_data() is None


def test_fan_in_of_a_thousand_siblings_completes() -> None:
    @node
    async def Total(*xs: int) -> int:
        return sum(xs)

    with FlowHDL() as f:
        f.src = Const()
        f.sink = Total(*[Inc(f.src) for _ in range(1000)])
    f.run_until_complete()
    assert f.sink.get_data() == (2000,)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_100000_node_chain_runs() -> None:
    with FlowHDL() as f:
        prev = Const()
        for _ in range(100_000 - 1):
            prev = Inc(prev)
        f.last = prev
    f.run_until_complete()
    assert f.last.get_data() == (100_000,)


def test_a_chain_defined_sink_first_runs_without_recursion() -> None:
    """The sink is the first registered node: the whole chain is one stale path."""
    with FlowHDL() as f:
        f.sink = Inc(f.n0)
        nodes = []
        for i in range(3000):
            nodes.append(Inc(getattr(f, f"n{i + 1}")))
            setattr(f, f"n{i}", nodes[-1])
        f.n3000 = Const()
    f.run_until_complete()
    assert f.sink.get_data() == (3002,)
