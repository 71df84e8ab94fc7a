"""The testing tools on real flows: stable orders, errors in the order, partial orders."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from flowtrace import FlowHDL, node
from flowtrace.testing import Capture, assert_order


@node
async def Source() -> int:
    return 1


@node
async def Inc(x: int) -> int:
    return x + 1


@node
async def Join(a: int, b: int) -> int:
    if a + b > 10:
        raise ValueError(f"{a} + {b} is too big")
    return a + b


@node
async def Count(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i


@node(stream_in=["items"])
async def Total(items: AsyncIterator[int]) -> int:
    total = 0
    async for item in items:
        total += item
    return total


def run_diamond(start: int = 1) -> None:
    with FlowHDL() as f:
        f.src = Source() if start == 1 else Inc(start - 1)
        f.b = Inc(f.src)
        f.c = Inc(f.src)
        f.d = Join(f.b, f.c)
    f.run_until_complete()


def test_the_same_flow_built_twice_renders_the_same_order() -> None:
    with Capture() as first:
        run_diamond()
    with Capture() as second:  # its unnamed nodes have other process-wide numbers
        run_diamond()
    for level in ("evaluations", "scheduling", "full"):
        assert first.order(level) == second.order(level)


def test_the_capture_fixture_captures_flows_run_in_the_test(
    flowtrace_capture: Capture,
) -> None:
    run_diamond()
    assert "d emitted (0,): 4" in flowtrace_capture.lines("evaluations")
    assert flowtrace_capture.lines("evaluations")[-1] == "flow finished: completed"


def test_an_error_is_part_of_the_order(flowtrace_capture: Capture) -> None:
    with pytest.raises(ValueError, match="too big"):
        run_diamond(start=6)
    lines = flowtrace_capture.lines("evaluations")
    assert "d errored (0,) in call: ValueError: 7 + 7 is too big" in lines
    assert lines[-1] == "flow finished: error in d (0,): ValueError: 7 + 7 is too big"


def test_branches_of_a_diamond_run_between_source_and_sink(
    flowtrace_capture: Capture,
) -> None:
    run_diamond()
    assert_order(
        flowtrace_capture.lines("evaluations"),
        [
            "src finished (0,): completed",
            {"b started (0,)", "c started (0,)"},
            "d started (0,)",
        ],
        only_listed=True,
    )


def test_stream_items_appear_as_yielded_generations(flowtrace_capture: Capture) -> None:
    with FlowHDL() as f:
        f.count = Count(2)
        f.total = Total(f.count)
    f.run_until_complete()
    lines = flowtrace_capture.lines("scheduling")
    assert [line for line in lines if line.startswith("count yielded")] == [
        "count yielded (0, 0): 0; now waiting (run level 1)",
        "count yielded (0, 1): 1; now waiting (run level 1)",
    ]
    assert_order(
        lines,
        [
            "count yielded (0, 0): 0",
            "total consumed count.0 (0, 0) on port 0: 0",
            "count yielded (0, 1): 1",
            "total consumed count.0 (0, 1) on port 0: 1",
            "total emitted (0,): 1",
        ],
        only_listed=True,
    )
