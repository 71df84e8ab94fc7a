"""Conformance: when an input is stale, with the producer clipped to the port's run level.

Pinned (compatibility §3): an input of node B fed by node A is *stale*
— B must wait for A — when A's generation, clipped to the port's minimum run level (and
shifted by the port's stitch), is not newer than B's generation. A mono port (run level
0) sees only A's complete results, so a stream item of A's next run is not news to it;
a stream port (run level 1) sees every item. ``FinalizedNode.
get_inputs_with_le_generation_clipped_to_minimum_run_level()`` lists the stale inputs
(each with ``connected_output.node``); a port's ``minimum_run_level`` may be changed on
the finalized node before a run and the run honours it.

The generations are reached through ``push_data`` (the engine's own way to store an
output), so these tests pin the rule, not a storage layout.
"""

from __future__ import annotations

from typing import Any

import pytest

from flowtrace import FlowHDL, Stream, node
from flowtrace.core.types import InputPortIndex
from flowtrace.engine.generation import Generation

pytestmark = pytest.mark.timeout(10)


@node
async def Bump(x: int) -> int:
    return x + 1


def two_nodes() -> tuple[Any, Any]:
    """``up`` feeding ``down`` through ``down``'s input 0."""
    with FlowHDL() as f:
        f.up = Bump(0)
        f.down = Bump(f.up)
    return f.up, f.down


def advance_to(n: Any, gen: Generation) -> None:
    """Push outputs into ``n`` until its generation is ``gen`` (run levels 0 and 1)."""
    if gen is None:
        return
    for _ in range(gen[0] + (len(gen) == 1)):
        n.push_data((0,), 0)
    if len(gen) == 2:
        for j in range(gen[1] + 1):
            n.push_data((j,), 1)
    assert n.generation == gen


# (port run level, producer generation, consumer generation, stale?) — each row follows
# from the rule: clip the producer to the port's level, then compare with the consumer.
CASES = [
    # Mono port: only complete results count.
    (0, None, None, True),  # nothing on either side: the producer must run first
    (0, (0,), None, False),  # a first result is news to a consumer that never ran
    (0, (2,), (1,), False),  # a newer result
    (0, (2,), (2,), True),  # the same result, already consumed
    (0, (3,), (5,), True),  # an older result
    (0, (0, 4), None, True),  # items of the first run only: no complete result yet
    (0, (0, 4), (0,), True),
    (0, (3, 0), (2,), True),  # (3, 0) clipped to level 0 is (2,): already consumed
    (0, (3, 0), (1,), False),  # ... but newer than (1,)
    (0, (1, 1), (0, 3), False),  # clipped (0,), run 0's result, is newer than its item
    # Stream port: every item counts.
    (1, (0, 0), None, False),  # a first item is news
    (1, (0, 2), (0, 1), False),  # a newer item of the same run
    (1, (0, 2), (0, 2), True),
    (1, (0, 2), (0, 5), True),
    (1, (1, 0), (0,), False),  # the first item of the next run
    (1, (1,), (0, 3), False),  # a complete result after the consumer's item
    (1, (1,), (1,), True),
    (1, (2, 1), (2,), True),  # items of run 2 come before its result (2,)
    (1, (1,), (1, 0), False),  # a result is newer than the items of its own run
]


@pytest.mark.parametrize(("level", "producer_gen", "consumer_gen", "stale"), CASES)
def test_an_input_is_stale_when_the_clipped_producer_is_not_newer(
    level: int, producer_gen: Generation, consumer_gen: Generation, stale: bool
) -> None:
    up, down = two_nodes()
    advance_to(up, producer_gen)
    advance_to(down, consumer_gen)
    down._input_ports[InputPortIndex(0)].minimum_run_level = level

    found = down.get_inputs_with_le_generation_clipped_to_minimum_run_level()

    if stale:
        assert [p.connected_output.node for p in found] == [up]
        assert found[0] is down._input_ports[0]
    else:
        assert found == []


@pytest.mark.parametrize(("level", "producer_gen", "consumer_gen", "stale"), CASES)
def test_the_scheduler_applies_the_same_rule(
    level: int, producer_gen: Generation, consumer_gen: Generation, stale: bool
) -> None:
    """What the solver follows upstream (before a run adds its exclusions) is exactly
    the list of stale inputs: its inlined common case agrees with the rule."""
    up, down = two_nodes()
    advance_to(up, producer_gen)
    advance_to(down, consumer_gen)
    down._input_ports[0].minimum_run_level = level

    edges = down._flow._stale_edges(down)

    assert edges == ([(0, up)] if stale else [])


def test_unconnected_and_defaulted_inputs_are_never_stale() -> None:
    @node
    async def Pair(a: int, b: int = 7) -> int:
        return a + b

    with FlowHDL() as f:
        f.src = Bump(1)
        f.pair = Pair(f.src)  # `b` is left to its default
    assert [
        p.port_index for p in f.pair.get_inputs_with_le_generation_clipped_to_minimum_run_level()
    ] == [0]


def test_the_stitch_shifts_what_a_port_has_seen() -> None:
    """After a cycle is broken on a port, the producer's results count one generation
    later on it: a result equal to the consumer's generation is then news."""
    up, down = two_nodes()
    advance_to(up, (1,))
    advance_to(down, (2,))
    port = down._input_ports[0]
    assert down.get_inputs_with_le_generation_clipped_to_minimum_run_level() == [port]
    port.stitch_level_0 = 1
    assert down.get_inputs_with_le_generation_clipped_to_minimum_run_level() == [port]
    port.stitch_level_0 = 2
    assert down.get_inputs_with_le_generation_clipped_to_minimum_run_level() == []


@node
async def Spell(word: str):  # type: ignore[no-untyped-def]
    for ch in word:
        yield ch


@node
async def Describe(value: Any) -> str:
    if isinstance(value, Stream):
        return "stream:" + "".join([ch async for ch in value])
    return f"value:{value}"


def test_a_run_honours_a_run_level_changed_on_the_finalized_port() -> None:
    """A mono consumer of a streaming producer gets the combined result; set its port's
    ``minimum_run_level`` to 1 after the block and the same graph hands it a stream."""
    with FlowHDL() as f:
        f.spell = Spell("abc")
        f.describe = Describe(f.spell)
    f.run_until_complete()
    assert f.describe.get_data() == ("value:abc",)

    with FlowHDL() as g:
        g.spell = Spell("abc")
        g.describe = Describe(g.spell)
    g.describe._input_ports[InputPortIndex(0)].minimum_run_level = 1
    g.run_until_complete()
    assert g.describe.get_data() == ("stream:abc",)
