"""Generation arithmetic (compatibility §2): tables and invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowtrace.engine.generation import (
    Generation,
    clip_generation,
    cmp_generation,
    inc_generation,
    main_generation,
    parent_generation,
    stitched_generation,
)

gens = st.one_of(st.none(), st.lists(st.integers(0, 4), min_size=1, max_size=3).map(tuple))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (None, None, 0),
        (None, (0,), -1),
        ((0,), None, 1),
        ((1,), (1, 5), 1),
        ((1, 5), (1, 0), 1),
        ((1, 0), (0,), 1),
        ((0,), (0, 9), 1),
        ((), (5, 5), 1),
        ((2,), (2,), 0),
        ((0, 1), (0, 2), -1),
    ],
)
def test_cmp_generation_orders_prefixes_as_more_final(
    a: Generation, b: Generation, expected: int
) -> None:
    assert cmp_generation(a, b) == expected
    assert cmp_generation(b, a) == -expected


@pytest.mark.parametrize(
    ("gen", "rl", "expected"),
    [
        (None, 0, (0,)),
        (None, 1, (0, 0)),
        (None, 2, (0, 0, 0)),
        ((0,), 0, (1,)),
        ((3,), 0, (4,)),
        ((0, 0), 0, (0,)),
        ((1, 2), 0, (1,)),
        ((0,), 1, (1, 0)),
        ((1, 2), 1, (1, 3)),
        ((0, 0, 0), 1, (0, 0)),
        ((0, 0), 2, (0, 1, 0)),
        ((1,), 2, (2, 0, 0)),
        ((0, 0, 0), 0, (0,)),
        ((2, 5), 2, (2, 6, 0)),
    ],
)
def test_inc_generation_table(gen: Generation, rl: int, expected: tuple[int, ...]) -> None:
    assert inc_generation(gen, rl) == expected


@pytest.mark.parametrize(
    ("gen", "rl", "expected"),
    [
        (None, 0, None),
        ((0,), 0, (0,)),
        ((0, 0), 0, None),
        ((1, 0), 0, (0,)),
        ((0, 3), 0, None),
        ((1, 2, 3), 0, (0,)),
        ((1, 2, 3), 1, (1, 1)),
        ((2, 0, 1), 1, (1,)),
        ((0, 0, 0), 1, None),
        ((2,), 1, (2,)),
        ((3, 4), 1, (3, 4)),
    ],
)
def test_clip_generation_table(gen: Generation, rl: int, expected: Generation) -> None:
    assert clip_generation(gen, rl) == expected


@given(gens, st.integers(0, 2))
def test_inc_is_the_smallest_newer_generation_at_its_level(gen: Generation, rl: int) -> None:
    nxt = inc_generation(gen, rl)
    assert len(nxt) == rl + 1
    assert cmp_generation(nxt, gen) == 1


@given(gens, st.integers(0, 2))
def test_clip_never_exceeds_its_input_or_level(gen: Generation, rl: int) -> None:
    clipped = clip_generation(gen, rl)
    assert cmp_generation(clipped, gen) <= 0
    if clipped is not None:
        assert len(clipped) <= rl + 1
        assert gen is not None and len(clipped) <= len(gen)


@given(gens, gens)
def test_cmp_is_antisymmetric(a: Generation, b: Generation) -> None:
    assert cmp_generation(a, b) == -cmp_generation(b, a)


def test_stitched_main_and_parent() -> None:
    assert stitched_generation(None, 0) is None
    assert stitched_generation(None, 2) == (1,)
    assert stitched_generation((), 3) == ()
    assert stitched_generation((1, 0), 1) == (2, 0)
    assert stitched_generation((4,), 0) == (4,)
    assert main_generation((3, 7)) == (3,)
    assert main_generation(None) is None
    assert parent_generation((1,)) == ()
    assert parent_generation((1, 2)) == (1,)
    assert parent_generation(()) is None
    assert parent_generation(None) is None


def test_flowno_helper_import_path() -> None:
    from flowtrace.utilities import helpers

    assert helpers.inc_generation((0,), 1) == (1, 0)
    assert helpers.cmp_generation is cmp_generation
