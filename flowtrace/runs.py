"""Grouping a trace's events by flow run: one helper for every reader.

A trace file, a capture or a live stream may interleave the events of several runs
(a script that runs flows from threads); every tool that shows runs groups them the
same way: by ``run_id``, runs in the order of their first event, each run's events in
``seq`` order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

__all__ = ["events_by_run"]


class _RunEvent(Protocol):
    @property
    def run_id(self) -> str: ...
    @property
    def seq(self) -> int: ...


E = TypeVar("E", bound=_RunEvent)


def events_by_run(events: Iterable[E]) -> dict[str, list[E]]:
    """``run_id -> events`` in order of first appearance, each list in ``seq`` order.

    Events of one run normally arrive in order already; sorting is then linear
    (Timsort finds the single run), so the guarantee costs nothing in the usual case.
    """
    runs: dict[str, list[E]] = {}
    for event in events:
        bucket = runs.get(event.run_id)
        if bucket is None:
            bucket = runs[event.run_id] = []
        bucket.append(event)
    for bucket in runs.values():
        bucket.sort(key=_seq)
    return runs


def _seq(event: _RunEvent) -> int:
    return event.seq
