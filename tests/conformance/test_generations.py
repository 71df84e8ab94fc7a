"""Conformance: generations, per-node data visibility, staleness and the solver
(compatibility §2, §3, §4).

Generations are ``None`` or tuples of ints: ``(k,)`` is the k-th complete result (run
level 0), ``(k, j)`` the j-th streamed chunk of run k (run level 1). The helper functions
live in ``flowtrace.utilities.helpers`` under Flowno's names.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowtrace import FlowHDL, node
from flowtrace.core.node_base import Constant
from flowtrace.utilities.helpers import (
    clip_generation,
    cmp_generation,
    inc_generation,
    main_generation,
    parent_generation,
    stitched_generation,
)

pytestmark = pytest.mark.timeout(10)

Gen = tuple[int, ...] | None
PushTo = Callable[[Any, tuple[int, ...]], None]


# --------------------------------------------------------------------------- cmp_generation


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (None, None, 0),
        (None, (0,), -1),
        ((0,), None, 1),
        (None, (0, 0), -1),
        ((0,), (0,), 0),
        ((0, 1), (0, 2), -1),
        ((2,), (1,), 1),
        ((1,), (1, 5), 1),  # a prefix is "more final" than its extensions
        ((1, 5), (1, 0), 1),
        ((1, 0), (0,), 1),
        ((0,), (0, 9), 1),
        ((0, 9), (0,), -1),
        ((), (5,), 1),  # the empty tuple is greater than everything: "no limit"
        ((), (3, 7), 1),
        ((), (), 0),
        ((1, 2, 3), (1, 2), -1),
    ],
)
def test_cmp_generation_orders_generations(a: Gen, b: Gen, expected: int) -> None:
    """``None`` is smallest; element-wise comparison; a prefix is greater."""
    assert cmp_generation(a, b) == expected


def test_cmp_generation_chain_from_spec() -> None:
    """``(1,) > (1, 5) > (1, 0) > (0,) > (0, 9) > None``."""
    chain: list[Gen] = [(1,), (1, 5), (1, 0), (0,), (0, 9), None]
    for bigger, smaller in itertools.pairwise(chain):
        assert cmp_generation(bigger, smaller) == 1
        assert cmp_generation(smaller, bigger) == -1


# --------------------------------------------------------------------------- inc_generation


@pytest.mark.parametrize(
    ("gen", "run_level", "expected"),
    [
        (None, 0, (0,)),
        (None, 1, (0, 0)),
        (None, 2, (0, 0, 0)),
        ((0,), 0, (1,)),
        ((5,), 0, (6,)),
        ((0, 0), 0, (0,)),
        ((1, 2), 0, (1,)),
        ((0, 0, 0), 0, (0,)),
        ((0,), 1, (1, 0)),
        ((1, 2), 1, (1, 3)),
        ((0, 0, 0), 1, (0, 0)),
        ((1, 2, 3), 1, (1, 2)),
        ((0, 0), 2, (0, 1, 0)),
        ((1,), 2, (2, 0, 0)),
        ((0,), 2, (1, 0, 0)),
        ((1, 2, 3), 2, (1, 2, 4)),
        ((3, 0), 1, (3, 1)),
    ],
)
def test_inc_generation_table(gen: Gen, run_level: int, expected: tuple[int, ...]) -> None:
    """The smallest generation greater than ``gen`` at level ``run_level``."""
    assert inc_generation(gen, run_level) == expected
    assert cmp_generation(expected, gen) == 1


# --------------------------------------------------------------------------- clip_generation


@pytest.mark.parametrize(
    ("gen", "run_level", "expected"),
    [
        (None, 0, None),
        (None, 1, None),
        ((0,), 0, (0,)),
        ((2,), 1, (2,)),
        ((1, 2), 1, (1, 2)),
        ((0, 0), 0, None),
        ((0, 3), 0, None),
        ((1, 0), 0, (0,)),
        ((1, 2, 3), 0, (0,)),
        ((1, 2, 3), 1, (1, 1)),
        ((2, 0, 1), 1, (1,)),
        ((0, 0, 0), 1, None),
    ],
)
def test_clip_generation_table(gen: Gen, run_level: int, expected: Gen) -> None:
    """The newest generation of length ≤ run_level+1 that is ≤ ``gen``."""
    assert clip_generation(gen, run_level) == expected


generations = st.one_of(
    st.none(),
    st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=4).map(tuple),
)


@given(gen=generations, run_level=st.integers(min_value=0, max_value=3))
def test_clip_generation_invariants(gen: Gen, run_level: int) -> None:
    """The clipped generation is ≤ the input, no longer than ``run_level + 1`` and no
    longer than the input."""
    clipped = clip_generation(gen, run_level)
    assert cmp_generation(clipped, gen) <= 0
    if clipped is not None:
        assert gen is not None
        assert len(clipped) <= run_level + 1
        assert len(clipped) <= len(gen)


@given(gen=generations, run_level=st.integers(min_value=0, max_value=3))
def test_inc_generation_is_strictly_greater_and_has_the_level_length(
    gen: Gen, run_level: int
) -> None:
    """``inc_generation(g, rl)`` is greater than ``g`` and has length ``rl + 1``."""
    result = inc_generation(gen, run_level)
    assert cmp_generation(result, gen) == 1
    assert len(result) == run_level + 1


# --------------------------------------------------------------------- stitched / main / parent


@pytest.mark.parametrize(
    ("gen", "stitch", "expected"),
    [
        (None, 0, None),
        (None, 1, (0,)),
        (None, 3, (2,)),
        ((), 2, ()),
        ((0,), 0, (0,)),
        ((0,), 2, (2,)),
        ((1, 0), 1, (2, 0)),
        ((4, 2, 1), 3, (7, 2, 1)),
    ],
)
def test_stitched_generation_table(gen: Gen, stitch: int, expected: Gen) -> None:
    """The stitch shifts the main (first) component of the producer's generation."""
    assert stitched_generation(gen, stitch) == expected


@pytest.mark.parametrize(
    ("gen", "expected"),
    [(None, None), ((), ()), ((2,), (2,)), ((3, 4), (3,)), ((1, 2, 3), (1,))],
)
def test_main_generation_table(gen: Gen, expected: Gen) -> None:
    assert main_generation(gen) == expected


@pytest.mark.parametrize(
    ("gen", "expected"),
    [(None, None), ((), None), ((1,), ()), ((1, 2), (1,)), ((1, 2, 3), (1, 2))],
)
def test_parent_generation_table(gen: Gen, expected: Gen) -> None:
    assert parent_generation(gen) == expected


# --------------------------------------------------------------------------- push_data / get_data


@node
async def Blank() -> int:
    return 0


def test_blank_finalized_node_has_no_data() -> None:
    """A blank finalized node starts at generation ``None`` with no data."""
    n = Blank()._blank_finalized()
    assert n.generation is None
    assert n.get_data() is None
    assert n.get_data(1) is None


def test_complete_results_advance_the_main_generation() -> None:
    """Two rl0 pushes → ``(0,)`` then ``(1,)``, ``get_data`` the latest value."""
    n = Blank()._blank_finalized()
    n.push_data(("first",))
    assert n.generation == (0,)
    assert n.get_data() == ("first",)
    n.push_data(("second",), 0)
    assert n.generation == (1,)
    assert n.get_data(0) == ("second",)


def test_chunks_are_visible_at_level_1_only_while_their_generation_is_open() -> None:
    """The spec §2.2 walk-through: chunks ``x``, ``y`` → ``(0, 1)`` with no rl0 data;
    closing with ``xy`` → ``(0,)``, chunks hidden; a new chunk ``z`` → ``(1, 0)`` with
    rl0 still showing the previous total."""
    n = Blank()._blank_finalized()
    n.push_data(("x",), 1)
    n.push_data(("y",), 1)
    assert n.generation == (0, 1)
    assert n.get_data(0) is None
    assert n.get_data(1) == ("y",)

    n.push_data(("xy",), 0)
    # mypy keeps ``n.generation`` narrowed by the assert above across push_data:
    assert n.generation == (0,)  # type: ignore[comparison-overlap]
    assert n.get_data(0) == ("xy",)
    assert n.get_data(1) is None

    n.push_data(("z",), 1)
    assert n.generation == (1, 0)
    assert n.get_data(0) == ("xy",)
    assert n.get_data(1) == ("z",)


def test_three_chunks_then_close_then_restart() -> None:
    """Three chunks → ``(0, 2)``; close → ``(0,)``; restart → ``(1, 0)``."""
    n = Blank()._blank_finalized()
    for chunk in ("a", "b", "c"):
        n.push_data((chunk,), 1)
    assert n.generation == (0, 2)
    assert n.get_data(0) is None
    assert n.get_data(1) == ("c",)
    n.push_data(("abc",), 0)
    # mypy keeps ``n.generation`` narrowed by the assert above across push_data:
    assert n.generation == (0,)  # type: ignore[comparison-overlap]
    assert n.get_data(1) is None
    n.push_data(("d",), 1)
    assert n.generation == (1, 0)
    assert n.get_data(0) == ("abc",)
    assert n.get_data(1) == ("d",)


def test_get_data_at_deeper_levels_than_stored_is_none() -> None:
    """``(42,)`` at rl0, then ``(43,)`` at rl1: rl0 sees 42, rl1 sees 43, rl2 nothing;
    then ``(44,)`` at rl0 closes: rl0 sees 44 and rl1/rl2 nothing."""
    n = Blank()._blank_finalized()
    n.push_data((42,))
    assert n.get_data() == (42,)
    n.push_data((43,), 1)
    assert n.get_data(0) == (42,)
    assert n.get_data(1) == (43,)
    assert n.get_data(2) is None
    n.push_data((44,), 0)
    assert n.get_data(0) == (44,)
    assert n.get_data(1) is None
    assert n.get_data(2) is None


# --------------------------------------------------------------------------- staleness (§2.5)


@node
async def Source() -> str:
    return "s"


@node
async def MonoConsumer(x: Any) -> Any:
    return x


@node(stream_in=["x"])
async def StreamConsumer(x: Any) -> Any:
    return None


# (stream port?, producer generation, consumer generation, consumer input is stale?)
STALENESS_TABLE = [
    (False, (0,), (0,), True),
    (False, (1,), (0,), False),
    (False, (1,), (1,), True),
    (False, (0, 0), (0,), True),  # clips to None at level 0
    (False, (1, 0), (0,), True),  # clips to (0,)
    (False, (0, 1), (0,), True),
    (False, (0, 0), (0, 0), True),
    (False, (0, 0), (0, 1), True),
    (False, (0, 1), (0, 0), True),
    (False, (0, 1), (0, 1), True),
    (True, (0,), (0,), True),
    (True, (1,), (0,), False),
    (True, (1,), (1,), True),
    (True, (0, 0), (0,), True),
    (True, (1, 0), (0,), False),
    (True, (0, 1), (0,), True),
    (True, (0, 0), (0, 0), True),
    (True, (0, 0), (0, 1), True),
    (True, (0, 1), (0, 0), False),
    (True, (0, 1), (0, 1), True),
    (True, (0,), (0, 1), False),  # (0,) is "more final" than (0, 1)
]


@pytest.mark.parametrize(("stream", "g_producer", "g_consumer", "stale"), STALENESS_TABLE)
def test_staleness_table(
    push_to: PushTo,
    stream: bool,
    g_producer: tuple[int, ...],
    g_consumer: tuple[int, ...],
    stale: bool,
) -> None:
    """A consumer's input is stale iff the producer's generation, clipped to the port's
    run level, is not newer than the consumer's. A stale input makes the solver demand
    the producer; otherwise the consumer itself is the solution."""
    consumer_cls = StreamConsumer if stream else MonoConsumer
    with FlowHDL() as f:
        f.a = Source()
        f.b = consumer_cls(f.a)
    push_to(f.a, g_producer)
    push_to(f.b, g_consumer)
    assert f.a.generation == g_producer
    assert f.b.generation == g_consumer
    expected = [f.a] if stale else [f.b]
    assert list(f._flow._find_node_solution(f.b)) == expected


def test_minimum_run_level_per_port() -> None:
    """A ``stream_in`` parameter's port has minimum run level 1, others 0."""
    assert list(StreamConsumer()._minimum_run_level) == [1]
    assert list(MonoConsumer()._minimum_run_level) == [0]


# ---------------------------------------------------------------------- solver internals (§2.6)


@node
async def Identity(x: Any) -> Any:
    return x


def make_chain() -> tuple[Any, Any, Any, Any]:
    with FlowHDL() as f:
        f.n1 = Constant("Hello")
        f.n2 = Identity(f.n1)
        f.n3 = Identity(f.n2)
    return f, f.n1, f.n2, f.n3


def make_ring() -> tuple[Any, Any, Any, Any]:
    with FlowHDL() as f:
        f.n1 = Identity(f.n3)
        f.n2 = Identity(f.n1)
        f.n3 = Identity(f.n2)
    return f, f.n1, f.n2, f.n3


def test_solution_of_a_chain_follows_stale_edges_to_the_leaf() -> None:
    """Chain ``const → id → id`` with only the middle node holding ``(0,)``: solving the
    middle node demands the constant."""
    f, n1, n2, n3 = make_chain()
    n2.push_data(("Hello",))
    assert (n1.generation, n2.generation, n3.generation) == (None, (0,), None)
    assert list(f._flow._find_node_solution(n2)) == [n1]


def test_solution_in_a_ring_stops_at_the_first_non_stale_edge() -> None:
    """Ring of three identities (no defaults) with only the second holding data: both
    the first and the second node are solved by running the third."""
    f, n1, n2, n3 = make_ring()
    n2.push_data(("Hello",))
    assert list(f._flow._find_node_solution(n1)) == [n3]
    assert list(f._flow._find_node_solution(n2)) == [n3]


def test_condensed_tree_of_a_chain() -> None:
    """Each chain node is its own SCC without internal ports; the middle node's tree has
    exactly one dependency (the constant) which has none."""
    f, n1, n2, _ = make_chain()
    root = f._flow._condensed_tree(n2)
    assert root.head is n2
    assert dict(root.members) == {n2: []}
    deps = list(root.dependencies)
    assert len(deps) == 1
    assert deps[0].head is n1
    assert dict(deps[0].members) == {n1: []}
    assert len(list(deps[0].dependencies)) == 0


def test_condensed_tree_of_a_ring_is_one_scc() -> None:
    """A fresh ring is one SCC whose members each list port 0 as internal, with no
    dependencies."""
    f, n1, n2, n3 = make_ring()
    root = f._flow._condensed_tree(n1)
    assert root.head in (n1, n2, n3)
    assert {k: list(v) for k, v in dict(root.members).items()} == {n1: [0], n2: [0], n3: [0]}
    assert len(list(root.dependencies)) == 0


def test_draft_nodes_have_no_data() -> None:
    """Only finalized nodes store data: ``DraftNode.get_data`` raises
    ``NotImplementedError``."""
    with pytest.raises(NotImplementedError):
        Blank().get_data()
