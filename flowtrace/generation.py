"""Generation arithmetic, shared by the engine and replay: ordering and advancing outputs.

A *generation* is ``None`` (nothing produced yet) or a non-empty tuple of non-negative
ints: ``(k,)`` is the k-th complete result (run level 0) and ``(k, j)`` the j-th stream
item of the k-th run (run level 1). The helpers below are Flowno's (compatibility §2),
re-derived from their definitions; they are pure and O(length of the tuple).

Ordering rules of :func:`cmp_generation`: ``None`` is smallest; tuples compare element
by element; when one is a prefix of the other the *shorter* one is greater ("more
final"), so ``(1,) > (1, 5) > (1, 0) > (0,)`` and ``()`` is greater than every non-empty
tuple, which is why ``()`` works as "no limit".
"""

from __future__ import annotations

from typing import TypeAlias

__all__ = [
    "Generation",
    "cmp_generation",
    "inc_generation",
    "clip_generation",
    "stitched_generation",
    "main_generation",
    "parent_generation",
]

Generation: TypeAlias = tuple[int, ...] | None


def cmp_generation(a: Generation, b: Generation) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b``."""
    if a is None:
        return 0 if b is None else -1
    if b is None:
        return 1
    for x, y in zip(a, b, strict=False):
        if x != y:
            return -1 if x < y else 1
    la, lb = len(a), len(b)
    if la == lb:
        return 0
    # A prefix is the more final generation: the shorter tuple is greater.
    return 1 if la < lb else -1


def inc_generation(gen: Generation, run_level: int = 0) -> tuple[int, ...]:
    """The smallest generation newer than ``gen`` at ``run_level`` (length ``rl + 1``)."""
    length = run_level + 1
    if gen is None:
        return (0,) * length
    n = len(gen)
    if n > length:
        return gen[:length]
    if n == length:
        return (*gen[:-1], gen[-1] + 1)
    return (*gen[:-1], gen[-1] + 1) + (0,) * (length - n)


def clip_generation(gen: Generation, run_level: int) -> Generation:
    """The newest generation of length ≤ ``rl + 1`` that is not newer than ``gen``:
    what a consumer port at ``run_level`` may treat as complete."""
    if gen is None:
        return None
    length = run_level + 1
    if len(gen) <= length:
        return gen
    for i in range(length - 1, -1, -1):
        if gen[i] > 0:
            return (*gen[:i], gen[i] - 1)
    return None


def stitched_generation(gen: Generation, stitch: int) -> Generation:
    """``gen`` as seen through a port whose cycle was broken ``stitch`` times: the
    first element shifted by ``stitch`` (``None`` becomes ``(stitch - 1,)``)."""
    if gen is None:
        return None if stitch == 0 else (stitch - 1,)
    if not gen or stitch == 0:
        return gen
    return (gen[0] + stitch, *gen[1:])


def main_generation(gen: Generation) -> Generation:
    """The run-level-0 part: ``(k,)`` for ``(k, j)``."""
    if not gen:
        return gen
    return gen[:1]


def parent_generation(gen: Generation) -> Generation:
    """``gen`` without its last element (``None`` for ``None`` and ``()``)."""
    if not gen:
        return None
    return gen[:-1]
