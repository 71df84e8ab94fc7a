"""Aligning two sequences of line ids: where they agree, and what changed in between.

The diff of two runs must tolerate insertions (one extra generation in B is that, not
"every later line differs") and stay near-linear on big traces that differ in few
places. The method, over sequences of small ints (interned canonical lines):

1. the common prefix and suffix are cut off first, by comparing slices (a C-level
   comparison, a few milliseconds for a million lines);
2. what remains is split at *anchors* — lines that occur exactly once in each side —
   kept in the longest order-preserving chain (patience diff: a longest increasing
   subsequence, O(k log k)); each gap between anchors is aligned the same way;
3. a gap with no anchor, or a small one, is aligned by Myers' O((N+M)·D) greedy
   algorithm, which finds a shortest edit script; it is given a budget of steps, and
   a gap that needs more edits than the budget allows is reported as one replaced
   block (two traces that share nothing there).

Canonical lines carry generations (``b started (3,)``), so traces of the same program
are dense in anchors and step 3 only ever sees short gaps.

The result is a list of opcodes ``(tag, a0, a1, b0, b1)`` covering both sequences in
order, as :meth:`difflib.SequenceMatcher.get_opcodes` gives them: ``equal``,
``replace``, ``delete`` (only in A) and ``insert`` (only in B).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from typing import Literal, TypeAlias, TypeVar

__all__ = ["Tag", "Opcode", "align", "common_prefix", "common_suffix"]

Tag: TypeAlias = Literal["equal", "replace", "delete", "insert"]
#: ``(tag, a0, a1, b0, b1)``: ``a[a0:a1]`` and ``b[b0:b1]``.
Opcode: TypeAlias = tuple[Tag, int, int, int, int]
#: A matching block ``(i, j, n)``: ``a[i:i+n] == b[j:j+n]``.
_Block: TypeAlias = tuple[int, int, int]

T = TypeVar("T")

#: Gaps at most this long (both sides together) go straight to Myers.
_SMALL = 64
#: Steps (diagonal extensions) a Myers alignment of one gap may take.
_BUDGET = 4_000_000
#: Nesting depth of anchor splitting before a gap is handed to Myers whatever its size.
_MAX_DEPTH = 32
_CHUNK = 256


def common_prefix(a: Sequence[T], b: Sequence[T], a0: int, a1: int, b0: int, b1: int) -> int:
    """Length of the longest common prefix of ``a[a0:a1]`` and ``b[b0:b1]``."""
    n = min(a1 - a0, b1 - b0)
    i = 0
    step = _CHUNK
    while i < n:
        j = min(n, i + step)
        if a[a0 + i : a0 + j] == b[b0 + i : b0 + j]:
            i = j
            step *= 2
            continue
        if j - i <= _CHUNK:
            while a[a0 + i] == b[b0 + i]:
                i += 1
            return i
        step = _CHUNK
    return n


def common_suffix(a: Sequence[T], b: Sequence[T], a0: int, a1: int, b0: int, b1: int) -> int:
    """Length of the longest common suffix of ``a[a0:a1]`` and ``b[b0:b1]``."""
    n = min(a1 - a0, b1 - b0)
    i = 0
    step = _CHUNK
    while i < n:
        j = min(n, i + step)
        if a[a1 - j : a1 - i] == b[b1 - j : b1 - i]:
            i = j
            step *= 2
            continue
        if j - i <= _CHUNK:
            while a[a1 - 1 - i] == b[b1 - 1 - i]:
                i += 1
            return i
        step = _CHUNK
    return n


def align(a: Sequence[int], b: Sequence[int], *, budget: int = _BUDGET) -> list[Opcode]:
    """Opcodes turning ``a`` into ``b`` (see the module docstring)."""
    blocks: list[_Block] = []
    _region(a, b, 0, len(a), 0, len(b), blocks, 0, budget)
    return _opcodes(_merged(blocks), len(a), len(b))


# ----------------------------------------------------------------------------- regions


def _region(
    a: Sequence[int],
    b: Sequence[int],
    a0: int,
    a1: int,
    b0: int,
    b1: int,
    out: list[_Block],
    depth: int,
    budget: int,
) -> None:
    """Append the matching blocks of ``a[a0:a1]`` and ``b[b0:b1]`` to ``out``, in order."""
    p = common_prefix(a, b, a0, a1, b0, b1)
    if p:
        out.append((a0, b0, p))
        a0 += p
        b0 += p
    s = common_suffix(a, b, a0, a1, b0, b1)
    a1 -= s
    b1 -= s
    if a0 < a1 and b0 < b1:
        size = (a1 - a0) + (b1 - b0)
        anchors = None
        if size > _SMALL and depth < _MAX_DEPTH:
            anchors = _anchors(a, b, a0, a1, b0, b1)
        if anchors:
            i, j = a0, b0
            for ai, bj in anchors:
                _region(a, b, i, ai, j, bj, out, depth + 1, budget)
                out.append((ai, bj, 1))
                i, j = ai + 1, bj + 1
            _region(a, b, i, a1, j, b1, out, depth + 1, budget)
        else:
            max_d = max(16, budget // size)
            found = _myers(a, b, a0, a1, b0, b1, max_d)
            if found is not None:
                out.extend(found)
    if s:
        out.append((a1, b1, s))


def _anchors(
    a: Sequence[int], b: Sequence[int], a0: int, a1: int, b0: int, b1: int
) -> list[tuple[int, int]]:
    """Lines unique in both ranges, in the longest chain ordered in both (patience)."""
    count_a = Counter(a[a0:a1])
    count_b = Counter(b[b0:b1])
    where_b: dict[int, int] = {}
    for j in range(b0, b1):
        v = b[j]
        if count_b[v] == 1 and count_a.get(v) == 1:
            where_b[v] = j
    if not where_b:
        return []
    pairs = [(i, where_b[v]) for i in range(a0, a1) if (v := a[i]) in where_b]
    return _longest_chain(pairs)


def _longest_chain(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of ``pairs`` (increasing in the first item) that is also
    increasing in the second: patience sorting with back-pointers."""
    tails: list[int] = []  # second item of the last pair of each pile
    tops: list[int] = []  # index in pairs of that pair
    back: list[int] = [-1] * len(pairs)
    for index, (_i, j) in enumerate(pairs):
        pile = bisect.bisect_left(tails, j)
        if pile:
            back[index] = tops[pile - 1]
        if pile == len(tails):
            tails.append(j)
            tops.append(index)
        else:
            tails[pile] = j
            tops[pile] = index
    chain: list[tuple[int, int]] = []
    k = tops[-1] if tops else -1
    while k >= 0:
        chain.append(pairs[k])
        k = back[k]
    chain.reverse()
    return chain


def _myers(
    a: Sequence[int], b: Sequence[int], a0: int, a1: int, b0: int, b1: int, max_d: int
) -> list[_Block] | None:
    """Matching blocks of a shortest edit script (Myers 1986, greedy forward pass),
    or ``None`` when it needs more than ``max_d`` edits."""
    n = a1 - a0
    m = b1 - b0
    limit = min(n + m, max_d)
    offset = limit + 1
    v = [0] * (2 * limit + 3)
    history: list[list[int]] = []
    for d in range(limit + 1):
        history.append(v[offset - d - 1 : offset + d + 2])
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[offset + k - 1] < v[offset + k + 1]):
                x = v[offset + k + 1]
            else:
                x = v[offset + k - 1] + 1
            y = x - k
            while x < n and y < m and a[a0 + x] == b[b0 + y]:
                x += 1
                y += 1
            v[offset + k] = x
            if x >= n and y >= m:
                return _backtrack(history, d, n, m, a0, b0)
    return None


def _backtrack(
    history: list[list[int]], d_end: int, n: int, m: int, a0: int, b0: int
) -> list[_Block]:
    """The snakes of the path found by :func:`_myers`, first to last."""
    blocks: list[_Block] = []
    x, y = n, m
    for d in range(d_end, 0, -1):
        prev = history[d]  # V before step d, indexed k + d + 1 for k in [-d-1, d+1]
        k = x - y

        def at(kk: int, prev: list[int] = prev, d: int = d) -> int:
            return prev[kk + d + 1]

        if k == -d or (k != d and at(k - 1) < at(k + 1)):
            prev_k = k + 1
            px = at(prev_k)
            mx, my = px, px - prev_k + 1
        else:
            prev_k = k - 1
            px = at(prev_k)
            mx, my = px + 1, px - prev_k
        if x > mx:
            blocks.append((a0 + mx, b0 + my, x - mx))
        x, y = px, px - prev_k
    if x > 0:
        blocks.append((a0, b0, x))
    blocks.reverse()
    return blocks


# ----------------------------------------------------------------------------- output


def _merged(blocks: list[_Block]) -> list[_Block]:
    out: list[_Block] = []
    for i, j, n in blocks:
        if n <= 0:
            continue
        if out:
            pi, pj, pn = out[-1]
            if pi + pn == i and pj + pn == j:
                out[-1] = (pi, pj, pn + n)
                continue
        out.append((i, j, n))
    return out


def _opcodes(blocks: list[_Block], len_a: int, len_b: int) -> list[Opcode]:
    ops: list[Opcode] = []
    i = j = 0
    for bi, bj, n in [*blocks, (len_a, len_b, 0)]:
        tag: Tag | None = None
        if i < bi and j < bj:
            tag = "replace"
        elif i < bi:
            tag = "delete"
        elif j < bj:
            tag = "insert"
        if tag is not None:
            ops.append((tag, i, bi, j, bj))
        if n:
            ops.append(("equal", bi, bi + n, bj, bj + n))
        i, j = bi + n, bj + n
    return ops
