"""Comparing two :class:`~flowtrace.diff.collect.Side` objects into a :class:`DiffReport`.

1. When both runs were read by the raw scan and rename automatic node ids the same
   way, their common prefix and suffix are found on the raw keys (equal keys mean
   equal lines) without rendering anything.
2. The rest — the middle, small when the runs differ in few places — is rendered, its
   lines interned as ints and aligned (:func:`flowtrace.diff.align.align`).
3. Each stretch that is not equal becomes a :class:`Divergence`; a stretch only in A
   whose lines are exactly a stretch only in B elsewhere is a ``moved`` pair (two
   evaluations that swapped places, say).
4. The runs' facts are compared (evaluations, values, errors, cycle breaks,
   cancellations, time per node).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Literal, TypeVar

from flowtrace.diff.align import Opcode, align, common_prefix, common_suffix
from flowtrace.diff.collect import Side
from flowtrace.diff.facts import RunFacts
from flowtrace.diff.model import (
    CancelDiff,
    CountDiff,
    CycleBreakDiff,
    DiffReport,
    Divergence,
    DivergenceKind,
    ErrorDiff,
    Generation,
    NodeTiming,
    RunRef,
    ValueDiff,
)

__all__ = ["compare", "DEFAULT_SLOWER", "DEFAULT_MIN_DELTA_NS"]

#: B's mean evaluation time over A's from which a node is flagged (and its inverse).
DEFAULT_SLOWER = 1.5
#: ... provided the means differ by at least this much (below it, it is noise).
DEFAULT_MIN_DELTA_NS = 100_000

#: Lines of each side shown per divergence.
_SHOWN = 8
#: Lines of a divergence scanned for the nodes and generations involved.
_SCANNED = 200
#: Largest stretch checked for a ``moved`` partner.
_MOVE_MAX = 2_000

K = TypeVar("K", bound=Hashable)


def compare(
    a: Side,
    b: Side,
    *,
    slower: float = DEFAULT_SLOWER,
    timing_checked: bool = False,
    min_delta_ns: int = DEFAULT_MIN_DELTA_NS,
    limit: int = 50,
    context: int = 3,
) -> DiffReport:
    """The report on runs ``a`` and ``b`` (see the module docstring). ``limit`` bounds
    the divergences and values listed (their counts are always complete)."""
    ops = _opcodes(a, b)
    divergences, lines_a, lines_b = _divergences(a, b, ops, limit, context)
    level = a.level
    scheduling = level != "evaluations"
    fa, fb = a.facts, b.facts
    values, value_count = _values(fa, fb, limit)
    return DiffReport(
        level=level,
        a=_ref(a),
        b=_ref(b),
        divergence_count=sum(1 for op in ops if op[0] != "equal"),
        divergences=tuple(divergences),
        evaluations=tuple(
            CountDiff(n, ca, cb)
            for n, ca, cb in _counts(fa.evaluations, fb.evaluations, _node_order(fa, fb))
        ),
        values=tuple(values),
        value_count=value_count,
        errors=tuple(
            ErrorDiff(node, gen, phase, text, ca, cb)
            for (node, gen, phase, text), ca, cb in _counts(fa.errors, fb.errors)
        ),
        cycle_breaks=tuple(
            CycleBreakDiff(node, members, ports, ca, cb)
            for (node, members, ports), ca, cb in _counts(fa.cycle_breaks, fb.cycle_breaks)
        )
        if scheduling
        else (),
        cancellations=tuple(
            CancelDiff(prod, gen, f"{what} by {', '.join(who)}", ca, cb)
            for (prod, gen, what, who), ca, cb in _counts(fa.cancellations, fb.cancellations)
        )
        if scheduling
        else (),
        timing=tuple(_timing(fa, fb, slower, min_delta_ns)),
        slower=slower,
        timing_checked=timing_checked,
        lines_differing=(lines_a, lines_b),
    )


# ----------------------------------------------------------------------------- lines


def _opcodes(a: Side, b: Side) -> list[Opcode]:
    na, nb = a.count, b.count
    p = s = 0
    if a.raw and b.raw and a.mapping == b.mapping:
        p, s = _raw_trim(a, b)
    a.collect_values(p, na - s)
    b.collect_values(p, nb - s)
    a.render(p, na - s)
    b.render(p, nb - s)
    table: dict[str | None, int] = {}
    ids_a = [table.setdefault(t, len(table)) for t in a.texts[p : na - s]]
    ids_b = [table.setdefault(t, len(table)) for t in b.texts[p : nb - s]]
    ops: list[Opcode] = []
    if p:
        ops.append(("equal", 0, p, 0, p))
    for tag, a0, a1, b0, b1 in align(ids_a, ids_b):
        ops.append((tag, a0 + p, a1 + p, b0 + p, b1 + p))
    if s:
        ops.append(("equal", na - s, na, nb - s, nb))
    return ops


def _raw_trim(a: Side, b: Side) -> tuple[int, int]:
    """Common prefix and suffix found on raw keys. A line whose key differs only in
    what the renderer leaves out (a flow id, a wall-clock time, an address in a repr)
    is rendered on both sides; when the texts agree the search goes on past it."""
    assert a.kinds is not None and b.kinds is not None
    assert a.keys is not None and b.keys is not None
    na, nb = a.count, b.count
    p = 0
    while True:
        p += min(
            common_prefix(a.kinds, b.kinds, p, na, p, nb),
            common_prefix(a.keys, b.keys, p, na, p, nb),
        )
        if p >= min(na, nb) or a.text(p) != b.text(p):
            break
        p += 1
    s = 0
    while True:
        s += min(
            common_suffix(a.kinds, b.kinds, p, na - s, p, nb - s),
            common_suffix(a.keys, b.keys, p, na - s, p, nb - s),
        )
        if s >= min(na, nb) - p or a.text(na - s - 1) != b.text(nb - s - 1):
            break
        s += 1
    return p, s


def _divergences(
    a: Side, b: Side, ops: list[Opcode], limit: int, context: int
) -> tuple[list[Divergence], int, int]:
    differing = [(k, op) for k, op in enumerate(ops) if op[0] != "equal"]
    lines_a = sum(op[2] - op[1] for _k, op in differing)
    lines_b = sum(op[4] - op[3] for _k, op in differing)
    moved = _moves(a, b, [op for _k, op in differing])
    out: list[Divergence] = []
    for index, (k, (tag, a0, a1, b0, b1)) in enumerate(differing[:limit]):
        start = a0 - context
        if k > 0:
            start = max(start, ops[k - 1][1])
        kind: DivergenceKind = (
            "moved"
            if index in moved
            else "changed"
            if tag == "replace"
            else "only in A"
            if tag == "delete"
            else "only in B"
        )
        nodes, gens = _involved(a, b, a0, a1, b0, b1, kind == "moved")
        out.append(
            Divergence(
                index=index,
                kind=kind,
                a_start=a0,
                a_end=a1,
                b_start=b0,
                b_end=b1,
                a_seq=a.seqs[a0] if a0 < a.count else None,
                b_seq=b.seqs[b0] if b0 < b.count else None,
                context=tuple(a.text(i) for i in range(max(0, start), a0)),
                a_lines=tuple(a.text(i) for i in range(a0, min(a1, a0 + _SHOWN))),
                b_lines=tuple(b.text(i) for i in range(b0, min(b1, b0 + _SHOWN))),
                nodes=nodes,
                generations=gens,
                moved_to=moved.get(index),
                a_after=a.text(a1) if a1 < a.count else None,
                b_after=b.text(b1) if b1 < b.count else None,
            )
        )
    return out, lines_a, lines_b


def _moves(a: Side, b: Side, differing: list[Opcode]) -> dict[int, int]:
    """Pairs (both ways) of a stretch only in A and a stretch only in B with the same
    lines: the same events at another place."""
    inserted: dict[tuple[str, ...], list[int]] = {}
    for k, (tag, _a0, _a1, b0, b1) in enumerate(differing):
        if tag == "insert" and b1 - b0 <= _MOVE_MAX:
            inserted.setdefault(tuple(b.text(i) for i in range(b0, b1)), []).append(k)
    pairs: dict[int, int] = {}
    if not inserted:
        return pairs
    for k, (tag, a0, a1, _b0, _b1) in enumerate(differing):
        if tag == "delete" and a1 - a0 <= _MOVE_MAX:
            partners = inserted.get(tuple(a.text(i) for i in range(a0, a1)))
            while partners:
                other = partners.pop(0)
                if other not in pairs:
                    pairs[k] = other
                    pairs[other] = k
                    break
    return pairs


def _involved(
    a: Side, b: Side, a0: int, a1: int, b0: int, b1: int, moved: bool
) -> tuple[tuple[str, ...], tuple[tuple[str, Generation], ...]]:
    """Nodes (and their generations) of the differing lines; for a moved stretch also
    of the line the other side has in its place."""
    nodes: dict[str, None] = {}
    gens: dict[tuple[str, Generation], None] = {}
    positions: list[tuple[Side, int]] = [
        *((a, i) for i in range(a0, min(a1, a0 + _SCANNED))),
        *((b, i) for i in range(b0, min(b1, b0 + _SCANNED))),
    ]
    if moved:
        if a0 == a1 and a1 < a.count:
            positions.append((a, a1))
        if b0 == b1 and b1 < b.count:
            positions.append((b, b1))
    for side, i in positions:
        node = side.node(i)
        if node is None:
            continue
        nodes.setdefault(node)
        gen = side.generation(i)
        if gen is not None and sum(1 for n, _g in gens if n == node) < 3:
            gens.setdefault((node, gen))
    return tuple(nodes), tuple(gens)


def _ref(side: Side) -> RunRef:
    return RunRef(
        side.path,
        side.run_number,
        side.run_id,
        side.count,
        side.events,
        side.facts.outcome,
        side.duration_ns,
    )


# ----------------------------------------------------------------------------- facts


def _counts(
    a: dict[K, int], b: dict[K, int], order: Iterable[K] | None = None
) -> list[tuple[K, int, int]]:
    """``(key, count in a, count in b)`` for every key whose counts differ."""
    keys = dict.fromkeys([*(order or ()), *a, *b])
    return [(k, a.get(k, 0), b.get(k, 0)) for k in keys if a.get(k, 0) != b.get(k, 0)]


def _node_order(fa: RunFacts, fb: RunFacts) -> list[str]:
    return list(dict.fromkeys([*fa.nodes, *fb.nodes]))


def _values(fa: RunFacts, fb: RunFacts, limit: int) -> tuple[list[ValueDiff], int]:
    out: list[ValueDiff] = []
    count = 0
    for key in dict.fromkeys([*fa.values, *fb.values]):
        va, vb = fa.values.get(key), fb.values.get(key)
        if va != vb:
            count += 1
            if len(out) < limit:
                out.append(ValueDiff(key[0], key[1], va, vb))
    return out, count


def _timing(fa: RunFacts, fb: RunFacts, slower: float, min_delta_ns: int) -> list[NodeTiming]:
    out: list[NodeTiming] = []
    for node in dict.fromkeys([*_node_order(fa, fb), *fa.timed, *fb.timed]):
        a_ns, a_n = fa.time_ns.get(node, 0), fa.timed.get(node, 0)
        b_ns, b_n = fb.time_ns.get(node, 0), fb.timed.get(node, 0)
        if not a_n and not b_n:
            continue
        ratio: float | None = None
        flag: Literal["slower", "faster"] | None = None
        if a_n and b_n:
            a_mean, b_mean = a_ns / a_n, b_ns / b_n
            if a_mean > 0:
                ratio = b_mean / a_mean
            if b_mean - a_mean >= min_delta_ns and (a_mean <= 0 or b_mean / a_mean >= slower):
                flag = "slower"
            elif a_mean - b_mean >= min_delta_ns and (b_mean <= 0 or a_mean / b_mean >= slower):
                flag = "faster"
        out.append(NodeTiming(node, a_ns, a_n, b_ns, b_n, ratio, flag))
    return out
