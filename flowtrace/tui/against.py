"""``flowtrace tui A --against B``: the debugger on run A, positioned where B differs.

A :class:`Comparison` holds the :class:`~flowtrace.diff.DiffReport` of the two runs
and both runs' navigators; the app shows one side at a time and toggles (``a``), and
steps from divergence to divergence (``v`` / ``V``) on whichever side is shown. Each
divergence knows the seq of its first event in each run, so stepping is a jump of the
navigator (kept in its history: backspace returns). No Textual here: the keys are
tested on this model directly, and the app only repaints.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Literal

from rich.text import Text

from flowtrace.diff import DiffReport, Divergence, diff_files
from flowtrace.diff.text import printable

from .navigator import Navigator

__all__ = ["Comparison", "compare_files"]

#: Divergences the debugger can step through (the report counts them all).
MAX_DIVERGENCES = 10_000

Side = Literal["A", "B"]


def compare_files(a_path: str, b_path: str) -> DiffReport:
    """The report the debugger steps through: the first run of each file, at the
    ``scheduling`` level (the events the debugger shows, loop events aside)."""
    return diff_files(
        a_path, b_path, a_run="1", b_run="1", level="scheduling", limit=MAX_DIVERGENCES
    )


@dataclass
class Comparison:
    """Run A and run B, their divergences, and which side is shown."""

    report: DiffReport
    a: Navigator
    b: Navigator
    b_name: str
    side: Side = "A"
    index: int | None = None
    _seqs: dict[Side, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for side, nav in (("A", self.a), ("B", self.b)):
            seqs = []
            for d in self.report.divergences:
                seq = d.a_seq if side == "A" else d.b_seq
                seqs.append(nav.replay.clamp(seq if seq is not None else nav.replay.last_seq))
            self._seqs[side] = seqs  # type: ignore[index]

    @property
    def nav(self) -> Navigator:
        """The navigator of the side shown."""
        return self.a if self.side == "A" else self.b

    def seq_of(self, index: int, side: Side | None = None) -> int:
        return self._seqs[side or self.side][index]

    def first(self) -> bool:
        """Move side A to the first divergence (where the debugger opens)."""
        if not self.report.divergences:
            self.a.message = (
                f"the runs agree at the {self.report.level} level (against {self.b_name})"
            )
            return False
        return self._go(0)

    def _go(self, index: int) -> bool:
        self.index = index
        d = self.report.divergences[index]
        moved = self.nav.go(self.seq_of(index), why=f"divergence {index + 1}")
        self.nav.message = (
            f"divergence {index + 1} of {self.report.divergence_count} "
            f"({d.kind}): {printable(d.where())}  (v/V: next/previous, "
            "a: other run)"
        )
        return moved

    def step(self, forward: bool) -> bool:
        """The next (previous) divergence after (before) the cursor on the side shown."""
        seqs = self._seqs[self.side]
        if not seqs:
            self.nav.message = "no divergence: the runs agree"
            return False
        cursor = self.nav.cursor
        current = self.index
        if current is not None and seqs[current] == cursor:
            target = current + (1 if forward else -1)
        elif forward:
            target = bisect.bisect_right(seqs, cursor)
        else:
            target = bisect.bisect_left(seqs, cursor) - 1
        if not 0 <= target < len(seqs):
            self.nav.message = "no divergence " + ("ahead" if forward else "behind")
            return False
        return self._go(target)

    def toggle(self) -> Navigator:
        """Show the other run, at the same divergence when at one."""
        self.side = "B" if self.side == "A" else "A"
        if self.index is not None:
            self._go(self.index)
        else:
            self.nav.message = f"showing run {self.side}"
        return self.nav

    def at_cursor(self) -> Divergence | None:
        """The divergence whose first event is under the cursor, if any."""
        seqs = self._seqs[self.side]
        cursor = self.nav.cursor
        if self.index is not None and seqs and seqs[self.index] == cursor:
            return self.report.divergences[self.index]
        k = bisect.bisect_left(seqs, cursor)
        if k < len(seqs) and seqs[k] == cursor:
            return self.report.divergences[k]
        return None

    def status(self) -> str:
        count = self.report.divergence_count
        if not count:
            return f"against {self.b_name}: the runs agree"
        where = f"{self.index + 1}/{count}" if self.index is not None else f"{count}"
        shown = f"B ({printable(self.b_name)})" if self.side == "B" else "A"
        return f"showing {shown}, divergence {where} (v next, a other run)"

    def details(self, d: Divergence) -> Text:
        """Both sides of a divergence, for the inspector."""
        text = Text(
            f"divergence {d.index + 1} of {self.report.divergence_count}: {d.kind}",
            style="bold yellow",
        )
        text.append(f" — {printable(d.where())}\n")
        for label, start, lines, count, after, style in (
            ("A", d.a_start, d.a_lines, d.a_count, d.a_after, "red"),
            ("B", d.b_start, d.b_lines, d.b_count, d.b_after, "green"),
        ):
            if not count:
                text.append(
                    f"{label}        (nothing here; goes on with: "
                    f"{printable(after or 'the end')})\n",
                    style=style,
                )
                continue
            for k, line in enumerate(lines[:4]):
                text.append(f"{label} {start + k:>6} {printable(line)}\n", style=style)
            if count > 4:
                text.append(f"{label}        … {count - 4} more line(s)\n", style=style)
        return text
