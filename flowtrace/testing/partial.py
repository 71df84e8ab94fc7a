"""Partial-order assertions: pin what must happen in order, leave open what may not.

A full snapshot pins one total order. When concurrency leaves part of the order open
by design (two independent branches, say), a test should say exactly that: the
expected sequence lists lines, and a *set* of lines means "these, next, in any order"
(the convention of Trio's test helpers)::

    assert_order(
        cap.lines("evaluations"),
        [
            "a started (0,)",
            {"b started (0,)", "c started (0,)"},   # any order
            "d started (0,)",
        ],
        only_listed=True,
    )

By default the expected sequence must cover the actual lines exactly. With
``only_listed=True`` the actual lines are first reduced to those the expectation
mentions, so a test can pin the relative order of a few events in a busy run.

An expected line also matches an actual line that goes on with ``; `` and more: the
facts an event implies, which the ``scheduling`` and ``full`` levels spell out after
its own text (``a started (0,); now executing``), so ``"a started (0,)"`` is written
the same at every level.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["Expected", "OrderMismatch", "match_order", "assert_order"]

#: One step of an expected order: a line, or a set of lines that may come in any order.
Step: TypeAlias = str | Set[str]
Expected: TypeAlias = Sequence[Step]

_CONTEXT = 3


@dataclass(frozen=True, slots=True)
class OrderMismatch:
    """Where and how the actual order left the expected one."""

    #: Index of the first actual line that did not fit (``len(actual)`` if lines ran out).
    position: int
    #: Index of the expected step that failed (``len(expected)`` for surplus lines).
    step: int
    actual: tuple[str, ...]
    expected: tuple[Step, ...]
    reason: str

    def message(self) -> str:
        """A readable report: the failing step, what came instead, and the actual order
        around the failure with the offending lines marked."""
        lines = [f"execution order differs at line {self.position}: {self.reason}"]
        if self.step < len(self.expected):
            lines.append(f"  expected: {_step_text(self.expected[self.step])}")
        width = len(_step_size(self.expected[self.step])) if self.step < len(self.expected) else 1
        got = list(self.actual[self.position : self.position + width])
        lines.append(f"  got:      {got!r}" if got else "  got:      (no more lines)")
        lines.append("actual order:")
        start = max(0, self.position - _CONTEXT)
        stop = min(len(self.actual), self.position + width + _CONTEXT)
        if start > 0:
            lines.append("         …")
        for i in range(start, stop):
            mark = ">" if self.position <= i < self.position + width else " "
            lines.append(f"  {mark} {i:>4}  {self.actual[i]}")
        if stop < len(self.actual):
            lines.append("         …")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.message()


def _step_size(step: Step) -> list[str]:
    return [step] if isinstance(step, str) else sorted(step)


def _step_text(step: Step) -> str:
    if isinstance(step, str):
        return repr(step)
    return "any order of {" + ", ".join(repr(s) for s in sorted(step)) + "}"


def _check_expected(expected: Expected) -> tuple[Step, ...]:
    steps: list[Step] = []
    for i, step in enumerate(expected):
        if isinstance(step, str):
            steps.append(step)
        elif isinstance(step, Set) and all(isinstance(s, str) for s in step):
            if not step:
                raise ValueError(f"expected step {i} is an empty set: it would match nothing")
            steps.append(frozenset(step))
        else:
            raise TypeError(
                f"expected step {i} is {step!r}: use a line (str) or a set of lines "
                "that may come in any order"
            )
    return tuple(steps)


def match_order(
    actual: Sequence[str], expected: Expected, *, only_listed: bool = False
) -> OrderMismatch | None:
    """``None`` when ``actual`` follows ``expected``, else the first :class:`OrderMismatch`.

    A ``str`` step matches the next line when it is that line, or that line up to a
    ``; `` (what follows is the facts the event implies); a set of ``n`` lines matches
    the next ``n`` lines in any order (each exactly once). ``only_listed`` ignores
    actual lines that no step mentions.
    """
    steps = _check_expected(expected)
    mentioned = {line for step in steps for line in _step_size(step)}
    lines = tuple(actual)
    keys = tuple(_key(line, mentioned) for line in lines)
    if only_listed:
        kept = [(line, key) for line, key in zip(lines, keys, strict=True) if key in mentioned]
        lines = tuple(line for line, _ in kept)
        keys = tuple(key for _, key in kept)
    pos = 0
    for index, step in enumerate(steps):
        want = _step_size(step)
        window = keys[pos : pos + len(want)]
        if len(window) < len(want):
            missing = Counter(want) - Counter(window)
            return OrderMismatch(
                pos,
                index,
                lines,
                steps,
                f"the run ended before {', '.join(repr(m) for m in sorted(missing))}",
            )
        if Counter(window) != Counter(want):
            if isinstance(step, str):
                reason = f"expected {step!r}"
            else:
                unexpected = sorted((Counter(window) - Counter(want)).elements())
                reason = (
                    f"{', '.join(repr(u) for u in unexpected)} came before all of "
                    f"{_step_text(step)} had happened"
                )
            return OrderMismatch(pos, index, lines, steps, reason)
        pos += len(want)
    if pos < len(lines):
        return OrderMismatch(
            pos,
            len(steps),
            lines,
            steps,
            f"{len(lines) - pos} more line(s) than expected, starting with {lines[pos]!r}",
        )
    return None


def _key(line: str, mentioned: set[str]) -> str:
    """What ``line`` is compared as: itself, or its longest start before a ``; `` that
    the expectation mentions."""
    if line in mentioned:
        return line
    cut = len(line)
    while (cut := line.rfind("; ", 0, cut)) > 0:
        if line[:cut] in mentioned:
            return line[:cut]
    return line


def assert_order(actual: Sequence[str], expected: Expected, *, only_listed: bool = False) -> None:
    """Fail with a readable message unless ``actual`` follows ``expected``
    (see :func:`match_order`)."""
    mismatch = match_order(actual, expected, only_listed=only_listed)
    if mismatch is not None:
        raise AssertionError(mismatch.message())
