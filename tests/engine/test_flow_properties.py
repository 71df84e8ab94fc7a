"""Property tests: the engine agrees with direct evaluation on random graphs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowtrace import FlowHDL, MissingDefaultError, Stream, TerminateLimitReached, node

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@node
async def Op(k: int, *xs: int) -> int:
    return (k + 3 * sum(xs)) % 1_000_003


@st.composite
def dags(draw: st.DrawFn) -> list[tuple[int, list[int]]]:
    n = draw(st.integers(1, 12))
    out: list[tuple[int, list[int]]] = []
    for i in range(n):
        k = draw(st.integers(0, 100))
        inputs = draw(st.lists(st.integers(0, i - 1), max_size=3)) if i else []
        out.append((k, inputs))
    return out


@SETTINGS
@given(dags(), st.booleans())
def test_random_dags_match_direct_evaluation(spec: list[tuple[int, list[int]]], rev: bool) -> None:
    def direct(i: int) -> int:
        k, inputs = spec[i]
        return (k + 3 * sum(direct(j) for j in inputs)) % 1_000_003

    with FlowHDL() as f:
        nodes: list[Any] = [None] * len(spec)
        order = range(len(spec) - 1, -1, -1) if rev else range(len(spec))
        for i in order:
            k, inputs = spec[i]
            ins = [getattr(f, f"n{j}") for j in inputs]
            nodes[i] = Op(k, *ins)
            setattr(f, f"n{i}", nodes[i])
    f.run_until_complete()
    for i in range(len(spec)):
        fin = getattr(f, f"n{i}")
        assert fin.get_data() == (direct(i),)
        assert fin.generation == (0,)


@node
async def Step(x: int) -> int:
    return x + 1


@node
async def StepD(x: int = 0) -> int:
    return x + 1


@SETTINGS
@given(
    st.lists(st.booleans(), min_size=1, max_size=5),
    st.integers(0, 4),
)
def test_random_rings_with_defaults_respect_the_limit(defaults: list[bool], limit: int) -> None:
    """A ring where node i reads node i-1: the breaker is the first node with a default
    in search order from the start node (0, m-1, m-2, ..., 1); it reaches the global
    limit first, every other node is one generation behind."""
    m = len(defaults)
    with FlowHDL() as f:
        for i in range(m):
            cls = StepD if defaults[i] else Step
            setattr(f, f"n{i}", cls(getattr(f, f"n{(i - 1) % m}")))
    search = [0, *range(m - 1, 0, -1)]
    breakers = [i for i in search if defaults[i]]
    if not breakers:
        with pytest.raises(MissingDefaultError):
            f.run_until_complete((limit,))
        return
    b = breakers[0]
    with pytest.raises(TerminateLimitReached) as info:
        f.run_until_complete((limit,))
    assert info.value.node_id == f"n{b}"
    breaker = getattr(f, f"n{b}")
    assert breaker.generation == (limit,)
    assert breaker.get_data() == (m * limit + 1,)
    for d in range(1, m):
        other = getattr(f, f"n{(b + d) % m}")
        if limit == 0:
            assert other.generation is None
        else:
            assert other.generation == (limit - 1,)
            assert other.get_data() == (m * (limit - 1) + 1 + d,)


@node
async def Source(items: list[int]) -> AsyncIterator[int]:
    for x in items:
        yield x


def make_pass(a: int, b: int) -> Any:
    @node(stream_in=["xs"])
    async def Pass(xs: Stream[int]) -> AsyncIterator[int]:
        async for x in xs:
            yield x * a + b

    return Pass


@node(stream_in=["xs"])
async def Collector(xs: Stream[int]) -> list[int]:
    return [x async for x in xs]


def make_canceller(k: int) -> Any:
    @node(stream_in=["xs"])
    async def Canceller(xs: Stream[int]) -> list[int]:
        got: list[int] = []
        async for x in xs:
            got.append(x)
            if len(got) == k:
                await xs.cancel()
        return got

    return Canceller


@node
async def Mono(total: int) -> int:
    return total


@SETTINGS
@given(
    st.lists(st.integers(-50, 50), min_size=1, max_size=12),
    st.lists(st.tuples(st.integers(-3, 3), st.integers(-5, 5)), max_size=4),
    st.sampled_from(["collect", "cancel", "mono"]),
    st.integers(1, 5),
    st.booleans(),
)
def test_random_stream_pipelines_match_direct_evaluation(
    items: list[int],
    passes: list[tuple[int, int]],
    terminal: str,
    k: int,
    side_collector: bool,
) -> None:
    expected = list(items)
    for a, b in passes:
        expected = [x * a + b for x in expected]
    with FlowHDL() as f:
        f.src = Source(items)
        prev = f.src
        for a, b in passes:
            prev = make_pass(a, b)(prev)
        f.last = prev
        if terminal == "collect":
            f.out = Collector(prev)
        elif terminal == "cancel":
            f.out = make_canceller(k)(prev)
        else:
            f.out = Mono(prev)
        if side_collector and terminal != "cancel":
            f.side = Collector(f.src)
    f.run_until_complete()
    if terminal == "collect":
        assert f.out.get_data() == (expected,)
    elif terminal == "cancel":
        assert f.out.get_data() == (expected[:k],)
    else:
        assert f.out.get_data() == (sum(expected),)
    if side_collector and terminal != "cancel":
        assert f.side.get_data() == (list(items),)
