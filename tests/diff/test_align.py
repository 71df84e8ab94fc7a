"""The sequence alignment under ``flowtrace diff``: a shortest edit script on small
inputs, insertions kept local, and near-linear work on long sequences."""

from __future__ import annotations

import random

from flowtrace.diff.align import Opcode, align, common_prefix, common_suffix


def _apply(ops: list[Opcode], a: list[int], b: list[int]) -> list[int]:
    out: list[int] = []
    pos_a = pos_b = 0
    for tag, a0, a1, b0, b1 in ops:
        assert (a0, b0) == (pos_a, pos_b), "opcodes must cover both sequences in order"
        if tag == "equal":
            assert a[a0:a1] == b[b0:b1]
        out.extend(b[b0:b1])
        pos_a, pos_b = a1, b1
    assert (pos_a, pos_b) == (len(a), len(b))
    return out


def _lcs(a: list[int], b: list[int]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b):
            cur = row[j + 1]
            row[j + 1] = prev + 1 if x == y else max(row[j + 1], row[j])
            prev = cur
    return row[-1]


def test_identical_sequences_are_one_equal_stretch() -> None:
    a = list(range(1000))
    assert align(a, list(a)) == [("equal", 0, 1000, 0, 1000)]


def test_an_insertion_is_an_insertion_not_every_later_line_differing() -> None:
    a = list(range(10_000))
    b = [*a[:5000], -1, -2, *a[5000:]]
    assert align(a, b) == [
        ("equal", 0, 5000, 0, 5000),
        ("insert", 5000, 5000, 5000, 5002),
        ("equal", 5000, 10_000, 5002, 10_002),
    ]


def test_alignment_keeps_as_many_lines_equal_as_possible_on_small_inputs() -> None:
    rng = random.Random(7)
    for _ in range(1500):
        k = rng.randrange(1, 6)
        a = [rng.randrange(k) for _ in range(rng.randrange(30))]
        b = [rng.randrange(k) for _ in range(rng.randrange(30))]
        ops = align(a, b)
        assert _apply(ops, a, b) == b
        assert sum(a1 - a0 for tag, a0, a1, _b0, _b1 in ops if tag == "equal") == _lcs(a, b)


def test_two_swapped_blocks_keep_one_block_equal() -> None:
    a = [1, 2, 3, 10, 11, 12, 20, 21, 22, 4, 5]
    b = [1, 2, 3, 20, 21, 22, 10, 11, 12, 4, 5]
    ops = align(a, b)
    assert _apply(ops, a, b) == b
    assert [op[0] for op in ops] == ["equal", "delete", "equal", "insert", "equal"]


def test_long_sequences_with_repeated_lines_and_a_few_edits_align_exactly() -> None:
    rng = random.Random(3)
    # a trace-like sequence: unique lines (with generations) between repeated ones
    a = [x for g in range(20_000) for x in (g + 100, 1, 2, 3)]
    b = list(a)
    for pos in (10, 40_000, 79_990):
        b.insert(pos, -pos)
    del b[50_000:50_004]
    ops = align(a, b)
    assert _apply(ops, a, b) == b
    assert sum(a1 - a0 for tag, a0, a1, _b0, _b1 in ops if tag != "equal") == 4
    assert sum(b1 - b0 for tag, _a0, _a1, b0, b1 in ops if tag != "equal") == 3
    assert rng  # seeded for reproducibility of the layout above


def test_sequences_sharing_nothing_are_one_replaced_block() -> None:
    assert align([1, 2, 3] * 200, [4, 5] * 300) == [("replace", 0, 600, 0, 600)]


def test_common_prefix_and_suffix_find_the_first_and_last_difference() -> None:
    a = list(range(100_000))
    b = list(a)
    b[70_123] = -1
    assert common_prefix(a, b, 0, len(a), 0, len(b)) == 70_123
    assert common_suffix(a, b, 0, len(a), 0, len(b)) == 100_000 - 70_124
    assert common_prefix(a, a[:10], 0, len(a), 0, 10) == 10
