"""Conformance: ``node._data``, Flowno's per-node storage of outputs by generation.

Pinned (compatibility §2): reading ``node._data`` maps each generation the node holds to
its output; writing ``node._data[gen] = data`` stores an output at that generation, so
that ``generation``, ``get_data`` and the staleness rule all see it — the way a test
puts two nodes at chosen generations. flowtrace keeps the newest output per run level
only, so a write older than what the node holds is a ``ValueError`` naming the node (a
deliberate difference: Flowno keeps every output of every generation).
"""

from __future__ import annotations

from typing import Any

import pytest

from flowtrace import FlowHDL, TerminateLimitReached, node

pytestmark = pytest.mark.timeout(10)


@node
async def Pass(x: int) -> int:
    return x


def chain() -> tuple[Any, Any]:
    with FlowHDL() as f:
        f.first = Pass(1)
        f.second = Pass(f.first)
    return f.first, f.second


def test_a_written_result_becomes_the_generation_and_the_data() -> None:
    first, _ = chain()
    first._data[(0,)] = (10,)
    assert first.generation == (0,)
    assert first.get_data() == (10,)
    first._data[(3,)] = (13,)
    assert first.generation == (3,)
    assert first.get_data() == (13,)
    assert dict(first._data) == {(3,): (13,)}


def test_a_written_stream_item_is_visible_at_run_level_one() -> None:
    first, _ = chain()
    first._data[(0,)] = ("whole",)
    first._data[(1, 2)] = ("part",)
    assert first.generation == (1, 2)
    assert first.get_data(1) == ("part",)
    assert first.get_data(0) == ("whole",)  # the previous run's result stays visible
    assert first._data[(1, 2)] == ("part",)
    assert (0,) in first._data and len(first._data) == 2


def test_a_result_written_after_items_of_its_run_ends_the_run() -> None:
    first, _ = chain()
    first._data[(0, 0)] = ("a",)
    first._data[(0,)] = ("abc",)
    assert first.generation == (0,)
    assert first.get_data(0) == ("abc",)
    assert first.get_data(1) is None


def test_writes_and_pushes_keep_one_generation_sequence() -> None:
    first, _ = chain()
    first._data[(1,)] = (5,)
    first.push_data((6,))
    assert first.generation == (2,)
    assert first.get_data() == (6,)


def test_the_staleness_rule_sees_written_generations() -> None:
    first, second = chain()
    first._data[(1,)] = (1,)
    second._data[(1,)] = (1,)
    assert [
        p.connected_output.node
        for p in second.get_inputs_with_le_generation_clipped_to_minimum_run_level()
    ] == [first]
    first._data[(2,)] = (2,)
    assert second.get_inputs_with_le_generation_clipped_to_minimum_run_level() == []


def test_a_run_continues_from_the_written_generation() -> None:
    """Outputs written before the first run are the run's starting state: the producer's
    next result is the generation after the written one (as in Flowno)."""
    first, second = chain()
    first._data[(0,)] = (41,)
    with pytest.raises(TerminateLimitReached):
        first._flow.run_until_complete(stop_at_node_generation={second: (0,)})
    assert first.generation == (1,)
    assert second.get_data() == (1,)


@pytest.mark.parametrize("gen", [(), (1, 2, 3), (-1,), ("0",), 0, (True,)])
def test_a_malformed_generation_is_refused_naming_the_node(gen: Any) -> None:
    first, _ = chain()
    with pytest.raises(ValueError, match=r"first\._data"):
        first._data[gen] = (1,)
    assert first.generation is None


def test_a_write_older_than_the_kept_output_is_refused() -> None:
    first, _ = chain()
    first._data[(2,)] = (2,)
    with pytest.raises(ValueError, match=r"first\._data\[\(1,\)\].*holds complete result \(2,\)"):
        first._data[(1,)] = (1,)
    first._data[(3, 1)] = ("b",)
    with pytest.raises(ValueError, match=r"holds output \(3, 1\)"):
        first._data[(3, 0)] = ("a",)
    assert first.generation == (3, 1)
    assert first.get_data(0) == (2,)
