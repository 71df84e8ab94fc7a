"""``flowtrace diff``: where two runs of a flow part ways, and what differs.

Because flowtrace's event order is deterministic, two runs of the same program agree
line for line in their canonical rendering (:mod:`flowtrace.testing.render`) until the
program, its inputs or its dependencies make them differ. This package lines the two
renderings up with a real sequence diff (:mod:`~flowtrace.diff.align`), names the
first divergence and every other one, and compares what the runs did per node
(:mod:`~flowtrace.diff.facts`): evaluations, values, errors, cycle breaks,
cancellations and time.

* :func:`diff_files` — two trace files (or two runs of one file);
* :func:`diff_events` — two runs already in memory;
* :class:`~flowtrace.diff.model.DiffReport` — the result; ``to_json()`` for scripts;
* :func:`~flowtrace.diff.text.first_divergence` — the same over two canonical texts
  (what a failed snapshot test has).

No terminal code lives here: ``flowtrace/_cli/diff.py`` prints reports, the debugger
(``flowtrace tui A --against B``) steps through them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from flowtrace.diff.collect import Irregular, RunChoiceError, Side, load_sides, sides_from_events
from flowtrace.diff.model import DiffReport, Divergence
from flowtrace.diff.report import DEFAULT_MIN_DELTA_NS, DEFAULT_SLOWER, compare
from flowtrace.events import Event

__all__ = [
    "DiffReport",
    "Divergence",
    "RunChoiceError",
    "diff_files",
    "diff_events",
    "load_pair",
    "DEFAULT_SLOWER",
]


def load_pair(
    a_path: str,
    b_path: str,
    *,
    a_run: str | None = None,
    b_run: str | None = None,
    level: str = "scheduling",
    lenient: bool = False,
    raw: bool = True,
) -> tuple[Side, Side]:
    """The two runs to compare; one pass over the file when both are in the same one."""
    if _same_file(a_path, b_path):
        a, b = load_sides(a_path, [a_run, b_run], level, lenient=lenient, raw=raw)
        return a, b
    (a,) = load_sides(a_path, [a_run], level, lenient=lenient, raw=raw)
    (b,) = load_sides(b_path, [b_run], level, lenient=lenient, raw=raw)
    return a, b


def diff_files(
    a_path: str,
    b_path: str,
    *,
    a_run: str | None = None,
    b_run: str | None = None,
    level: str = "scheduling",
    slower: float = DEFAULT_SLOWER,
    timing_checked: bool = False,
    min_delta_ns: int = DEFAULT_MIN_DELTA_NS,
    lenient: bool = False,
    limit: int = 50,
    context: int = 3,
) -> DiffReport:
    """Compare run ``a_run`` of ``a_path`` with run ``b_run`` of ``b_path`` (``None``:
    the file's only run; a number counts runs from 1; else a run id).

    Raises :class:`~flowtrace.tracefile.TraceFormatError` for a damaged file,
    :class:`RunChoiceError` when a run is not there, ``OSError`` for a missing one."""
    raw = True
    while True:
        a, b = load_pair(
            a_path, b_path, a_run=a_run, b_run=b_run, level=level, lenient=lenient, raw=raw
        )
        try:
            return compare(
                a,
                b,
                slower=slower,
                timing_checked=timing_checked,
                min_delta_ns=min_delta_ns,
                limit=limit,
                context=context,
            )
        except Irregular:
            if not raw:
                raise
            raw = False  # a key that does not decode: let the reader judge the file


def diff_events(
    a_events: Sequence[Event],
    b_events: Sequence[Event],
    *,
    level: str = "scheduling",
    a_run: str | None = None,
    b_run: str | None = None,
    slower: float = DEFAULT_SLOWER,
    timing_checked: bool = False,
    min_delta_ns: int = DEFAULT_MIN_DELTA_NS,
    limit: int = 50,
) -> DiffReport:
    """Compare two runs given as events (each sequence: one run, or ``a_run``/``b_run``
    picks one)."""
    (a,) = sides_from_events(a_events, [a_run], level, path="A")
    (b,) = sides_from_events(b_events, [b_run], level, path="B")
    return compare(
        a, b, slower=slower, timing_checked=timing_checked, min_delta_ns=min_delta_ns, limit=limit
    )


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
