"""Regression tests for Flowno's hazards (compatibility §9): each ends in the right
result or a clear error, never a hang."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowtrace import FlowHDL, TerminateLimitReached, current_flow, node
from flowtrace.instrument import _context_stack as instrument_stack
from flowtrace.instrument import current_bus


@node
async def Pair() -> tuple[int, int]:
    return (1, 2)


@node(multiple_outputs=True)
async def Two() -> tuple[int, int]:
    return 1, 2


@node(multiple_outputs=True)
async def NotATuple() -> int:
    return 5


@node
async def Use(x: Any) -> Any:
    return x


def test_out_of_range_output_index_is_a_gather_error_naming_the_port() -> None:
    """§6 item 2 / §1.4: Flowno kills the task and hangs."""
    with FlowHDL() as f:
        f.two = Two()
        f.use = Use(f.two.output(5))
    with pytest.raises(IndexError, match=r"use.input\(0\) `x` reads output 5 of two"):
        f.run_until_complete()


def test_multiple_outputs_must_be_a_tuple() -> None:
    with FlowHDL() as f:
        f.bad = NotATuple()
        f.use = Use(f.bad.output(0))
    with pytest.raises(TypeError, match="bad has multiple outputs and must return a tuple"):
        f.run_until_complete()


def test_single_output_tuple_is_wrapped_once() -> None:
    with FlowHDL() as f:
        f.p = Pair()
    f.run_until_complete()
    assert f.p.get_data() == ((1, 2),)


def test_abnormal_end_leaks_no_instrument_and_no_current_flow() -> None:
    """§6 item 5: Flowno leaves its scheduler's instrument on the stack and
    ``current_flow()`` set after an abnormal end."""
    before = instrument_stack.get()
    with FlowHDL() as f:
        f.u = Use(f.u)
    with pytest.raises(Exception):  # noqa: B017 - the cycle has no default
        f.run_until_complete()

    @node
    async def Loop(x: int = 0) -> int:
        return x + 1

    with FlowHDL() as g:
        g.loop = Loop(g.loop)
    with pytest.raises(TerminateLimitReached):
        g.run_until_complete((3,))
    assert instrument_stack.get() == before
    assert current_bus() is None
    assert current_flow() is None
    with pytest.raises(TerminateLimitReached):
        g.run_until_complete((5,))
    assert g.loop.get_data() == (6,)


def test_flow_runs_inside_asyncio_and_nodes_may_await_asyncio() -> None:
    @node
    async def Later(x: int) -> int:
        await asyncio.sleep(0)
        return x * 3

    with FlowHDL() as f:
        f.later = Later(Use(7))

    async def main() -> None:
        await f.run_until_complete_async()

    asyncio.run(main())
    assert f.later.get_data() == (21,)


def test_keep_going_mode_wakes_readers_of_a_failed_producer() -> None:
    """With ``terminate_on_node_error=False`` a reader stalled on a producer that then
    fails gets ``NodeExecutionError`` in its read (it fails too), independent nodes
    finish, and the run raises ``NodeExecutionError`` for the first failure."""
    from flowtrace import NodeExecutionError, Stream

    @node
    async def Breaks() -> AsyncIterator[int]:
        yield 1
        raise RuntimeError("producer broke")

    @node(stream_in=["xs"])
    async def Reader(xs: Stream[int]) -> list[int]:
        return [x async for x in xs]

    with FlowHDL() as f:
        f.src = Breaks()
        f.reader = Reader(f.src)
        f.other = Use(3)
    with pytest.raises(NodeExecutionError) as info:
        f.run_until_complete(terminate_on_node_error=False)
    assert info.value.node_id == "src"
    assert isinstance(info.value.__cause__, RuntimeError)
    assert [e[0] for e in info.value.errors] == ["src", "reader"]
    assert f.other.get_data() == (3,)
    assert f.reader.get_data() is None
