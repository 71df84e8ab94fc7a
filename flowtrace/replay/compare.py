"""What differs between two states, node by node (the debugger's diff of two
positions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowtrace.events import ErrorInfo

from .state import State
from .views import Change, StateDiff, format_generation, format_values

__all__ = ["diff_states"]


def diff_states(a: State, b: State) -> StateDiff:
    """Node by node, what differs between two states (status, generation, values…)."""
    changes: list[Change] = []
    ids = [*a._nodes, *(n for n in b._nodes if n not in a._nodes)]
    for n in ids:
        na, nb = a._nodes.get(n), b._nodes.get(n)
        if na is None or nb is None:
            changes.append(Change(n, "exists", str(na is not None), str(nb is not None)))
            continue
        for name, fmt in _DIFF_FIELDS:
            va, vb = getattr(na, name), getattr(nb, name)
            if va != vb:
                changes.append(Change(n, name, fmt(va), fmt(vb)))
    return StateDiff(
        a.seq if a.seq is not None else -1,
        b.seq if b.seq is not None else -1,
        tuple(changes),
        tuple(a.queue),
        tuple(b.queue),
    )


def _fmt_error(v: ErrorInfo | None) -> str:
    return "-" if v is None else f"{v.type}: {v.message}"


_DIFF_FIELDS: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("status", str),
    ("run_level", str),
    ("generation", format_generation),
    ("evaluating", format_generation),
    ("evaluations", str),
    ("output", format_values),
    ("item", format_values),
    ("defaulted_ports", str),
    ("error", _fmt_error),
)
