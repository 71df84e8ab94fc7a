"""The solver (compatibility §3): staleness, SCCs, leaves, cycle breaking."""

from __future__ import annotations

from typing import Any

import pytest

from flowtrace import FlowHDL, MissingDefaultError, Stream, node
from flowtrace.engine.node import FinalizedNode
from flowtrace.engine.resolve import all_stale_edges, port_is_stale, solve, source_starts


@node
async def Src() -> int:
    return 0


@node
async def Ident(x: Any) -> Any:
    return x


@node
async def IdentD(x: Any = 0) -> Any:
    return x


@node(stream_in=["xs"])
async def Reader(xs: Stream[Any]) -> Any:
    return [x async for x in xs]


def _push(n: FinalizedNode, gen: tuple[int, ...]) -> None:
    for i in range(gen[0] + (1 if len(gen) == 1 else 0)):
        n.push_data((i,), 0)
    if len(gen) == 2:
        for j in range(gen[1] + 1):
            n.push_data((j,), 1)
    assert n.generation == gen


@pytest.mark.parametrize(
    ("stream", "g_p", "g_c", "stale"),
    [
        (False, (0,), (0,), True),
        (False, (1,), (0,), False),
        (False, (0, 0), (0,), True),
        (False, (0, 1), (0,), True),
        (False, (1, 0), (0,), True),
        (True, (0, 0), (0,), True),
        (True, (1, 0), (0,), False),
        (True, (0, 1), (0, 0), False),
        (True, (0, 1), (0, 1), True),
        (True, (0,), (0, 1), False),
    ],
)
def test_staleness_table(
    stream: bool, g_p: tuple[int, ...], g_c: tuple[int, ...], stale: bool
) -> None:
    with FlowHDL() as f:
        f.p = Src()
        f.c = Reader(f.p) if stream else Ident(f.p)
    _push(f.p, g_p)
    _push(f.c, g_c)
    assert port_is_stale(f.c._input_ports[0], f.c.generation) is stale
    expected = [f.p] if stale else [f.c]
    assert f._flow._find_node_solution(f.c) == expected


def test_stitch_shifts_the_producer_generation() -> None:
    with FlowHDL() as f:
        f.p = Src()
        f.c = Ident(f.p)
    _push(f.p, (0,))
    _push(f.c, (0,))
    port = f.c._input_ports[0]
    assert port_is_stale(port, f.c.generation)
    port.stitch_level_0 = 1
    assert not port_is_stale(port, f.c.generation)


def test_chain_solution_from_the_middle() -> None:
    with FlowHDL() as f:
        f.a = Src()
        f.b = Ident(f.a)
        f.c = Ident(f.b)
    _push(f.b, (0,))
    assert f._flow._find_node_solution(f.b) == [f.a]
    assert f._flow._find_node_solution(f.c) == [f.c]
    tree = f._flow._condensed_tree(f.b)
    assert tree.head is f.b
    assert [d.head for d in tree.dependencies] == [f.a]
    assert tree.dependencies[0].dependencies == []


def test_cycle_breaker_prefers_the_root_then_discovery_order() -> None:
    """Both members of a two-node cycle have defaults: the demanded node breaks it."""
    with FlowHDL() as f:
        f.a = IdentD(f.b)
        f.b = IdentD(f.a)
    flow = f._flow
    sol = solve(f.a, flow._stale_edges)
    assert sol.leaves == [f.a]
    assert [b.node.node_id for b in sol.breaks] == ["a"]
    assert sol.breaks[0].defaulted_ports == [0]
    assert [[m.node_id for m in scc] for scc in sol.sccs] == [["a", "b"]]
    assert solve(f.b, flow._stale_edges).leaves == [f.b]


def test_cycle_breaker_skips_members_without_defaults() -> None:
    with FlowHDL() as f:
        f.a = Ident(f.b)
        f.b = IdentD(f.a)
    assert f._flow._find_node_solution(f.a) == [f.b]


def test_cycle_without_defaults_names_nodes_and_ports() -> None:
    with FlowHDL() as f:
        f.a = Ident(f.b)
        f.b = Ident(f.a)
    with pytest.raises(MissingDefaultError) as info:
        f._flow._find_node_solution(f.a)
    text = str(info.value)
    assert text.startswith(
        "Detected a cycle without default values. You must add defaults to the indicated "
        "arguments for at least ONE of the following nodes:"
    )
    assert "a: Ident(x)" in text and "b: Ident(x)" in text
    assert "input 0 `x` <- b" in text and "input 0 `x` <- a" in text
    with pytest.raises(MissingDefaultError):
        f.run_until_complete()


def test_leaves_of_a_diamond_in_depth_first_order() -> None:
    @node
    async def Two(x: Any, y: Any) -> Any:
        return (x, y)

    with FlowHDL() as f:
        f.d = Two(f.b, f.c)
        f.b = Ident(f.a)
        f.c = Ident(f.a2)
        f.a = Src()
        f.a2 = Src()
    assert f._flow._find_node_solution(f.d) == [f.a, f.a2]
    assert [p for p, _ in all_stale_edges(f.d)] == [0, 1]


def test_a_20000_node_stale_chain_solves_iteratively() -> None:
    with FlowHDL() as f:
        prev = Src()
        f.first = prev
        for _ in range(20_000):
            prev = Ident(prev)
        f.last = prev
    assert f._flow._find_node_solution(f.last) == [f.first]


@node
async def Pair(a: Any, b: Any = 0) -> Any:
    return (a, b)


def test_a_run_starts_from_every_source_and_from_each_sourceless_component() -> None:
    """``source_starts``: every node without a connected input, and the first node of
    each component that has none (a cycle fed by nothing), in registration order."""
    with FlowHDL() as f:
        f.sink = Pair(f.s1, f.s2)  # defined before its sources
        f.s1 = Src()
        f.s2 = Src()
        f.mid = Ident(f.s2)
        f.b = IdentD(f.a)  # a cycle nothing feeds: its own component
        f.a = IdentD(f.b)
        f.loop = Pair(f.mid, f.loop)  # a self-loop fed by a source: no start of its own
    starts = source_starts(f._flow.nodes)
    assert [n.node_id for n in starts] == ["s1", "s2", "b"]


def test_flownos_start_rule_is_the_first_node_of_each_component() -> None:
    """``component_firsts`` (kept so the differential tester can run flowtrace with
    Flowno's start rule): the first registered node of every weakly connected
    component."""
    from flowtrace.engine.resolve import component_firsts

    with FlowHDL() as f:
        f.s1 = Src()
        f.s2 = Src()
        f.sink = Pair(f.s1, f.s2)
        f.lone = Src()
    assert [n.node_id for n in component_firsts(f._flow.nodes)] == ["s1", "lone"]
