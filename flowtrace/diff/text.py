"""The first divergence between two canonical texts (what a snapshot test compares).

A failed execution-order snapshot has no events, only two texts as
:func:`flowtrace.testing.render_order` writes them: ``"  13  out emitted (1,): 6"``
lines, maybe ``== run N ==`` separators. They are aligned without their numbers (an
inserted event would renumber every later line) by :func:`flowtrace.diff.align.align`,
and the nodes involved are the node ids the texts themselves declare (``flow
started: [a, b]; …``; a schema 1.x text also had ``a registered: …`` lines) that the
differing lines mention.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from flowtrace.diff.align import align

__all__ = ["TextDivergence", "first_divergence", "divergence_summary", "printable"]

_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}
_CONTROL.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b``), so text from a trace prints
    as what it is and never acts on the terminal."""
    return text.translate(_CONTROL)


_NUMBERED = re.compile(r"^\s*(\d+)  (.*)$")
_FLOW_STARTED = re.compile(r"^flow started: \[([^\]]*)\](?:; |$)")
_REGISTERED = re.compile(r"^(\S+) registered: ")
_GENERATION = re.compile(r"\((\d+(?:, \d+)*),?\)")


@dataclass(frozen=True)
class TextDivergence:
    """Where two canonical texts part ways. ``expected_line``/``actual_line`` are line
    numbers in each text (from 1, as an editor shows them); ``expected``/``actual`` the
    differing lines (empty: nothing there) without their numbers, ``expected_text`` /
    ``actual_text`` the same lines as written; ``number`` the event's position as the
    texts number it, when they do; ``nodes`` the node ids the differing lines name,
    with the generations they mention."""

    expected_line: int
    actual_line: int
    expected: tuple[str, ...]
    actual: tuple[str, ...]
    number: int | None
    nodes: tuple[str, ...]
    generations: tuple[str, ...]
    expected_text: tuple[str, ...] = ()
    actual_text: tuple[str, ...] = ()


def _split(text: str) -> tuple[list[str], list[int | None]]:
    bodies: list[str] = []
    numbers: list[int | None] = []
    for line in text.splitlines():
        match = _NUMBERED.match(line)
        if match is None:
            bodies.append(line)
            numbers.append(None)
        else:
            bodies.append(match.group(2))
            numbers.append(int(match.group(1)))
    return bodies, numbers


def _node_ids(*texts: list[str]) -> list[str]:
    ids: dict[str, None] = {}
    for lines in texts:
        for line in lines:
            started = _FLOW_STARTED.match(line)
            if started is not None:
                for node in started.group(1).split(", "):
                    if node:
                        ids.setdefault(node)
                continue
            registered = _REGISTERED.match(line)
            if registered is not None:
                ids.setdefault(registered.group(1))
    return sorted(ids, key=len, reverse=True)


def _mentioned(line: str, ids: list[str]) -> list[str]:
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for node in ids:  # longest first, so "a#1" is not also counted as "a"
        for match in re.finditer(rf"(?<![\w#.]){re.escape(node)}(?![\w#])", line):
            span = match.span()
            if any(s < span[1] and span[0] < e for s, e in taken):
                continue
            taken.append(span)
            found.append((span[0], node))
    return [node for _pos, node in sorted(found)]


def _differing_pieces(expected: Sequence[str], actual: Sequence[str]) -> list[str]:
    """What the nodes and generations of a divergence are read from: the ``; ``-parts
    of its lines found on one side only (a line spells out what its event implies
    after ``; ``, and a flow start its whole graph: a change names what changed), or
    the lines themselves when one side is empty or no part differs."""
    if not expected or not actual:
        return [*expected, *actual]
    exp_parts = [part for line in expected for part in line.split("; ")]
    act_parts = [part for line in actual for part in line.split("; ")]
    only = [p for p in exp_parts if p not in act_parts]
    only += [p for p in act_parts if p not in exp_parts]
    return only or [*expected, *actual]


def first_divergence(expected: str, actual: str) -> TextDivergence | None:
    """The first place where ``actual`` departs from ``expected``, or ``None`` when the
    texts agree line for line (numbers aside)."""
    exp_lines, exp_numbers = _split(expected)
    act_lines, act_numbers = _split(actual)
    table: dict[str, int] = {}
    exp_ids = [table.setdefault(line, len(table)) for line in exp_lines]
    act_ids = [table.setdefault(line, len(table)) for line in act_lines]
    for tag, e0, e1, a0, a1 in align(exp_ids, act_ids):
        if tag == "equal":
            continue
        exp_part = tuple(exp_lines[e0:e1])
        act_part = tuple(act_lines[a0:a1])
        ids = _node_ids(exp_lines, act_lines)
        nodes: dict[str, None] = {}
        gens: dict[str, None] = {}
        for piece in _differing_pieces(exp_part[:20], act_part[:20]):
            for node in _mentioned(piece, ids):
                nodes.setdefault(node)
            for match in _GENERATION.finditer(piece):
                gens.setdefault(match.group(0))
        number = exp_numbers[e0] if e0 < len(exp_numbers) else None
        if number is None and a0 < len(act_numbers):
            number = act_numbers[a0]
        return TextDivergence(
            e0 + 1,
            a0 + 1,
            exp_part,
            act_part,
            number,
            tuple(nodes),
            tuple(gens),
            tuple(expected.splitlines()[e0:e1]),
            tuple(actual.splitlines()[a0:a1]),
        )
    return None


def divergence_summary(expected: str, actual: str, *, shown: int = 2) -> list[str]:
    """A few lines saying where ``actual`` departs from ``expected`` first (nothing when
    they agree), for the top of a failed snapshot assertion: where and which nodes,
    then the lines as written, ``-`` the snapshot's and ``+`` the received ones (as
    syrupy marks them)."""
    d = first_divergence(expected, actual)
    if d is None:
        return []
    where = f"event {d.number}" if d.number is not None else f"line {d.expected_line}"
    nodes = ", ".join(d.nodes) or "no node"
    if d.generations:
        nodes += f" at {', '.join(d.generations[:4])}"
    out = [
        f"first divergence at {where} (snapshot line {d.expected_line}, received line "
        f"{d.actual_line}); nodes: {nodes}"
    ]
    for mark, lines in (("-", d.expected_text), ("+", d.actual_text)):
        if not lines:
            out.append(f"{mark} (nothing here)")
        out.extend(f"{mark} {line}" for line in lines[:shown])
        if len(lines) > shown:
            out.append(f"{mark} … {len(lines) - shown} more line(s)")
    return out
